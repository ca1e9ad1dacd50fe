using System.Net;
using System.Net.Sockets;
using Containers.Runtime;

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

    /// <summary>Starts forwarding to <paramref name="target"/>.</summary>
    public void Start(IPAddress target)
    {
        foreach (var (b, s) in listeners)
        {
            var to = new IPEndPoint(target, b.ContainerPort);
            loops.Add(b.Protocol == "tcp" ? Task.Run(() => AcceptLoop(s, to, cts.Token)) : Task.Run(() => UdpLoop(s, to, cts.Token)));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await cts.CancelAsync().ConfigureAwait(false);
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
    }

    private static async Task AcceptLoop(Socket listener, IPEndPoint to, CancellationToken ct)
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

            _ = Task.Run(() => Forward(client, to, ct), ct);
        }
    }

    private static async Task Forward(Socket client, IPEndPoint to, CancellationToken ct)
    {
        using var c = client;
        using var upstream = new Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await upstream.ConnectAsync(to, ct).ConfigureAwait(false);
            await Task.WhenAll(Pump(c, upstream, ct), Pump(upstream, c, ct)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task Pump(Socket from, Socket to, CancellationToken ct)
    {
        var buf = new byte[65536];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buf, SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                await to.SendAsync(buf.AsMemory(0, n), SocketFlags.None, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        try
        {
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task UdpLoop(Socket listener, IPEndPoint to, CancellationToken ct)
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
                    up = new Socket(to.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
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
