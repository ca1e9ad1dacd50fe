using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Containers.Tests.Networking;

/// <summary>
/// The "host's resolver" for the tests, on 127.0.0.1 (the tests never query a real one): answers
/// <c>external.test</c> with 198.51.100.7 and everything else with NXDOMAIN, and counts the queries it saw.
/// </summary>
public sealed class FakeDnsUpstream : IDisposable
{
    public static readonly IPAddress ExternalAddress = IPAddress.Parse("198.51.100.7");
    private static readonly Lazy<FakeDnsUpstream> SharedInstance = new(() => new FakeDnsUpstream());
    private readonly Socket socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private int queries;

    public FakeDnsUpstream()
    {
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Endpoint = (IPEndPoint)socket.LocalEndPoint!;
        _ = Task.Run(LoopAsync);
    }

    /// <summary>One for the whole test run (the engines of every test forward to it).</summary>
    public static FakeDnsUpstream Shared => SharedInstance.Value;

    public IPEndPoint Endpoint { get; }

    public int Queries => Volatile.Read(ref queries);

    public void Dispose() => socket.Dispose();

    private async Task LoopAsync()
    {
        var buffer = new byte[1500];
        while (true)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            Interlocked.Increment(ref queries);
            var q = buffer.AsSpan(0, r.ReceivedBytes).ToArray();
            var end = 12;
            var name = new List<string>();
            while (end < q.Length && q[end] != 0)
            {
                name.Add(System.Text.Encoding.ASCII.GetString(q, end + 1, q[end]));
                end += q[end] + 1;
            }

            end += 5;
            var known = string.Join('.', name).Equals("external.test", StringComparison.OrdinalIgnoreCase) && BinaryPrimitives.ReadUInt16BigEndian(q.AsSpan(end - 4)) == 1;
            var reply = new byte[end + (known ? 16 : 0)];
            q.AsSpan(0, end).CopyTo(reply);
            reply[2] = (byte)(0x80 | (q[2] & 0x01));
            reply[3] = (byte)(0x80 | (known ? 0 : 3));
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(6), (ushort)(known ? 1 : 0));
            BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(8), 0);
            if (known)
            {
                BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(end), 0xC00C);
                BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(end + 2), 1);
                BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(end + 4), 1);
                BinaryPrimitives.WriteUInt32BigEndian(reply.AsSpan(end + 6), 60);
                BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(end + 10), 4);
                ExternalAddress.GetAddressBytes().CopyTo(reply, end + 12);
            }

            await socket.SendToAsync(reply, SocketFlags.None, r.RemoteEndPoint);
        }
    }
}
