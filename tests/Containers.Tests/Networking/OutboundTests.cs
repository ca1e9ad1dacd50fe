using System.Net;
using Containers.Networking;

namespace Containers.Tests.Networking;

/// <summary>
/// Outbound access as under docker: masquerade NAT from the default bridge and from user networks that are not
/// internal; internal networks and <c>--network none</c> reach nothing; the rules go with their network, and a bridge
/// that vanished has its rules swept by the next engine. The only host these tests reach is Debian's archive
/// (deb.debian.org over HTTP, as apt-get does), by name through the host's resolvers.
/// </summary>
public sealed class OutboundTests
{
    private const string Archive = "http://deb.debian.org/debian/dists/bookworm/Release";

    private static string Fetch(string url) => $"timeout 20 wget -q -O - {url} | head -3";

    [Fact]
    public async Task Containers_reach_the_package_archive_from_the_default_bridge_and_a_user_network()
    {
        await using var t = new TestEngine(hostResolvers: true);
        var net = t.Engine.Networks.Create("out");

        var onDefault = await t.RunAsync(t.Busybox("sh", "-c", Fetch(Archive)));
        var onUser = await t.RunAsync(t.Busybox("sh", "-c", "cat /etc/resolv.conf; " + Fetch(Archive)).WithNetwork("out"));

        Assert.Contains("Origin: Debian", onDefault.Stdout, StringComparison.Ordinal);
        Assert.Contains("Origin: Debian", onUser.Stdout, StringComparison.Ordinal);
        Assert.Contains($"nameserver {net.Gateway}", onUser.Stdout, StringComparison.Ordinal); // the name went through the embedded DNS
        Assert.True(TestEngine.HasBridgeRules(net.BridgeName));
        Assert.Contains($"-s {net.Subnet} ! -o {net.BridgeName}", TestEngine.NatRules(), StringComparison.Ordinal); // masquerade
    }

    [Fact]
    public async Task Internal_networks_and_network_none_reach_nothing_outside()
    {
        await using var t = new TestEngine(hostResolvers: true);
        var net = t.Engine.Networks.Create("sealed", new NetworkCreateOptions { Internal = true });
        var address = (await Dns.GetHostAddressesAsync("deb.debian.org")).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        var byAddress = $"http://{address}/debian/dists/bookworm/Release";

        var internalByName = await t.RunAsync(t.Busybox("sh", "-c", Fetch(Archive) + "; echo end").WithNetwork("sealed"));
        var internalByAddress = await t.RunAsync(t.Busybox("sh", "-c", Fetch(byAddress) + "; echo end").WithNetwork("sealed"));
        var none = await t.RunAsync(t.Busybox("sh", "-c", Fetch(byAddress) + "; echo end").WithNetwork("none"));

        foreach (var r in new[] { internalByName, internalByAddress, none })
        {
            Assert.Contains("end", r.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("Origin: Debian", r.Stdout, StringComparison.Ordinal);
        }

        Assert.DoesNotContain($"-s {net.Subnet} ! -o {net.BridgeName}", TestEngine.NatRules(), StringComparison.Ordinal); // no masquerade
        Assert.Equal("0", File.ReadAllText($"/proc/sys/net/ipv4/conf/{net.BridgeName}/forwarding").Trim());
    }

    [Fact]
    public async Task A_network_takes_its_rules_with_it_and_a_vanished_bridge_is_swept_by_the_next_engine()
    {
        await using var t = new TestEngine();
        var removed = t.Engine.Networks.Create("removed");
        var crashed = t.Engine.Networks.Create("crashed");
        Assert.True(TestEngine.HasBridgeRules(removed.BridgeName));
        Assert.True(TestEngine.HasBridgeRules(crashed.BridgeName));

        t.Engine.Networks.Remove("removed");
        Assert.False(TestEngine.HasBridgeRules(removed.BridgeName));

        // the bridge goes behind the engine's back, as after a crash and a reboot of the network
        using (var ip = System.Diagnostics.Process.Start("ip", ["link", "del", crashed.BridgeName]))
        {
            await ip.WaitForExitAsync();
        }

        // (no check that its rules are still there: any engine of a parallel test that sets up a bridge sweeps them too)
        await using (new ContainerEngine(t.Options))
        {
            Assert.False(TestEngine.HasBridgeRules(crashed.BridgeName));
        }
    }

    [Fact]
    public void Rules_of_a_bridge_isolate_it_and_masquerade_only_when_not_internal()
    {
        var open = BridgeFirewall.RulesOf("cd-x", "10.9.0.0/24", isInternal: false).Select(r => r.Rule).ToArray();
        var closed = BridgeFirewall.RulesOf("cd-x", "10.9.0.0/24", isInternal: true).Select(r => r.Rule).ToArray();

        Assert.Contains(open, r => r.Contains("-s 10.9.0.0/24 ! -o cd-x", StringComparison.Ordinal) && r.EndsWith("-j MASQUERADE", StringComparison.Ordinal));
        Assert.Contains(open, r => r.StartsWith("-A " + BridgeFirewall.ForwardChain + " -i cd-x -m", StringComparison.Ordinal) && r.EndsWith("-j ACCEPT", StringComparison.Ordinal));
        Assert.DoesNotContain(closed, r => r.EndsWith("-j MASQUERADE", StringComparison.Ordinal));
        Assert.DoesNotContain(closed, r => r.StartsWith("-A " + BridgeFirewall.ForwardChain + " -i cd-x -m", StringComparison.Ordinal) && r.EndsWith("-j ACCEPT", StringComparison.Ordinal));
        foreach (var rules in new[] { open, closed })
        {
            Assert.Contains(rules, r => r.StartsWith($"-A {BridgeFirewall.Isolation1} -i cd-x ! -o cd-x", StringComparison.Ordinal));
            Assert.Contains(rules, r => r.StartsWith($"-A {BridgeFirewall.Isolation2} -o cd-x", StringComparison.Ordinal) && r.EndsWith("-j DROP", StringComparison.Ordinal));
            Assert.Equal($"-A {BridgeFirewall.ForwardChain} -o cd-x -m comment --comment containers-dotnet-net:cd-x -j DROP", rules[^1]); // nothing unsolicited in
            Assert.All(rules, r => Assert.Contains("--comment containers-dotnet-net:cd-x", r, StringComparison.Ordinal));
        }
    }
}
