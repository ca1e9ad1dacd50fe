using System.Net;
using System.Net.Sockets;
using Containers.Runtime;

namespace Containers.Tests.Networking;

public sealed class NetworkTests
{
    [Fact]
    public async Task Published_port_is_served_by_busybox_httpd()
    {
        await using var t = new TestEngine();
        await using var c = await t.Busybox("httpd", "-f", "-p", "8080", "-h", "/var/www").WithPortBinding(0, 8080, "127.0.0.1").StartAsync();
        var port = c.GetHostPort(8080);
        Assert.NotEqual(0, port);
        var body = await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{port}/index.html");

        Assert.Equal("hello from busybox httpd\n", body);
        Assert.StartsWith("10.214.", c.IPAddress, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_taken_port_is_an_error_naming_it_and_leaves_nothing()
    {
        await using var t = new TestEngine();
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;
        var e = await Assert.ThrowsAsync<ContainerConflictException>(() => t.Busybox("true").WithPortBinding(port, 80, "127.0.0.1").StartAsync());
        Assert.Contains($"127.0.0.1:{port}/tcp", e.Message, StringComparison.Ordinal);
        Assert.Contains("already in use", e.Message, StringComparison.Ordinal);
        t.AssertNothingLeft();
    }

    [Fact]
    public async Task Bridge_gives_an_address_route_and_loopback_and_two_containers_talk()
    {
        await using var t = new TestEngine();
        await using var server = await t.Busybox("httpd", "-f", "-p", "80", "-h", "/var/www").StartAsync();
        var r = await t.RunAsync(t.Busybox("sh", "-c", $"ip -4 addr show eth0 | grep -o 'inet [0-9.]*'; ip route | grep default; ip link show lo | grep -c UP; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{server.IPAddress}/index.html && break; sleep 0.1; done"));
        Assert.Contains("inet 10.214.", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("default via 10.214.0.1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello from busybox httpd", r.Stdout, StringComparison.Ordinal);
        var veth = "vcd" + server.Id[..11];
        Assert.True(TestEngine.LinkExists(veth));
        await server.StopAsync(TimeSpan.FromSeconds(1));
        Assert.False(TestEngine.LinkExists(veth));
    }

    [Fact]
    public async Task None_has_only_loopback_and_host_shares_the_hosts_network()
    {
        await using var t = new TestEngine();
        var none = await t.RunAsync(t.Busybox("sh", "-c", "ls /sys/class/net; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok").WithNetwork("none"));
        Assert.Equal("lo\nlo-ok\n", none.Stdout);
        var host = await t.RunAsync(t.Busybox("sh", "-c", "ls /sys/class/net").WithNetwork("host"));
        Assert.Contains("eth0", host.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("80", 80, 0, "0.0.0.0", "tcp")]
    [InlineData("8080:80", 80, 8080, "0.0.0.0", "tcp")]
    [InlineData("127.0.0.1:8080:80/udp", 80, 8080, "127.0.0.1", "udp")]
    [InlineData("127.0.0.1::80", 80, 0, "127.0.0.1", "tcp")]
    public void Port_specs_parse_like_docker(string spec, int container, int host, string ip, string protocol) =>
        Assert.Equal(new PortBinding(container, host, ip, protocol), PortBinding.Parse(spec));

    [Theory]
    [InlineData("80/sctp")]
    [InlineData("99999")]
    [InlineData("host:80:80")]
    public void Bad_port_specs_are_refused(string spec) =>
        Assert.Contains(spec, Assert.Throws<InvalidContainerSpecException>(() => PortBinding.Parse(spec)).Message, StringComparison.Ordinal);
}
