using Containers.Tests.Images;

namespace Containers.Tests.Cli;

/// <summary>The image commands of <c>containers</c>, against the real registry.</summary>
public sealed class CliImageTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IAsyncLifetime
{
    private readonly TestEngine t = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await t.DisposeAsync();

    private Task<(int Code, string Stdout, string Stderr)> Cli(params string[] args) => CliRunner.RunAsync(t, args);

    [Fact]
    public async Task Import_tag_push_rmi_run_pulls_history_save_load_commit_prune()
    {
        var host = fixture.Registry.Host;
        var import = await Cli("import", "-c", "CMD [\"echo\", \"from image\"]", "-c", "ENV PATH=/bin", TestImages.BusyboxTar, "localhost/cli:1");
        Assert.True(import.Code == 0, import.Stderr);
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", import.Stdout);

        Assert.Equal(0, (await Cli("tag", "localhost/cli:1", $"{host}/cli/busybox:1")).Code);
        var images = await Cli("images");
        Assert.Contains("localhost/cli", images.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{host}/cli/busybox", images.Stdout, StringComparison.Ordinal);

        var push = await Cli("push", $"{host}/cli/busybox:1");
        Assert.True(push.Code == 0, push.Stderr);
        Assert.Matches("1: digest: sha256:[0-9a-f]{64} size: [0-9]+", push.Stdout);

        Assert.Contains("Untagged:", (await Cli("rmi", $"{host}/cli/busybox:1")).Stdout, StringComparison.Ordinal);

        // run pulls what is missing, with docker's messages
        var run = await Cli("run", "--rm", $"{host}/cli/busybox:1");
        Assert.True(run.Code == 0, run.Stderr);
        Assert.Equal("from image\n", run.Stdout);
        Assert.Contains("Unable to find image", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("Status: Downloaded newer image", run.Stderr, StringComparison.Ordinal);
        Assert.Equal("override\n", (await Cli("run", "--rm", $"{host}/cli/busybox:1", "echo", "override")).Stdout);

        var inspect = await Cli("image", "inspect", "localhost/cli:1");
        Assert.Contains("\"Cmd\": [", inspect.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"RepoTags\": [", inspect.Stdout, StringComparison.Ordinal);
        Assert.Contains("import", (await Cli("history", "localhost/cli:1")).Stdout, StringComparison.Ordinal);

        var archive = Path.Combine(t.Root, "cli.tar");
        Assert.Equal(0, (await Cli("save", "-o", archive, "localhost/cli:1")).Code);
        Assert.Equal(0, (await Cli("rmi", "localhost/cli:1")).Code);
        Assert.Equal("Loaded image: localhost/cli:1\n", (await Cli("load", "-i", archive)).Stdout);

        Assert.Equal(0, (await Cli("run", "--name", "changed", "localhost/cli:1", "sh", "-c", "echo x > /root/marker")).Code);
        var commit = await Cli("commit", "-m", "marker", "-c", "CMD [\"cat\", \"/root/marker\"]", "changed", "localhost/cli:2");
        Assert.True(commit.Code == 0, commit.Stderr);
        Assert.Equal("x\n", (await Cli("run", "--rm", "localhost/cli:2")).Stdout);
        Assert.Equal(0, (await Cli("rm", "changed")).Code);

        var missing = await Cli("run", "--rm", $"{host}/cli/nothing:here");
        Assert.Equal(125, missing.Code);
        Assert.True(missing.Stderr.Contains("cli/nothing", StringComparison.Ordinal), missing.Stderr);
        var bad = await Cli("pull", "Busybox");
        Assert.Equal(125, bad.Code);
        Assert.Contains("must be lowercase", bad.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await Cli("rmi", "localhost/cli:2", "localhost/cli:1", $"{host}/cli/busybox:1")).Code);
        Assert.Contains("Total reclaimed space", (await Cli("image", "prune", "-a", "-f")).Stdout, StringComparison.Ordinal);
        Assert.Equal("", (await Cli("images", "-q")).Stdout);
    }
}
