using System.Diagnostics;
using Containers.Compose;
using Containers.Samples;
using Containers.Testing;

namespace Containers.Benchmarks;

/// <summary>
/// <c>fixture-cycle COURSE_DIR RUNS ROOT</c>: how long a test class waits for the course stack (3 services, ready
/// when the backend answers), cold (images built) and warm (cached); then a fresh seeded database per test, by the
/// fixture's copy-on-write reset against recreating the database and seeding it again.
/// </summary>
internal static class FixtureCycle
{
    public static async Task<int> RunAsync(string courseDir, int runs, string root)
    {
        TestRun.Options = TestRun.Options with { Root = root };
        var engine = TestRun.Engine;
        await CourseBaseImage.EnsureAsync(engine).ConfigureAwait(false);
        SeededStack.File = Path.Combine(courseDir, "compose.yaml");
        // cold: the stack's own images are built again (the base image stays: it is made once per machine)
        foreach (var i in engine.Images.List().Where(i => i.Names.Any(n => n.Contains("/course-", StringComparison.Ordinal) && !n.Contains("course-base", StringComparison.Ordinal))))
        {
            engine.Images.Remove(i.Id.ToString(), force: true);
        }

        var sw = Stopwatch.StartNew();
        var cold = new SeededStack();
        await cold.InitializeAsync().ConfigureAwait(false);
        Console.WriteLine($"cold (3 images built, stack ready, seeded): {sw.ElapsedMilliseconds} ms");
        await cold.DisposeAsync().ConfigureAwait(false);

        var warm = new List<double>();
        var seeded = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            sw.Restart();
            var s = new Plain();
            await s.InitializeAsync().ConfigureAwait(false);
            warm.Add(sw.Elapsed.TotalMilliseconds);
            await s.DisposeAsync().ConfigureAwait(false);
            sw.Restart();
            var t = new SeededStack();
            await t.InitializeAsync().ConfigureAwait(false);
            seeded.Add(sw.Elapsed.TotalMilliseconds);
            await t.DisposeAsync().ConfigureAwait(false);
        }

        Console.WriteLine($"warm (images cached, all 3 services ready): {Median(warm)}");
        Console.WriteLine($"warm and seeded (5,000 rows + 64 MiB, then frozen as the seed): {Median(seeded)}");

        var fixture = new SeededStack();
        await fixture.InitializeAsync().ConfigureAwait(false);
        var reset = new List<double>();
        var reseed = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            await fixture["database"].ExecAsync(["sh", "-c", "echo dirty > /var/lib/db/dirty; rm -f /var/lib/db/row-1*"]).ConfigureAwait(false);
            sw.Restart();
            await fixture.ResetAsync().ConfigureAwait(false);
            reset.Add(sw.Elapsed.TotalMilliseconds);

            // the alternative: a new database container over an emptied volume, seeded again
            sw.Restart();
            await fixture.Stack.Compose.UpAsync(fixture.Stack.Project, new UpOptions { Services = ["database"], NoDeps = true, ForceRecreate = true, InProcess = true }).ConfigureAwait(false);
            await fixture.Stack.Compose.WaitForAsync(fixture.Stack.Project, "database", "service_healthy", TimeSpan.FromMinutes(1)).ConfigureAwait(false);
            await SeededStack.Seed(fixture.Stack).ConfigureAwait(false);
            reseed.Add(sw.Elapsed.TotalMilliseconds);
        }

        Console.WriteLine($"fresh seeded database per test: copy-on-write reset {Median(reset)}; recreate and re-seed {Median(reseed)}");
        await fixture.DisposeAsync().ConfigureAwait(false);
        await engine.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    private static string Median(List<double> times)
    {
        times.Sort();
        return $"median {times[times.Count / 2]:0} ms (min {times[0]:0}, max {times[^1]:0}, n={times.Count})";
    }

    /// <summary>The stack with no seed: the test-class start-up alone.</summary>
    private sealed class Plain : ComposeFixture
    {
        protected override string ComposeFile => SeededStack.File;

        protected override IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["FRONTEND_PORT"] = "0", ["BACKEND_PORT"] = "0" };

        protected override IReadOnlyDictionary<string, WaitStrategy> WaitStrategies => new Dictionary<string, WaitStrategy>
        {
            ["backend"] = WaitStrategy.ForHttp("/cgi-bin/health", 3000).WithInterval(TimeSpan.FromMilliseconds(20)),
            ["frontend"] = WaitStrategy.ForHttp("/", 8080).WithInterval(TimeSpan.FromMilliseconds(20)),
        };
    }

    private sealed class SeededStack : ComposeFixture
    {
        public static string File { get; set; } = "";

        protected override string ComposeFile => File;

        protected override IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["FRONTEND_PORT"] = "0", ["BACKEND_PORT"] = "0" };

        protected override IReadOnlyDictionary<string, WaitStrategy> WaitStrategies => new Dictionary<string, WaitStrategy>
        {
            ["backend"] = WaitStrategy.ForHttp("/cgi-bin/health", 3000).WithInterval(TimeSpan.FromMilliseconds(20)),
            ["frontend"] = WaitStrategy.ForHttp("/", 8080).WithInterval(TimeSpan.FromMilliseconds(20)),
        };

        protected override IEnumerable<string> SeededServices => ["database"];

        protected override Task SeedAsync(ComposeStack stack) => Seed(stack);

        /// <summary>A seed of some weight: 5,000 rows and a 64 MiB table file, written inside the database container.</summary>
        public static Task Seed(ComposeStack stack) => stack.Services["database"].ExecAsync(["sh", "-c",
            "cd /var/lib/db && i=0; while [ $i -lt 5000 ]; do echo item-$i > row-$i; i=$((i+1)); done; dd if=/dev/zero of=table bs=1M count=64 2>/dev/null"]);
    }
}
