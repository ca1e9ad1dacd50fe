namespace Containers.Tests.Cli;

/// <summary>The command line's help, errors, suggestions and completions, as a user at a shell sees them.</summary>
public sealed class CliHelpTests : IAsyncLifetime
{
    private readonly TestEngine t = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await t.DisposeAsync();

    [Theory]
    [InlineData("Usage:  containers [OPTIONS] COMMAND", "  compose       Define and run multi-container applications", "--help")]
    [InlineData("Usage:  containers run [OPTIONS] IMAGE [COMMAND] [ARG...]", "  -d, --detach ", "run", "--help")]
    [InlineData("Usage:  containers compose up [OPTIONS] [SERVICE...]", "      --wait-timeout int ", "compose", "up", "--help")]
    [InlineData("Usage:  containers network COMMAND", "  create      Create a network", "network")]
    [InlineData("Usage:  containers network create [OPTIONS] NETWORK", "      --internal ", "network", "create", "-h")]
    [InlineData("Usage:  containers cluster up [OPTIONS]", "(default 6443)", "cluster", "up", "--help")]
    [InlineData("Aliases:\n  containers network ls, containers network list", "  -q, --quiet ", "network", "ls", "--help")]
    public async Task Every_verb_prints_docker_style_help_and_exits_0(string usage, string line, params string[] args)
    {
        var r = await Cli(args);
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Contains(usage, r.Stdout, StringComparison.Ordinal);
        Assert.Contains(line, r.Stdout, StringComparison.Ordinal);
        Assert.Equal("", r.Stderr);
        Assert.Empty(Directory.GetDirectories(Path.Combine(t.Root, "containers"))); // help makes nothing
    }

    [Theory]
    [InlineData("unknown command \"netwrok\" for \"containers\"", "Did you mean this?\n\tnetwork", "netwrok", "ls")]
    [InlineData("unknown command \"lss\" for \"containers network\"", "\tls", "network", "lss")]
    [InlineData("unknown flag: --rmm", "\t--rm\nSee 'containers run --help'.", "run", "--rmm", "busybox")]
    [InlineData("unknown flag: --detatch", "\t--detach", "compose", "up", "--detatch")]
    [InlineData("flag needs an argument: --name", "See 'containers run --help'.", "run", "--name")]
    [InlineData("flag needs an argument: -h", "", "run", "-h")] // run's -h is --hostname, as docker's
    [InlineData("invalid argument \"maybe\" for \"--rm\" flag", "", "run", "--rm=maybe", "busybox")]
    public async Task Usage_errors_name_the_flag_or_command_suggest_the_nearest_and_exit_125(string message, string more, params string[] args)
    {
        var r = await Cli(args);
        Assert.Equal(125, r.Code);
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.Contains(more, r.Stderr, StringComparison.Ordinal);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task Options_after_the_image_belong_to_the_containers_command()
    {
        var r = await Cli("run", "--rm", "--network", "none", "--detach=false", "--rootfs", TestRootfs.Path, "echo", "--rm", "-d", "-h");
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Equal("--rm -d -h\n", r.Stdout);
    }

    [Fact]
    public async Task Completions_come_from_the_same_verbs()
    {
        Assert.Equal("connect\ncreate\n", (await Cli("__complete", "network", "c")).Stdout);
        var flags = (await Cli("__complete", "run", "--net")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["--net", "--net-alias", "--network", "--network-alias"], flags);
        Assert.Equal("", (await Cli("__complete", "run", "--name", "")).Stdout); // a value: the shell completes files
        var bash = await Cli("completion", "bash");
        Assert.Equal(0, bash.Code);
        Assert.Contains("complete -o filenames -F _containers containers", bash.Stdout, StringComparison.Ordinal);
        Assert.Contains("#compdef containers", (await Cli("completion", "zsh")).Stdout, StringComparison.Ordinal);
        var fish = await Cli("completion", "fish");
        Assert.Equal(125, fish.Code);
        Assert.Contains("unknown shell 'fish': bash or zsh", fish.Stderr, StringComparison.Ordinal);
    }

    private Task<(int Code, string Stdout, string Stderr)> Cli(params string[] args) => CliRunner.RunAsync(t, args);
}
