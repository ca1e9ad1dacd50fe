using System.Buffers.Binary;
using System.Net.Sockets;

namespace Containers.Runtime;

/// <summary>
/// How other processes reach the stdin and terminal of a detached container: its monitor listens on a Unix socket
/// (<c>ROOT/attach/ID16.sock</c>, in a directory only root can enter). A connection starts with one byte, its kind
/// (<see cref="Input"/> or <see cref="Control"/>), then carries frames: a type byte, a 4-byte big-endian length and the
/// payload (<see cref="Data"/> for stdin, <see cref="Resize"/> with rows and columns as two big-endian uint16).
/// An input connection's end closes the container's stdin when the spec says StdinOnce.
/// </summary>
internal sealed class AttachServer : IAsyncDisposable
{
    public const byte Input = 0, Control = 1, Data = 0, Resize = 1;

    private readonly Socket listener;
    private readonly string path;
    private readonly ContainerSupervisor supervisor;
    private readonly ContainerSpec spec;
    private readonly RuntimeContext ctx;
    private readonly CancellationTokenSource stop = new();
    private readonly Task accepting;
    private int closedOnce;

    private AttachServer(Socket listener, string path, ContainerSupervisor supervisor, ContainerSpec spec, RuntimeContext ctx)
    {
        this.listener = listener;
        this.path = path;
        this.supervisor = supervisor;
        this.spec = spec;
        this.ctx = ctx;
        accepting = Task.Run(AcceptAsync);
    }

    /// <summary>The socket of container <paramref name="id"/> under <paramref name="root"/>; null when the path would exceed a Unix socket's limit.</summary>
    public static string? PathOf(string root, string id)
    {
        string p = Path.Combine(root, "attach", id[..16] + ".sock");
        return System.Text.Encoding.UTF8.GetByteCount(p) < 104 ? p : null;
    }

    /// <summary>Serves the container's stdin and terminal when its spec has either; null otherwise (or when the root's path is too long for a socket).</summary>
    public static AttachServer? Start(RuntimeContext ctx, ContainerSupervisor supervisor, ContainerSpec spec, string id)
    {
        if ((!spec.OpenStdin && !spec.Tty) || PathOf(ctx.Store.Root, id) is not { } path)
        {
            return null;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(16);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        return new AttachServer(listener, path, supervisor, spec, ctx);
    }

    /// <summary>Connects to a detached container's monitor: an input stream (writes go to its stdin or terminal), or null when nothing serves it.</summary>
    public static Stream? ConnectInput(string root, string id) => Connect(root, id, Input) is { } s ? new InputStream(s) : null;

    /// <summary>Asks a detached container's monitor to resize its terminal; false when nothing serves it.</summary>
    public static bool SendResize(string root, string id, int rows, int columns)
    {
        using var socket = Connect(root, id, Control);
        if (socket is null)
        {
            return false;
        }

        var frame = new byte[9];
        frame[0] = Resize;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), 4);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(5), (ushort)Math.Min(rows, ushort.MaxValue));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(7), (ushort)Math.Min(columns, ushort.MaxValue));
        socket.Send(frame);
        socket.Shutdown(SocketShutdown.Send);
        socket.Receive(new byte[1]); // the monitor closes once it has applied the frame
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        try
        {
            await accepting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        File.Delete(path);
        stop.Dispose();
    }

    private static Socket? Connect(string root, string id, byte kind)
    {
        if (PathOf(root, id) is not { } path || !File.Exists(path))
        {
            return null;
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Send([kind]);
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null; // its monitor is gone
        }
    }

    private async Task AcceptAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            var client = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var stream = new NetworkStream(client, ownsSocket: true);
        var header = new byte[5];
        try
        {
            if (await stream.ReadAsync(header.AsMemory(0, 1), stop.Token).ConfigureAwait(false) != 1)
            {
                return;
            }

            bool input = header[0] == Input;
            while (await ReadFullyAsync(stream, header).ConfigureAwait(false))
            {
                int length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1));
                if (length is < 0 or > (1 << 20))
                {
                    return;
                }

                var payload = new byte[length];
                if (!await ReadFullyAsync(stream, payload).ConfigureAwait(false))
                {
                    return;
                }

                if (header[0] == Data && input && (supervisor.Terminal ?? supervisor.Stdin) is { } target)
                {
                    await target.WriteAsync(payload, stop.Token).ConfigureAwait(false);
                    await target.FlushAsync(stop.Token).ConfigureAwait(false);
                }
                else if (header[0] == Resize && length == 4 && supervisor.Terminal is FileStream pty)
                {
                    Pty.Resize(ctx.Sys, pty, BinaryPrimitives.ReadUInt16BigEndian(payload), BinaryPrimitives.ReadUInt16BigEndian(payload.AsSpan(2)));
                }
            }

            if (input && spec.StdinOnce && !spec.Tty && Interlocked.Exchange(ref closedOnce, 1) == 0)
            {
                supervisor.Stdin?.Close(); // the first attached client's input ended
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            ctx.Logger.LogDebug(e, "attach connection ended");
        }
    }

    private async Task<bool> ReadFullyAsync(Stream stream, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(read), stop.Token).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    /// <summary>The client's end of an input connection: each write is one data frame; disposing ends the connection.</summary>
    private sealed class InputStream(Socket socket) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            var frame = new byte[buffer.Length + 5];
            frame[0] = Data;
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), buffer.Length);
            buffer.CopyTo(frame.AsSpan(5));
            int sent = 0;
            while (sent < frame.Length)
            {
                sent += socket.Send(frame.AsSpan(sent));
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var frame = new byte[buffer.Length + 5];
            frame[0] = Data;
            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), buffer.Length);
            buffer.CopyTo(frame.AsMemory(5));
            await socket.SendAsync(frame, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                try
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                }

                socket.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
