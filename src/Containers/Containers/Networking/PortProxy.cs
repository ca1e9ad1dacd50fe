using System.Net.Sockets;

namespace Containers.Networking;

/// <summary>
/// Publishes container ports on the host with a userspace proxy (as docker-proxy does): listeners are bound
/// before the container starts, so a taken port fails early with its number, and forward to the container's address.
/// </summary>
internal sealed class PortProxy : IAsyncDisposable
{
    private readonly List<(PortBinding Binding, Socket Socket)> listeners = [];
    private readonly CancellationTokenSource cts = new();
    private readonly List<Task> loops = [];
    private readonly HashSet<(Socket Client, Socket Upstream)> connections = [];

    /// <summary>The bindings with the host ports actually bound.</summary>
    public IReadOnlyList<PortBinding> Bound => listeners.Select(l => l.Binding).ToArray();

    /// <summary>Binds every port; throws <see cref="ContainerConflictException"/> naming a taken port (and releases the others).</summary>
    public static PortProxy Bind(IEnumerable<PortBinding> bindings)
    {
        var proxy = new PortProxy();
        try
        {
            foreach (var b in bindings)
            {
                var ip = IPAddress.Parse(b.HostIp);
                var socket = b.Protocol == "udp"
                    ? new Socket(ip.AddressFamily, SocketType.Dgram, ProtocolType.Udp)
                    : new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(ip, b.HostPort));
                    if (b.Protocol == "tcp")
                    {
                        socket.Listen(512);
                    }
                }
                catch (SocketException e)
                {
                    socket.Dispose();
                    throw new ContainerConflictException(e.SocketErrorCode == SocketError.AddressAlreadyInUse
                        ? $"cannot publish {b.HostIp}:{b.HostPort}/{b.Protocol}: the port is already in use"
                        : $"cannot publish {b.HostIp}:{b.HostPort}/{b.Protocol}: {e.Message}");
                }

                var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
                proxy.listeners.Add((b with { HostPort = port }, socket));
            }

