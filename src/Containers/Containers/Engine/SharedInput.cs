namespace Containers;

/// <summary>A container's own stdin or terminal handed to one client: disposing it closes the target only when asked to (StdinOnce).</summary>
internal sealed class SharedInput(Stream target, bool closeOnDispose) : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => target.Write(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => target.WriteAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => target.WriteAsync(buffer, offset, count, cancellationToken);

    public override void Flush() => target.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => target.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && closeOnDispose)
        {
            target.Dispose();
        }

        base.Dispose(disposing);
    }
}
