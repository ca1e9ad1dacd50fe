using System.IO.Compression;

namespace Containers.Images;

/// <summary>
/// Stores a layer made here (commit, build): the tar is written to a temp file, hashed (diff ID), unpacked as the
/// snapshot over its parent chain, and gzipped into a verified blob.
/// </summary>
internal sealed class LayerStore(ImageStore store)
{
    public async Task<(Digest Blob, long Size, Digest DiffId)> AddAsync(Action<Stream> writeTar, Digest? parentChain, string what, CancellationToken ct)
    {
        var tarPath = Path.Combine(store.Content.IngestDir, "layer-" + Guid.NewGuid().ToString("N"));
        var gz = tarPath + ".gz";
        try
        {
            await using var file = new FileStream(tarPath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            writeTar(file);
            file.Position = 0;
            var diffId = Digest.FromHash(await System.Security.Cryptography.SHA256.HashDataAsync(file, ct).ConfigureAwait(false));
            var chain = Digest.Chain(parentChain, diffId);
            if (!store.Snapshots.Exists(chain))
            {
                file.Position = 0;
                store.Snapshots.Create(chain, file, diffId, what);
            }

            file.Position = 0;
            await using (var output = new FileStream(gz, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            await using (var zip = new GZipStream(output, CompressionLevel.Fastest))
            {
                await file.CopyToAsync(zip, ct).ConfigureAwait(false);
            }

            await using var compressed = File.OpenRead(gz);
            var (blob, size) = await store.Content.IngestUnknownAsync(compressed, ct).ConfigureAwait(false);
            return (blob, size, diffId);
        }
        finally
        {
            File.Delete(tarPath);
            File.Delete(gz);
        }
    }
}
