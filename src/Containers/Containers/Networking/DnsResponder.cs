using System.Buffers.Binary;
using System.Net.Sockets;

namespace Containers.Networking;

/// <summary>
/// A network's embedded DNS server on its gateway address, UDP port 53. Every process that supervises a container of
/// the network binds one with SO_REUSEPORT and answers from the root's store, so answers are the same whichever
/// process the kernel hands a query to, and change as soon as the store does. A-record questions for container names
/// and aliases are answered here (all addresses, rotated per answer: round-robin); other names are forwarded to the
/// upstream servers (the host's resolvers), except on internal networks.
/// </summary>
public sealed class DnsResponder : IDisposable
{
    private const int TypeA = 1, TypeAAAA = 28, TypeAny = 255, ClassIn = 1;
    private readonly Socket socket;
    private readonly CancellationTokenSource cts = new();
    private readonly Func<IPAddress, bool> allowed;
    private readonly Func<string, IReadOnlyList<IPAddress>?> lookup;
    private readonly IReadOnlyList<IPEndPoint> upstreams;
    private readonly ILogger logger;
    private int rotation;

    /// <param name="listen">The address (and port) to bind.</param>
    /// <param name="allowed">Which clients get answers (the network's own subnet).</param>
    /// <param name="lookup">The addresses of a local name (lower case, no trailing dot), or null when it is not local.</param>
    /// <param name="upstreams">Where other names go; empty: they get SERVFAIL.</param>
    /// <param name="logger">For what goes wrong.</param>
    public DnsResponder(IPEndPoint listen, Func<IPAddress, bool> allowed, Func<string, IReadOnlyList<IPAddress>?> lookup, IReadOnlyList<IPEndPoint> upstreams, ILogger logger)
    {
        this.allowed = allowed;
        this.lookup = lookup;
        this.upstreams = upstreams;
        this.logger = logger;
        socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.SetRawSocketOption(1, 15, BitConverter.GetBytes(1)); // SOL_SOCKET, SO_REUSEPORT
            socket.Bind(listen);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Endpoint = (IPEndPoint)socket.LocalEndPoint!;
        _ = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>Where it listens.</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>Stops answering and closes the socket.</summary>
    public void Dispose()
    {
        cts.Cancel();
        socket.Dispose();
        cts.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[4096];
        while (!cts.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // e.g. ICMP port unreachable from an earlier reply
            }

            var client = (IPEndPoint)r.RemoteEndPoint;
            if (!allowed(client.Address))
            {
                continue;
            }

            var query = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            _ = Task.Run(() => AnswerAsync(query, client));
        }
    }

    private async Task AnswerAsync(byte[] query, IPEndPoint client)
    {
        try
        {
            var reply = Answer(query, out var forward);
            if (forward)
            {
                reply = await ForwardAsync(query).ConfigureAwait(false) ?? Reply(query, Question(query)!.Value.End, rcode: 2, []);
            }

            if (reply is not null)
            {
                await socket.SendToAsync(reply, SocketFlags.None, client, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            logger.LogDebug(e, "DNS answer to {Client} failed", client);
        }
    }

    /// <summary>The reply to <paramref name="query"/>, or null to drop it; <paramref name="forward"/> when it goes upstream.</summary>
    internal byte[]? Answer(byte[] query, out bool forward)
    {
        forward = false;
        if (query.Length < 12 || (query[2] & 0x80) != 0)
        {
            return null; // not a query
        }

        var opcode = (query[2] >> 3) & 0xF;
        if (Question(query) is not { } q)
        {
            return query.Length >= 12 ? Reply(query, 12, rcode: 1, [], withQuestion: false) : null; // FORMERR
        }

        if (opcode != 0)
        {
            return Reply(query, q.End, rcode: 4, []); // NOTIMP
        }

        var addresses = q.Class == ClassIn ? lookup(q.Name) : null;
        if (addresses is null)
        {
            forward = upstreams.Count > 0;
            return forward ? null : Reply(query, q.End, rcode: 2, []);
        }

        if (q.Type is not (TypeA or TypeAny))
        {
            return Reply(query, q.End, rcode: 0, []); // the name exists, without records of that type (AAAA: no IPv6 here)
        }

        var start = Interlocked.Increment(ref rotation);
        var rotated = addresses.Count == 0 ? [] : Enumerable.Range(0, addresses.Count).Select(i => addresses[(start + i) % addresses.Count]).ToArray();
        return Reply(query, q.End, rcode: 0, rotated);
    }

    private static (string Name, int Type, int Class, int End)? Question(byte[] m)
    {
        if (BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(4)) != 1)
        {
            return null;
        }

        var name = new StringBuilder();
        var i = 12;
        while (true)
        {
            if (i >= m.Length)
            {
                return null;
            }

            int len = m[i++];
            if (len == 0)
            {
                break;
            }

            if (len > 63 || i + len > m.Length || name.Length + len > 253)
            {
                return null; // compression pointers never appear in a lone question
            }

            if (name.Length > 0)
            {
                name.Append('.');
            }

            name.Append(Encoding.ASCII.GetString(m, i, len).ToLowerInvariant());
            i += len;
        }

        if (i + 4 > m.Length)
        {
            return null;
        }

        return (name.ToString(), BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(i)), BinaryPrimitives.ReadUInt16BigEndian(m.AsSpan(i + 2)), i + 4);
    }

    private static byte[] Reply(byte[] query, int questionEnd, int rcode, IReadOnlyList<IPAddress> answers, bool withQuestion = true)
    {
        var end = withQuestion ? questionEnd : 12;
        var reply = new byte[end + (answers.Count * 16)];
        query.AsSpan(0, end).CopyTo(reply);
        reply[2] = (byte)(0x80 | (query[2] & 0x79) | 0x04); // QR; opcode and RD kept; AA
        reply[3] = (byte)(0x80 | rcode); // RA
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(4), (ushort)(withQuestion ? 1 : 0));
        BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(6), (ushort)answers.Count);
        BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), 0); // no authority, no additional records
        var o = end;
        foreach (var a in answers)
        {
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(o), 0xC00C); // the name: a pointer to the question's
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(o + 2), TypeA);
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(o + 4), ClassIn);
            BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(o + 6), 0); // TTL 0: answers follow the containers at once
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(o + 10), 4);
            a.MapToIPv4().GetAddressBytes().CopyTo(reply, o + 12);
            o += 16;
        }

        return reply;
    }

    private async Task<byte[]?> ForwardAsync(byte[] query)
    {
        foreach (var upstream in upstreams)
        {
            using var s = new Socket(upstream.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cts.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                await s.ConnectAsync(upstream, timeout.Token).ConfigureAwait(false);
                await s.SendAsync(query, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                var buffer = new byte[4096];
                while (true)
                {
                    var n = await s.ReceiveAsync(buffer, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    if (n >= 12 && buffer[0] == query[0] && buffer[1] == query[1])
                    {
                        return buffer.AsSpan(0, n).ToArray();
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                if (cts.IsCancellationRequested)
                {
                    return null;
                }
            }
        }

        return null;
    }
}
