using System.Net;
using System.Net.Sockets;
using Containers.Networking;

namespace Containers.Tests.Networking;

/// <summary>User-defined networks: names and aliases by DNS, isolation, connect/disconnect, host-side access by name, bad input.</summary>
public sealed class UserNetworkTests
{
    private const string Httpd = "httpd -f -p 8080 -h /var/www";

    [Fact]
    public async Task Containers_reach_each_other_by_name_and_by_alias_with_round_robin()
    {
        await using var t = new TestEngine();
        var net = t.Engine.Networks.Create("shop");
        await using var web1 = await t.Busybox("sh", "-c", Httpd).WithName("web1").WithNetwork("shop", "api").StartAsync();
        await using var web2 = await t.Busybox("sh", "-c", Httpd).WithName("web2").WithNetwork("shop", "api").StartAsync();

        var client = await t.RunAsync(t.Busybox("sh", "-c", """
            cat /etc/resolv.conf
            nslookup api; nslookup api
            ip=$(nslookup web1 | sed -n 's/^Address: \(.*\)/\1/p')
            echo "web1=$ip"
            wget -qO- http://$ip:8080/index.html || { sleep 0.3; wget -qO- http://$ip:8080/index.html; }
            nslookup external.test | sed -n 's/^Address: \(.*\)/external=\1/p'
            """).WithNetwork("shop"));

        Assert.Equal(0, client.ExitCode);
        Assert.Contains($"nameserver {net.Gateway}", client.Stdout, StringComparison.Ordinal);
        Assert.Contains($"web1={web1.IPAddress}\n", client.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello from busybox httpd", client.Stdout, StringComparison.Ordinal);
        Assert.Contains($"external={FakeDnsUpstream.ExternalAddress}", client.Stdout, StringComparison.Ordinal); // forwarded upstream
        var answers = client.Stdout.Split('\n').Where(l => l.StartsWith("Address: ", StringComparison.Ordinal)).Select(l => l[9..]).ToArray();
        Assert.Equal([web1.IPAddress!, web2.IPAddress!], answers.Take(2).Order());
        Assert.NotEqual(answers[0], answers[2]); // the second answer is rotated
        Assert.Equal(2, t.Engine.Networks.Resolve("shop", "api").Count);
    }

    [Fact]
    public async Task Networks_are_isolated_and_internal_networks_have_no_route_out()
    {
        await using var t = new TestEngine();
        t.Engine.Networks.Create("front");
        var back = t.Engine.Networks.Create("back", new NetworkCreateOptions { Internal = true });
        await using var server = await t.Busybox("sleep", "60").WithName("db").WithNetwork("back").StartAsync();

        var same = await t.RunAsync(t.Busybox("ping", "-c1", "-W2", server.IPAddress!).WithNetwork("back"));
        var other = await t.RunAsync(t.Busybox("ping", "-c1", "-W1", server.IPAddress!).WithNetwork("front"));
        var routes = await t.RunAsync(t.Busybox("cat", "/proc/net/route").WithNetwork("back"));
        var outside = await t.RunAsync(t.Busybox("nslookup", "external.test").WithNetwork("back"));

        Assert.Equal(0, same.ExitCode);
        Assert.NotEqual(0, other.ExitCode);
        var destinations = routes.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split('\t')[1]).ToArray();
        Assert.NotEmpty(destinations);
        Assert.DoesNotContain("00000000", destinations); // no default route
        Assert.DoesNotContain(FakeDnsUpstream.ExternalAddress.ToString(), outside.Stdout, StringComparison.Ordinal); // no forwarding either
        Assert.Equal("0", File.ReadAllText($"/proc/sys/net/ipv4/conf/{back.BridgeName}/forwarding").Trim());
    }

