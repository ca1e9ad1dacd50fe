using System.Buffers.Binary;

namespace Containers.DockerApi;

/// <summary>Docker's stream framing: with a TTY the raw bytes; without, an 8-byte header (stream, 0, 0, 0, big-endian length) per frame.</summary>
internal sealed class FrameWriter(Stream output, bool tty)
{
    private readonly SemaphoreSlim gate = new(1, 1);

    public async Task WriteAsync(int stream, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        if (data.Length == 0)
        {
            return;
        }

        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!tty)
            {
                var header = new byte[8];
                header[0] = (byte)stream;
                BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)data.Length);
                await output.WriteAsync(header, ct).ConfigureAwait(false);
            }

            await output.WriteAsync(data, ct).ConfigureAwait(false);
            await output.FlushAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Copies <paramref name="source"/> into frames of <paramref name="stream"/> until it ends.</summary>
    public async Task PumpAsync(int stream, Stream source, CancellationToken ct = default)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            int n;
            while ((n = await source.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                await WriteAsync(stream, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            }
        }
        catch (IOException)
        {
            // a pty master reads EIO once the last slave is closed: that is its end
        }
    }
}
