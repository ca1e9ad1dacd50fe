using System.Net;
using System.Net.Sockets;
using System.Text;
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
    public async Task Connect_reaches_a_server_on_the_containers_own_loopback()
    {
        await using var t = new TestEngine();
        await using var c = await t.Busybox("httpd", "-f", "-p", "127.0.0.1:8080", "-h", "/var/www").StartAsync();
        Socket? socket = null;
        for (int i = 0; i < 50 && socket is null; i++)
        {
            try
            {
                socket = await c.ConnectAsync(8080);
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(socket);
        using (socket)
        {
            await socket.SendAsync("GET /index.html HTTP/1.0\r\n\r\n"u8.ToArray());
            var reply = new StringBuilder();
            var buffer = new byte[4096];
            int n;
            while ((n = await socket.ReceiveAsync(buffer)) > 0)
            {
                reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }

            Assert.Contains("hello from busybox httpd", reply.ToString(), StringComparison.Ordinal);
        }

        // the server is on the container's loopback only: not reachable at its address, refused on another port
        using var direct = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await Assert.ThrowsAsync<SocketException>(async () => await direct.ConnectAsync(IPAddress.Parse(c.IPAddress!), 8080));
        await Assert.ThrowsAsync<SocketException>(() => c.ConnectAsync(8081));
        await c.StopAsync(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<ContainerException>(() => c.ConnectAsync(8080));
    }

    [Fact]
    public async Task Published_udp_port_round_trips_a_datagram()
    {
        // busybox has no UDP server: build a tiny static one (gcc is here: it links the NativeAOT shim)
        var dir = Directory.CreateTempSubdirectory("udpecho-").FullName;
        File.WriteAllText(Path.Combine(dir, "udpecho.c"), """
            #include <sys/socket.h>
            #include <netinet/in.h>
            #include <string.h>
            #include <stdlib.h>
            int main(int argc, char **argv) {
              int s = socket(AF_INET, SOCK_DGRAM, 0);
              struct sockaddr_in a = {0};
              a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[1]));
              if (bind(s, (void *)&a, sizeof a) < 0) return 1;
              char b[2048];
              for (;;) {
                struct sockaddr_in p; socklen_t l = sizeof p;
                int n = recvfrom(s, b + 4, sizeof b - 4, 0, (void *)&p, &l);
                if (n < 0) return 1;
                memcpy(b, "got-", 4);
                sendto(s, b, n + 4, 0, (void *)&p, l);
              }
            }
            """);
        using (var gcc = System.Diagnostics.Process.Start("gcc", ["-static", "-O2", "-o", Path.Combine(dir, "udpecho"), Path.Combine(dir, "udpecho.c")]))
        {
            await gcc.WaitForExitAsync();
            Assert.Equal(0, gcc.ExitCode);
        }

        await using var t = new TestEngine();
        await using var c = await t.Busybox("/udpecho", "5353").WithBindMount(Path.Combine(dir, "udpecho"), "/udpecho", readOnly: true)
            .WithPortBinding(0, 5353, "127.0.0.1", "udp").StartAsync();
        var port = c.GetHostPort(5353, "udp");
        using var udp = new UdpClient();
        udp.Connect(IPAddress.Loopback, port);
        string? reply = null;
        for (var i = 0; i < 50 && reply is null; i++)
        {
            await udp.SendAsync("ping\n"u8.ToArray());
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try
            {
                reply = System.Text.Encoding.ASCII.GetString((await udp.ReceiveAsync(cts.Token)).Buffer);
            }
            catch (OperationCanceledException)
            {
            }
        }

        Assert.Equal("got-ping\n", reply);
        Directory.Delete(dir, true);
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
        // the kernel tears a network namespace (and the veth end in it) down from a work queue: under load that takes a moment
        for (var i = 0; i < 100 && TestEngine.LinkExists(veth); i++)
        {
            await Task.Delay(20);
        }

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
