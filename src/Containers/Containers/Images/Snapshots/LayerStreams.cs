using System.IO.Compression;

namespace Containers.Images.Snapshots;

/// <summary>Opens the tar inside a layer blob: gzip, zstd or none, by media type or by sniffing magic bytes.</summary>
internal static class LayerStreams
{
    /// <summary>The decompressed tar stream over <paramref name="blob"/> (left open).</summary>
    public static Stream Decompress(Stream blob, LayerCompression compression) => compression switch
    {
        LayerCompression.Gzip => new GZipStream(blob, CompressionMode.Decompress, leaveOpen: true),
        LayerCompression.Zstd => new ZstdSharp.DecompressionStream(blob, leaveOpen: true),
        _ => blob,
    };

    /// <summary>Tells the compression of a seekable blob from its first bytes (docker save archives do not say).</summary>
    public static LayerCompression Sniff(Stream seekable)
    {
        Span<byte> magic = stackalloc byte[4];
        var position = seekable.Position;
        var n = seekable.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        seekable.Position = position;
        return n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b ? LayerCompression.Gzip
            : n >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd ? LayerCompression.Zstd
            : LayerCompression.None;
    }
}
