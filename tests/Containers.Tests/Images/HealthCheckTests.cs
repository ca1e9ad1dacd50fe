using Containers.Images.Oci;
using Containers.Runtime;

namespace Containers.Tests.Images;

/// <summary>Health checks run in the container, from the image's config or the spec, reported in the state.</summary>
public sealed class HealthCheckTests
{
    private static async Task<HealthState> WaitForAsync(Container c, string status)
    {
        for (var i = 0; i < 200; i++)
        {
            if (c.State.Health is { } h && h.Status == status)
            {
                return h;
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"health never became {status}: {c.State.Health}");
    }

    [Fact]
    public async Task The_images_healthcheck_runs_and_turns_healthy()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/healthy:1", new ContainerConfig
        {
            Env = ["PATH=/bin"],
            Cmd = ["sh", "-c", "sleep 0.3; touch /tmp/ready; exec sleep 30"],
            Healthcheck = new HealthcheckConfig { Test = ["CMD-SHELL", "test -f /tmp/ready && echo ready"], Interval = 100_000_000, Retries = 2 },
        });
        await using var c = await t.Engine.FromImage("localhost/healthy:1").WithNetwork("none").StartAsync();
        Assert.Equal("starting", c.State.Health?.Status);
        var health = await WaitForAsync(c, "healthy");
        Assert.Equal(0, health.FailingStreak);
        Assert.Contains(health.Log, l => l.ExitCode == 0 && l.Output == "ready\n");
        Assert.InRange(health.Log.Length, 1, 5);
        await c.StopAsync(TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Consecutive_failures_make_it_unhealthy_and_none_disables_the_images_check()
    {
        await using var t = new TestEngine();
        await using var c = await t.Busybox("sleep", "30").WithNetwork("none")
            .WithHealthCheck(new HealthCheck { Test = ["CMD", "sh", "-c", "echo nope >&2; exit 3"], Interval = TimeSpan.FromMilliseconds(100), Retries = 3 })
            .StartAsync();
        var health = await WaitForAsync(c, "unhealthy");
        Assert.True(health.FailingStreak >= 3);
        Assert.Contains(health.Log, l => l.ExitCode == 1 && l.Output == "nope\n");
        await c.StopAsync(TimeSpan.FromSeconds(1));

        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/checked:1", new ContainerConfig
        {
            Env = ["PATH=/bin"],
            Cmd = ["sleep", "30"],
            Healthcheck = new HealthcheckConfig { Test = ["CMD", "false"], Interval = 50_000_000 },
        });
        await using var none = await t.Engine.FromImage("localhost/checked:1").WithNetwork("none").WithHealthCheck(HealthCheck.None).StartAsync();
        await Task.Delay(200);
        Assert.Null(none.State.Health);
        await none.StopAsync(TimeSpan.FromSeconds(1));
    }
}
