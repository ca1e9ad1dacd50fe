using System.Security.Cryptography;

namespace Containers.Images;

/// <summary>A read-only pass-through stream that hashes what is read and, optionally, copies it to a sink.</summary>
internal sealed class HashingStream(Stream inner, IncrementalHash hash, Action<ReadOnlySpan<byte>>? sink = null, bool leaveOpen = true) : Stream
{
    private Digest? digest;

    public long BytesRead { get; private set; }

    /// <summary>The digest of everything read; valid once the caller is done reading.</summary>
    public Digest Digest => digest ??= Digest.FromHash(hash.GetHashAndReset());

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public static IncrementalHash Sha256() => IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        Account(buffer[..n]);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Account(buffer.Span[..n]);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            hash.Dispose();
            if (!leaveOpen)
            {
                inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    private void Account(ReadOnlySpan<byte> data)
    {
        if (data.Length > 0)
        {
            hash.AppendData(data);
            sink?.Invoke(data);
            BytesRead += data.Length;
        }
    }
}
