namespace Containers.Tests.Cli;

/// <summary><c>containers network ...</c> and <c>run --network --network-alias</c>, as a user types them.</summary>
public sealed class CliNetworkTests : IAsyncLifetime
{
    private readonly TestEngine t = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await t.DisposeAsync();

    private Task<(int Code, string Stdout, string Stderr)> Cli(params string[] args) => CliRunner.RunAsync(t, args);

    [Fact]
    public async Task Network_lifecycle_and_name_resolution_through_the_cli()
    {
        var create = await Cli("network", "create", "--subnet", "10.231.40.0/24", "--label", "team=a", "backend");
        Assert.Equal(0, create.Code);
        Assert.Matches("^[0-9a-f]{64}\n$", create.Stdout);
        var overlap = await Cli("network", "create", "--subnet", "10.231.40.0/25", "other");
        Assert.NotEqual(0, overlap.Code);
        Assert.Contains("overlaps with network backend", overlap.Stderr, StringComparison.Ordinal);

        var ls = await Cli("network", "ls");
        Assert.Contains("backend", ls.Stdout, StringComparison.Ordinal);
        Assert.Contains("10.231.40.0/24", ls.Stdout, StringComparison.Ordinal);

        var run = await Cli("run", "-d", "--name", "db", "--network", "backend", "--network-alias", "database", "--ip", "10.231.40.50", "--rootfs", TestRootfs.Path, "sleep", "60");
        Assert.Equal(0, run.Code);
        var lookup = await Cli("run", "--rm", "--network", "backend", "--rootfs", TestRootfs.Path, "nslookup", "database");
        Assert.Equal(0, lookup.Code);
        Assert.Contains("Address: 10.231.40.50", lookup.Stdout, StringComparison.Ordinal);

        var inspect = await Cli("network", "inspect", "backend");
        Assert.Contains("\"Subnet\": \"10.231.40.0/24\"", inspect.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"IPv4Address\": \"10.231.40.50/24\"", inspect.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"team\": \"a\"", inspect.Stdout, StringComparison.Ordinal);

        var busy = await Cli("network", "rm", "backend");
        Assert.Equal(1, busy.Code);
        Assert.Contains("has active endpoints (db)", busy.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await Cli("network", "create", "side")).Code);
        Assert.Equal(0, (await Cli("network", "connect", "--alias", "sidekick", "side", "db")).Code);
        var container = await Cli("inspect", "db");
        Assert.Contains("\"side\": {", container.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"Interface\": \"eth1\"", container.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Cli("network", "disconnect", "side", "db")).Code);
        var notConnected = await Cli("network", "disconnect", "side", "db");
        Assert.Contains("is not connected to network side", notConnected.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await Cli("rm", "-f", "db")).Code);
        Assert.Equal(0, (await Cli("network", "rm", "backend")).Code);
        var prune = await Cli("network", "prune", "-f");
        Assert.Contains("side", prune.Stdout, StringComparison.Ordinal);
        Assert.Equal(["bridge"], t.Engine.Networks.List().Select(n => n.Name));
    }
}
