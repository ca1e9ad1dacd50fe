namespace Containers.Tests.Networking;

/// <summary>A network is found as dockerd finds one: by name, full ID or unique ID prefix (an Aspire app host names its network by full ID).</summary>
public sealed class NetworkLookupTests
{
    [Fact]
    public async Task A_container_joins_a_network_named_by_its_full_id_or_a_unique_prefix()
    {
        await using var t = new TestEngine();
        var net = t.Engine.Networks.Create("byid");
        foreach (string reference in new[] { net.Id, net.Id[..12] })
        {
            await using var c = await t.Busybox("sleep", "30").WithNetwork(reference, "web").StartAsync();
            var endpoint = Assert.Single(t.Engine.Get(c.Id).State.Networks);
            Assert.Equal(("byid", net.Id), (endpoint.Network, endpoint.NetworkId)); // recorded by the network's name, as docker shows it
            var peer = await t.RunAsync(t.Busybox("nslookup", "web").WithNetwork("byid"));
            Assert.Contains(endpoint.IPAddress, peer.Stdout, StringComparison.Ordinal); // its alias resolves on the network
            await c.StopAsync(TimeSpan.Zero);
        }

        Assert.Equal(net.Name, t.Engine.Networks.Get(net.Id[..5]).Name);
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Networks.Get("ab")); // too short to be a prefix
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Create(t.Busybox("true").WithNetwork("0000000000ff").ToSpec()));
    }
}
