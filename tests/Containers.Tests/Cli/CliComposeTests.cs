using Containers.Tests.Images;

namespace Containers.Tests.Cli;

/// <summary><c>containers compose ...</c> as a user types it.</summary>
public sealed class CliComposeTests : IAsyncLifetime
{
    private readonly TestEngine t = new();
    private readonly string dir = Directory.CreateTempSubdirectory("cli-compose-").FullName;

    public async Task InitializeAsync() => await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:cli-compose");

    public async Task DisposeAsync()
    {
        await t.DisposeAsync();
        Directory.Delete(dir, true);
    }

    private Task<(int Code, string Stdout, string Stderr)> Cli(params string[] args) => CliRunner.RunAsync(t, ["compose", "--project-directory", dir, .. args]);

    [Fact]
    public async Task Up_ps_logs_exec_run_config_and_down_through_the_cli()
    {
        File.WriteAllText(Path.Combine(dir, "compose.yaml"), """
            name: clidemo
            services:
              api:
                image: localhost/busybox:cli-compose
                command: sh -c "echo api listening; exec httpd -f -p 3000 -h /var/www"
                stop_grace_period: 1s
                environment:
                  - GREETING=${GREETING:-hello}
              front:
                image: localhost/busybox:cli-compose
                command: sh -c "echo front up; exec sleep 300"
                stop_grace_period: 1s
                depends_on: [api]
            """);

        var up = await Cli("up", "-d");
        Assert.True(up.Code == 0, up.Stderr);
        Assert.Contains("Container clidemo-api-1  Started", up.Stderr, StringComparison.Ordinal);

        var ps = await Cli("ps", "--format", "json");
        Assert.Contains("\"Name\":\"clidemo-api-1\"", ps.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"Service\":\"front\"", ps.Stdout, StringComparison.Ordinal);

        var exec = await Cli("exec", "-T", "front", "sh", "-c", "nslookup api >/dev/null && echo resolved; echo $HOSTNAME");
        Assert.True(exec.Code == 0, exec.Stderr);
        Assert.Contains("resolved", exec.Stdout, StringComparison.Ordinal);

        var run = await Cli("run", "--rm", "api", "sh", "-c", "echo one-off $GREETING");
        Assert.Equal(0, run.Code);
        Assert.Contains("one-off hello", run.Stdout, StringComparison.Ordinal);

        var logs = await Cli("logs", "--no-color");
        Assert.Contains("clidemo-api-1    | api listening", logs.Stdout, StringComparison.Ordinal);
        Assert.Contains("clidemo-front-1  | front up", logs.Stdout, StringComparison.Ordinal);

        var again = await Cli("up", "-d");
        Assert.Contains("Container clidemo-api-1  Running", again.Stderr, StringComparison.Ordinal);

        var config = await Cli("config");
        Assert.Contains("GREETING: hello", config.Stdout, StringComparison.Ordinal);

        var stop = await Cli("stop", "front");
        Assert.Equal(0, stop.Code);
        var start = await Cli("start");
        Assert.Contains("Container clidemo-front-1  Started", start.Stderr, StringComparison.Ordinal);

        var down = await Cli("down", "-v");
        Assert.Equal(0, down.Code);
        Assert.Empty(t.Engine.List(all: true));
        Assert.DoesNotContain(t.Engine.Networks.List(), n => n.Name == "clidemo_default");
    }

    [Fact]
    public async Task Attached_up_follows_the_logs_and_exits_with_the_code_of_the_named_service()
    {
        File.WriteAllText(Path.Combine(dir, "compose.yaml"), """
            name: attached
            services:
              server:
                image: localhost/busybox:cli-compose
                command: sh -c "echo serving; exec sleep 300"
                stop_grace_period: 1s
              tests:
                image: localhost/busybox:cli-compose
                command: sh -c "sleep 0.5; echo running tests; exit 7"
                depends_on: [server]
            """);

        var up = await Cli("up", "--abort-on-container-exit", "--exit-code-from", "tests", "--no-color");

        Assert.Equal(7, up.Code);
        Assert.Contains("attached-tests-1   | running tests", up.Stdout, StringComparison.Ordinal);
        Assert.Contains("attached-server-1  | serving", up.Stdout, StringComparison.Ordinal);
        Assert.Contains("Aborting on container exit", up.Stderr, StringComparison.Ordinal);
        Assert.All(t.Engine.List(all: true), c => Assert.False(c.IsActive, c.Name + " still runs"));
        Assert.Equal(0, (await Cli("down")).Code);
    }

    [Fact]
    public async Task A_bad_file_is_reported_with_file_line_and_path()
    {
        File.WriteAllText(Path.Combine(dir, "compose.yaml"), "services:\n  web:\n    image: busybox\n    ports: [{target: 80, published: 1, bogus: x}]\n");
        var r = await Cli("config");
        Assert.NotEqual(0, r.Code);
        Assert.Contains("compose.yaml:4", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("services.web.ports[0].bogus", r.Stderr, StringComparison.Ordinal);
    }
}
