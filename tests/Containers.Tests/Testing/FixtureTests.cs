using Containers.Compose;
using Containers.Testing;
using Containers.Tests.Images;

namespace Containers.Tests.Testing;

/// <summary>The xunit fixtures: wait strategies, logs on failure, the sweep of a killed run, copy-on-write reset of a seeded stack.</summary>
public sealed class FixtureTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("fixture-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    [Fact]
    public async Task Wait_strategies_for_log_port_http_and_health()
    {
        await using var t = new TestEngine();
        await using var c = await t.Busybox("sh", "-c", "sleep 0.3; echo server ready; touch /tmp/ok; exec httpd -f -p 8080 -h /var/www")
            // the file appears after 0.3 s: failures before it are in the start period, not three in a row that make the container unhealthy (a race on a loaded machine)
            .WithHealthCheck(new Containers.Runtime.HealthCheck { Test = ["CMD", "test", "-f", "/tmp/ok"], Interval = TimeSpan.FromMilliseconds(100), StartPeriod = TimeSpan.FromSeconds(10), StartInterval = TimeSpan.FromMilliseconds(100) })
            .StartAsync();

        await WaitStrategy.ForLogMessage("server ready").WaitAsync(c);
        await WaitStrategy.ForTcpPort(8080).WaitAsync(c);
        await WaitStrategy.ForHttp("/index.html", 8080, r => r.Content.Headers.ContentLength > 0).WaitAsync(c);
        await WaitStrategy.ForHealthy().WaitAsync(c);
        await WaitStrategy.Until((x, _) => Task.FromResult(x.State.Pid > 0)).WaitAsync(c);

        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => WaitStrategy.ForLogMessage("never printed").WithTimeout(TimeSpan.FromMilliseconds(500)).WaitAsync(c));
        Assert.Contains("no log message /never printed/ within 0.5 s", timeout.Message, StringComparison.Ordinal);
        var retries = await Assert.ThrowsAsync<TimeoutException>(() => WaitStrategy.ForTcpPort(9999).WithRetries(2).WithInterval(TimeSpan.FromMilliseconds(10)).WaitAsync(c));
        Assert.Contains("after 2 retries", retries.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_builders_wait_strategy_holds_the_start_until_ready_and_removes_a_container_that_never_is()
    {
        await using var t = new TestEngine();
        await using var c = await t.Busybox("sh", "-c", "sleep 0.3; echo server ready; exec httpd -f -p 8080 -h /var/www")
            .WithWaitStrategy(WaitStrategy.ForLogMessage("server ready"))
            .StartAsync();
        Assert.Contains(await c.GetLogsAsync(false, null).Select(l => l.Text).ToListAsync(), l => l.Contains("server ready", StringComparison.Ordinal));

        var never = await Assert.ThrowsAsync<TimeoutException>(() => t.Busybox("sleep", "30").WithName("never-ready")
            .WithWaitStrategy(WaitStrategy.ForTcpPort(8080).WithTimeout(TimeSpan.FromMilliseconds(600))).StartAsync());
        Assert.Contains("container never-ready: no TCP port 8080 within 0.6 s", never.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(t.Engine.List(all: true), s => s.Name == "never-ready");
    }

    [Fact]
    public async Task A_stack_that_never_gets_ready_fails_in_time_with_every_services_logs_and_leaves_nothing()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:fixture");
        File.WriteAllText(Path.Combine(dir, "compose.yaml"), """
            services:
              api:
                image: localhost/busybox:fixture
                command: sh -c "echo starting api; echo cannot open config >&2; exec sleep 300"
              cache:
                image: localhost/busybox:fixture
                command: sh -c "echo cache up; exec sleep 300"
            """);
        var fixture = new NeverReady(t.Engine, Path.Combine(dir, "compose.yaml"));

        var e = await Assert.ThrowsAsync<ContainerException>(fixture.InitializeAsync);

        Assert.Contains("no log message /listening/ within 1 s", e.Message, StringComparison.Ordinal);
        Assert.Contains("cannot open config", e.Message, StringComparison.Ordinal);
        Assert.Contains("cache up", e.Message, StringComparison.Ordinal);
        Assert.Empty(t.Engine.List(all: true));
        Assert.Equal(["bridge"], t.Engine.Networks.List().Select(n => n.Name));
    }

    [Fact]
    public async Task A_seeded_volume_is_reset_copy_on_write_without_reseeding()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:fixture");
        File.WriteAllText(Path.Combine(dir, "compose.yaml"), """
            services:
              db:
                image: localhost/busybox:fixture
                command: sh -c "mkdir -p /data; exec sleep 300"
                volumes: [data:/data]
            volumes:
              data:
            """);
        var fixture = new Seeded(t.Engine, Path.Combine(dir, "compose.yaml"));
        await fixture.InitializeAsync();
        try
        {
            var db = fixture["db"];
            Assert.Equal("row1\nrow2\n", (await db.ExecAsync(["cat", "/data/table"])).Stdout);
            await db.ExecAsync(["sh", "-c", "echo row3 >> /data/table; echo junk > /data/new; echo scratch > /tmp/scratch"]);
            Assert.Equal("row1\nrow2\nrow3\n", (await db.ExecAsync(["cat", "/data/table"])).Stdout);

            await fixture.ResetAsync();

            db = fixture["db"];
            Assert.Equal("row1\nrow2\n", (await db.ExecAsync(["cat", "/data/table"])).Stdout);
            Assert.NotEqual(0, (await db.ExecAsync(["test", "-e", "/data/new"])).ExitCode);
            Assert.NotEqual(0, (await db.ExecAsync(["test", "-e", "/tmp/scratch"])).ExitCode);
            Assert.Equal(1, fixture.Seeds);
        }
        finally
        {
            await fixture.DisposeAsync();
        }

        Assert.Empty(t.Engine.List(all: true));
        Assert.DoesNotContain(File.ReadAllText("/proc/self/mountinfo"), t.Root, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_sweep_removes_what_a_killed_run_left_and_keeps_its_own()
    {
        await using var t = new TestEngine();
        var dead = await t.Busybox("sleep", "60").WithLabel(TestRun.Label, "1-0").WithCgroupParent("test-run-1-0").StartAsync();   // pid 1 never started at tick 0
        var mine = await t.Busybox("sleep", "60").WithLabel(TestRun.Label, TestRun.Id).WithCgroupParent(TestRun.CgroupParent).StartAsync();
        var groups = Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, "containers-dotnet")).Where(Directory.Exists).ToArray();
        Assert.Contains(groups, g => Directory.Exists(Path.Combine(g, "test-run-1-0", dead.Id)));
        Assert.Contains(groups, g => Directory.Exists(Path.Combine(g, TestRun.CgroupParent, mine.Id)));
        t.Engine.Networks.Create("leftover", new Containers.Networking.NetworkCreateOptions { Labels = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add(TestRun.Label, "1-0") });

        Assert.Equal(2, TestRun.Sweep(t.Engine));

        Assert.Equal([mine.Id], t.Engine.List(all: true).Select(c => c.Id));
        Assert.DoesNotContain(groups, g => Directory.Exists(Path.Combine(g, "test-run-1-0")));
        Assert.DoesNotContain(t.Engine.Networks.List(), n => n.Name == "leftover");
        await dead.DisposeAsync();
        await mine.DisposeAsync();
        Assert.DoesNotContain(groups, g => Directory.Exists(Path.Combine(g, TestRun.CgroupParent))); // the last container takes its run's subtree along
        Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithCgroupParent("../escape").ToSpec()));
    }

    private sealed class NeverReady(ContainerEngine engine, string file) : ComposeFixture
    {
        protected override string ComposeFile => file;

        protected override ContainerEngine Engine => engine;

        protected override IReadOnlyDictionary<string, WaitStrategy> WaitStrategies => new Dictionary<string, WaitStrategy>
        {
            ["api"] = WaitStrategy.ForLogMessage("listening").WithTimeout(TimeSpan.FromSeconds(1)),
        };
    }

    private sealed class Seeded(ContainerEngine engine, string file) : ComposeFixture
    {
        public int Seeds { get; private set; }

        protected override string ComposeFile => file;

        protected override ContainerEngine Engine => engine;

        protected override IEnumerable<string> SeededServices => ["db"];

        protected override async Task SeedAsync(ComposeStack stack)
        {
            Seeds++;
            await stack.Services["db"].ExecAsync(["sh", "-c", "printf 'row1\\nrow2\\n' > /data/table"]);
        }
    }
}
