using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Containers.Benchmarks;

/// <summary>
/// Networking: a 64 MiB download from busybox httpd in a container on a user-defined network, through a published
/// port (the userspace proxy), straight to the container's address, and from the same httpd binary serving the same
/// file on the host's loopback (the baseline); and the latency of one A-record answer from the network's embedded DNS.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InProcessConfig))]
public class NetworkBenchmark
{
    private const int BlobSize = 64 << 20;
    private readonly byte[] buffer = new byte[1 << 20];
    private readonly byte[] reply = new byte[512];
    private string root = "";
    private string www = "";
    private string rootfs = "";
    private ContainerEngine engine = null!;
    private Container container = null!;
    private Process hostHttpd = null!;
    private int publishedPort;
    private int loopbackPort;
    private Socket dns = null!;
    private byte[] query = [];

    [GlobalSetup]
    public async Task Setup()
    {
        root = Directory.CreateTempSubdirectory("containers-bench-net-").FullName;
        www = Directory.CreateTempSubdirectory("containers-bench-www-").FullName;
        await File.WriteAllBytesAsync(Path.Combine(www, "blob"), new byte[BlobSize]).ConfigureAwait(false);
        rootfs = Directory.CreateTempSubdirectory("containers-bench-rootfs-").FullName;
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin/httpd"), "busybox");
        engine = new ContainerEngine(new EngineOptions { Root = root, BridgeName = "cdbench0", BridgeSubnet = "10.215.0.0/16", MachineStateDirectory = Path.Combine(root, "machine"), DnsUpstreams = ["127.0.0.1:9"] });
        var network = engine.Networks.Create("bench");
        container = await engine.FromRootfs(rootfs).WithName("web").WithNetwork("bench").WithBindMount(www, "/www", readOnly: true)
            .WithPortBinding(0, 80, "127.0.0.1").WithCommand("/bin/httpd", "-f", "-p", "80", "-h", "/www").StartAsync().ConfigureAwait(false);
        publishedPort = container.GetHostPort(80);

        loopbackPort = FreePort();
        hostHttpd = Process.Start("/bin/busybox", ["httpd", "-f", "-p", $"127.0.0.1:{loopbackPort}", "-h", www])!;
        await Task.Delay(300).ConfigureAwait(false);

        dns = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        dns.Bind(new IPEndPoint(IPAddress.Parse(network.Gateway), 0));
        dns.Connect(IPAddress.Parse(network.Gateway), 53);
        query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, (byte)'w', (byte)'e', (byte)'b', 0, 0, 1, 0, 1];
        for (var i = 0; i < 20 && LookupWeb() == 0; i++)
        {
            await Task.Delay(100).ConfigureAwait(false); // the server binds when the container starts
        }
    }

    /// <summary>Through the published port on 127.0.0.1 (the proxy).</summary>
    [Benchmark]
    public long PublishedPort() => Download(new IPEndPoint(IPAddress.Loopback, publishedPort));

    /// <summary>Straight to the container's address on the bridge.</summary>
    [Benchmark]
    public long ContainerAddress() => Download(new IPEndPoint(IPAddress.Parse(container.IPAddress!), 80));

    /// <summary>The same httpd binary and file on the host's loopback: the baseline.</summary>
    [Benchmark(Baseline = true)]
    public long HostLoopback() => Download(new IPEndPoint(IPAddress.Loopback, loopbackPort));

    /// <summary>One A-record question for a container name, answered by the network's DNS server.</summary>
    [Benchmark(OperationsPerInvoke = 100)]
    public int DnsAnswer()
    {
        var n = 0;
        for (var i = 0; i < 100; i++)
        {
            n += LookupWeb();
        }

        return n;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        dns.Dispose();
        hostHttpd.Kill();
        await hostHttpd.WaitForExitAsync().ConfigureAwait(false);
        await container.DisposeAsync().ConfigureAwait(false);
        engine.Networks.Remove("bench");
        await engine.DisposeAsync().ConfigureAwait(false);
        foreach (var d in new[] { root, www, rootfs })
        {
            Directory.Delete(d, true);
        }

        if (Directory.Exists("/sys/class/net/cdbench0"))
        {
            using var ip = Process.Start("ip", ["link", "del", "cdbench0"]);
            await ip.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    private int LookupWeb()
    {
        dns.Send(query);
        dns.ReceiveTimeout = 1000;
        try
        {
            var n = dns.Receive(reply);
            return n > 12 ? BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(6)) : 0;
        }
        catch (SocketException)
        {
            return 0;
        }
    }

    private long Download(IPEndPoint to)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Connect(to);
        s.Send("GET /blob HTTP/1.0\r\n\r\n"u8);
        long total = 0;
        int n;
        while ((n = s.Receive(buffer)) > 0)
        {
            total += n;
        }

        return total > BlobSize ? total : throw new InvalidOperationException($"short download from {to}: {total} bytes");
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private sealed class InProcessConfig : BenchmarkDotNet.Configs.ManualConfig
    {
        public InProcessConfig() => AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(15));
    }
}