    [Fact]
    public async Task Dns_follows_connect_disconnect_and_stop()
    {
        await using var t = new TestEngine();
        t.Engine.Networks.Create("one");
        t.Engine.Networks.Create("two");
        await using var svc = await t.Busybox("sleep", "60").WithName("svc").WithNetwork("one").StartAsync();
        Task<ExecResult> Lookup(string network, string name) => t.RunAsync(t.Busybox("nslookup", name).WithNetwork(network));

        Assert.Equal(0, (await Lookup("one", "svc")).ExitCode);
        Assert.NotEqual(0, (await Lookup("two", "svc")).ExitCode);

        t.Engine.Networks.Connect("two", "svc", ["cache"]);
        var eth1 = await svc.ExecAsync(["ip", "-o", "-4", "addr", "show", "eth1"]);
        var onTwo = t.Engine.Networks.Resolve("two", "cache");
        Assert.Contains(Assert.Single(onTwo).ToString(), eth1.Stdout, StringComparison.Ordinal);
        var viaAlias = await Lookup("two", "cache");
        Assert.Contains($"Address: {onTwo[0]}", viaAlias.Stdout, StringComparison.Ordinal);
        Assert.Throws<ContainerConflictException>(() => t.Engine.Networks.Connect("two", "svc"));

        t.Engine.Networks.Disconnect("two", "svc");
        Assert.Empty(t.Engine.Networks.Resolve("two", "cache"));
        Assert.NotEqual(0, (await Lookup("two", "cache")).ExitCode);
        Assert.NotEqual(0, (await svc.ExecAsync(["ip", "addr", "show", "eth1"])).ExitCode);
        Assert.False(TestEngine.LinkExists(BridgeNetwork.HostVeth(svc.Id, t.Engine.Networks.Get("two").Id)));

        await svc.StopAsync(TimeSpan.FromSeconds(1));
        Assert.NotEqual(0, (await Lookup("one", "svc")).ExitCode);
    }

    [Fact]
    public async Task The_test_process_reaches_a_container_by_name_with_no_published_port_and_stacks_do_not_clash()
    {
        await using var t = new TestEngine();
        t.Engine.Networks.Create("stack-a");
        t.Engine.Networks.Create("stack-b");
        await using var a = await t.Busybox("sh", "-c", "echo stack-a > /var/www/id; " + Httpd).WithName("api-a").WithNetwork("stack-a", "api").StartAsync();
        await using var b = await t.Busybox("sh", "-c", "echo stack-b > /var/www/id; " + Httpd).WithName("api-b").WithNetwork("stack-b", "api").StartAsync();
        Assert.Empty(a.State.Ports);

        using var httpA = new HttpClient(t.Engine.Networks.CreateHttpHandler("stack-a"));
        using var httpB = new HttpClient(t.Engine.Networks.CreateHttpHandler("stack-b"));
        Assert.Equal("stack-a\n", await TestEngine.GetWhenUpAsync(httpA, "http://api:8080/id"));
        Assert.Equal("stack-b\n", await TestEngine.GetWhenUpAsync(httpB, "http://api:8080/id"));

        using var raw = await t.Engine.Networks.ConnectAsync("stack-a", "api-a", 8080);
        Assert.True(raw.Connected);
        var e = await Assert.ThrowsAsync<SocketException>(() => t.Engine.Networks.ConnectAsync("stack-a", "api-b", 8080));
        Assert.Equal(SocketError.HostNotFound, e.SocketErrorCode);
    }

