using Containers;
using Containers.Compose;
using Containers.Samples;
using Containers.Testing;

namespace CourseStack.Tests;

/// <summary>
/// The course stack for a test class: built and brought up once under a project name of its own (ephemeral host
/// ports, so several copies run side by side), ready when the backend answers its health endpoint, seeded with two
/// orders, and reset to that seed by <see cref="ComposeFixture.ResetAsync"/> between tests.
/// </summary>
public sealed class CourseStackFixture : ComposeFixture
{
    protected override string ComposeFile => Path.Combine(AppContext.BaseDirectory, "CourseStack", "compose.yaml");

    // ephemeral host ports: stacks of parallel test classes never clash
    protected override IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["FRONTEND_PORT"] = "0", ["BACKEND_PORT"] = "0" };

    protected override IReadOnlyDictionary<string, WaitStrategy> WaitStrategies => new Dictionary<string, WaitStrategy>
    {
        ["backend"] = WaitStrategy.ForHttp("/cgi-bin/health", 3000, r => r.IsSuccessStatusCode).WithTimeout(TimeSpan.FromSeconds(30)),
        ["frontend"] = WaitStrategy.ForHttp("/", 8080).WithTimeout(TimeSpan.FromSeconds(30)),
    };

    protected override IEnumerable<string> SeededServices => ["database"];

    protected override ContainerEngine Engine
    {
        get
        {
            CourseBaseImage.EnsureAsync(TestRun.Engine).GetAwaiter().GetResult();
            return TestRun.Engine;
        }
    }

    protected override async Task SeedAsync(ComposeStack stack)
    {
        using var http = new HttpClient(stack.Services["backend"].CreateHttpHandler());
        foreach (var item in new[] { "book", "pen" })
        {
            using var body = new StringContent(item + "\n");
            (await http.PostAsync(new Uri("http://backend:3000/cgi-bin/orders"), body)).EnsureSuccessStatusCode();
        }
    }
}