            return proxy;
        }
        catch
        {
            foreach (var (_, s) in proxy.listeners)
            {
                s.Dispose();
            }

            throw;
        }
    }

    // how the socket toward the container is made: in this process's network namespace, or in the container's
    private Func<AddressFamily, SocketType, ProtocolType, Socket> newUpstream = (f, t, p) => new Socket(f, t, p);
    private int netnsFd = -1;
    private ISyscalls? netnsSys;

    /// <summary>Starts forwarding to <paramref name="target"/>.</summary>
    public void Start(IPAddress target)
    {
        foreach (var (b, s) in listeners)
        {
            var to = new IPEndPoint(target, b.ContainerPort);
            loops.Add(b.Protocol == "tcp" ? Task.Run(() => AcceptLoop(s, to, cts.Token)) : Task.Run(() => UdpLoop(s, to, newUpstream, cts.Token)));
        }
    }

    /// <summary>
    /// Starts forwarding to the container's loopback, with sockets made inside its network namespace (that of
    /// <paramref name="pid"/>): for a container with no address the host can route to (slirp4netns, rootless),
    /// as rootlesskit's builtin port driver does.
    /// </summary>
    public void StartInNamespace(ISyscalls sys, int pid)
    {
        netnsSys = sys;
        netnsFd = sys.Open($"/proc/{pid}/ns/net", 0x80000); // O_CLOEXEC; kept so the namespace is the same one however long the container runs
        newUpstream = (family, type, protocol) => SocketInNamespace(sys, netnsFd, family, type, protocol);
        Start(IPAddress.Loopback);
    }

    /// <summary>
    /// A socket made in the network namespace of <paramref name="nsFd"/> (a socket stays in the namespace it was made
    /// in). A short-lived thread of its own joins the namespace, makes it with a raw socket(2) and ends: it makes no
    /// thread and runs nothing else, so nothing else of this process ever runs in the container's namespace.
    /// </summary>
    private static Socket SocketInNamespace(ISyscalls sys, int nsFd, AddressFamily family, SocketType type, ProtocolType protocol)
    {
        int fd = -1;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                sys.Setns(nsFd, 0x40000000); // CLONE_NEWNET
                fd = sys.Socket((int)family, (int)type | 0x80000, (int)protocol); // SOCK_CLOEXEC
            }
            catch (Exception e)
            {
                error = e;
            }
        }, 64 * 1024) { IsBackground = true, Name = "netns-socket" };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            throw new SocketException((int)SocketError.NetworkUnreachable, $"a socket in the container's network namespace: {error.Message}");
        }

        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    public async ValueTask DisposeAsync()
    {
        await cts.CancelAsync().ConfigureAwait(false);
        lock (connections)
        {
            foreach (var (c, u) in connections)
            {
                Splice.Abort(c);
                Splice.Abort(u);
            }
        }

        foreach (var (_, s) in listeners)
        {
            s.Dispose();
        }

        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        cts.Dispose();
        if (Interlocked.Exchange(ref netnsFd, -1) is var fd and >= 0)
        {
            netnsSys!.Close(fd);
        }
    }

    private async Task AcceptLoop(Socket listener, IPEndPoint to, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => Forward(client, to, ct), CancellationToken.None);
        }
    }

    private async Task Forward(Socket client, IPEndPoint to, CancellationToken ct)
    {
        Socket upstream;
        try
        {
            upstream = newUpstream(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            upstream.NoDelay = true;
        }
        catch (SocketException)
        {
            client.Dispose();
            return;
        }

        try
        {
            await upstream.ConnectAsync(to, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            client.Dispose();
            upstream.Dispose();
            return;
        }

        client.NoDelay = true;
        Splice.MakeBlocking(client);
        Splice.MakeBlocking(upstream);
        var pair = (client, upstream);
        lock (connections)
        {
            if (ct.IsCancellationRequested)
            {
                client.Dispose();
                upstream.Dispose();
                return;
            }

            connections.Add(pair);
        }

        var done = 0;
        void Run(Socket from, Socket dest)
        {
            try
            {
                Splice.Pump(from, dest);
            }
            catch (SocketException)
            {
                Splice.Abort(from);
                Splice.Abort(dest);
            }

            if (Interlocked.Increment(ref done) == 2)
            {
                lock (connections)
                {
                    connections.Remove(pair);
                }

                client.Dispose();
                upstream.Dispose();
            }
        }

        new Thread(() => Run(client, upstream), 128 * 1024) { IsBackground = true, Name = "proxy" }.Start();
        new Thread(() => Run(upstream, client), 128 * 1024) { IsBackground = true, Name = "proxy" }.Start();
    }

    private static async Task UdpLoop(Socket listener, IPEndPoint to, Func<AddressFamily, SocketType, ProtocolType, Socket> newUpstream, CancellationToken ct)
    {
        var peers = new Dictionary<EndPoint, Socket>();
        var buf = new byte[65536];
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var r = await listener.ReceiveFromAsync(buf, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), ct).ConfigureAwait(false);
                if (!peers.TryGetValue(r.RemoteEndPoint, out var up))
                {
                    up = newUpstream(to.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
                    up.Connect(to);
                    peers[r.RemoteEndPoint] = up;
                    var client = r.RemoteEndPoint;
                    _ = Task.Run(async () =>
                    {
                        var b = new byte[65536];
                        try
                        {
                            while (true)
                            {
                                var n = await up.ReceiveAsync(b, SocketFlags.None, ct).ConfigureAwait(false);
                                await listener.SendToAsync(b.AsMemory(0, n), SocketFlags.None, client, ct).ConfigureAwait(false);
                            }
                        }
                        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                        {
                        }
                    }, ct);
                }

                await up.SendAsync(buf.AsMemory(0, r.ReceivedBytes), SocketFlags.None, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            foreach (var s in peers.Values)
            {
                s.Dispose();
            }
        }
    }
}