    [Fact]
    public async Task Published_ports_serve_local_clients_through_the_kernel_and_containers_elsewhere_through_the_proxy()
    {
        await using var t = new TestEngine();
        t.Engine.Networks.Create("pub");
        var other = t.Engine.Networks.Create("elsewhere");
        await using var web = await t.Busybox("sh", "-c", Httpd).WithNetwork("pub").WithPortBinding(0, 8080).StartAsync();
        var port = web.GetHostPort(8080);

        Assert.Equal("hello from busybox httpd\n", await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{port}/index.html"));
        if (Containers.Networking.LocalPortForwarding.Available)
        {
            Assert.Contains($"containers-dotnet:{web.Id}", TestEngine.NatRules(), StringComparison.Ordinal);
        }

        // from another network the host is its gateway: that connection is not rewritten, the proxy serves it
        var client = await t.RunAsync(t.Busybox("wget", "-qO-", $"http://{other.Gateway}:{port}/index.html").WithNetwork("elsewhere"));
        Assert.Equal("hello from busybox httpd\n", client.Stdout);

        await web.StopAsync(TimeSpan.FromSeconds(1));
        Assert.DoesNotContain($"containers-dotnet:{web.Id}", TestEngine.NatRules(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_network_requests_give_clear_errors_and_leave_nothing()
    {
        await using var t = new TestEngine();
        var first = t.Engine.Networks.Create("n1", new NetworkCreateOptions { Subnet = "10.231.7.0/24" });

        var overlap = Assert.Throws<ContainerConflictException>(() => t.Engine.Networks.Create("n2", new NetworkCreateOptions { Subnet = "10.231.7.128/25" }));
        Assert.Contains("overlaps with network n1", overlap.Message, StringComparison.Ordinal);
        var route = Assert.Throws<ContainerConflictException>(() => t.Engine.Networks.Create("n3", new NetworkCreateOptions { Subnet = "10.214.9.0/24" }));
        Assert.Contains("overlaps", route.Message, StringComparison.Ordinal); // the tests' default bridge
        Assert.Throws<ContainerConflictException>(() => t.Engine.Networks.Create("n1"));
        Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Networks.Create("bad name"));
        Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Networks.Create("n4", new NetworkCreateOptions { Subnet = "10.231.8.1/24" }));
        Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Networks.Create("n5", new NetworkCreateOptions { Subnet = "300.1.1.0/24" }));
        Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Networks.Create("n6", new NetworkCreateOptions { Subnet = "10.231.9.0/24", Gateway = "10.231.10.1" }));
        // nothing half-made: no bridge got any of the refused subnets (other tests add and remove links meanwhile)
        var routes = File.ReadLines("/proc/net/route").Skip(1).Select(l => l.Split('\t', StringSplitOptions.TrimEntries)).Where(f => f.Length > 7)
            .Select(f => $"{new System.Net.IPAddress(uint.Parse(f[1], System.Globalization.NumberStyles.HexNumber))}/{System.Numerics.BitOperations.PopCount(uint.Parse(f[7], System.Globalization.NumberStyles.HexNumber))}").ToHashSet();
        Assert.Contains("10.231.7.0/24", routes);
        foreach (var refused in new[] { "10.231.7.128/25", "10.214.9.0/24", "10.231.8.0/24", "10.231.9.0/24" })
        {
            Assert.DoesNotContain(refused, routes);
        }
        Assert.Equal(["bridge", "n1"], t.Engine.Networks.List().Select(n => n.Name));

        var missing = Assert.Throws<ContainerNotFoundException>(() => t.Engine.Create(t.Busybox("true").WithNetwork("nope").ToSpec()));
        Assert.Contains("network nope not found", missing.Message, StringComparison.Ordinal);

        await using var c = await t.Busybox("sleep", "60").WithNetwork("n1").StartAsync();
        var inUse = Assert.Throws<ContainerConflictException>(() => t.Engine.Networks.Remove("n1"));
        Assert.Contains("has active endpoints", inUse.Message, StringComparison.Ordinal);
        var taken = await Assert.ThrowsAsync<ContainerConflictException>(() => t.Engine.StartAsync(t.Busybox("true").ToSpec() with
        {
            NetworkMode = "n1",
            Networks = [new NetworkAttachment("n1") { IPv4Address = c.IPAddress }],
        }));
        Assert.Contains("already in use", taken.Message, StringComparison.Ordinal);
        Assert.Throws<ContainerConflictException>(() => t.Engine.Networks.Remove("bridge"));

        await c.RemoveAsync(force: true);
        t.Engine.Networks.Remove(first.Id[..12]);
        Assert.False(TestEngine.LinkExists(first.BridgeName));
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Networks.Get("n1"));
    }

    [Fact]
    public async Task A_fixed_address_is_given_and_a_container_joins_several_networks()
    {
        await using var t = new TestEngine();
        t.Engine.Networks.Create("fixed", new NetworkCreateOptions { Subnet = "10.231.20.0/24", Gateway = "10.231.20.254" });
        var extra = t.Engine.Networks.Create("extra");
        var spec = t.Busybox("sh", "-c", "ip -o -4 addr; ip route").ToSpec() with
        {
            NetworkMode = "fixed",
            Networks = [new NetworkAttachment("fixed") { IPv4Address = "10.231.20.9" }, new NetworkAttachment("extra")],
        };
        var r = await t.RunAsync(t.Engine.FromRootfs(TestRootfs.Path).WithCommand([.. spec.Command]).WithNetwork("fixed").AddNetwork("extra"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("eth1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("default via 10.231.20.254 dev eth0", r.Stdout, StringComparison.Ordinal);

        var output = new System.Text.StringBuilder();
        await using var fixedRun = await t.Engine.StartAsync(spec, (_, bytes) => { lock (output) { output.Append(System.Text.Encoding.UTF8.GetString(bytes.Span)); } });
        Assert.Equal(0, (await fixedRun.WaitAsync()).ExitCode);
        lock (output)
        {
            Assert.Contains("eth0    inet 10.231.20.9/24", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("eth1    inet " + extra.Subnet.Split('/')[0][..^1], output.ToString(), StringComparison.Ordinal);
        }
    }
}
