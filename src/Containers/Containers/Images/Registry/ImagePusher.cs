namespace Containers.Images.Registry;

/// <summary>
/// Pushes a stored image: each blob is skipped when the repository has it, mounted from the repository it was
/// pulled from when that is in the same registry, else uploaded (monolithic or chunked); then the manifest,
/// byte for byte as stored, so the registry's digest is ours.
/// </summary>
internal sealed class ImagePusher(ImageStore store, RegistryClient client, RegistryOptions options)
{
    public async Task<Digest> PushAsync(LocalImage image, ImageReference target, IProgress<LayerProgress>? progress, CancellationToken ct)
    {
        var sources = store.Content.ReadIndex().Manifests
            .Where(d => d.Digest == image.ManifestDescriptor.Digest)
            .Select(d => (Name: ImageStore.NameOf(d), Source: d.Annotations?.GetValueOrDefault(ImageStore.SourceAnnotation)))
            .Where(s => s.Name is not null && s.Source is not null && ImageReference.Parse(s.Name).Registry == target.Registry && s.Source != target.Repository)
            .Select(s => s.Source!)
            .Distinct()
            .ToArray();

        using var slots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentDownloads));
        var blobs = image.Manifest.Layers.Append(image.Manifest.Config).DistinctBy(d => d.Digest).ToArray();
        await Task.WhenAll(blobs.Select(async blob =>
        {
            await slots.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                await PushBlobAsync(target, blob, sources, progress, ct).ConfigureAwait(false);
            }
            finally
            {
                slots.Release();
            }
        })).ConfigureAwait(false);

        var body = store.Content.ReadAll(image.ManifestDigest);
        var mediaType = image.Manifest.MediaType ?? image.ManifestDescriptor.MediaType;
        await client.PutManifestAsync(target, target.Tag ?? image.ManifestDigest.ToString(), body, mediaType, ct).ConfigureAwait(false);
        return image.ManifestDigest;
    }

    private async Task PushBlobAsync(ImageReference target, Descriptor blob, string[] sources, IProgress<LayerProgress>? progress, CancellationToken ct)
    {
        var digest = blob.ParsedDigest;
        if (!store.Content.Exists(digest))
        {
            throw new ImageNotFoundException($"cannot push {target}: blob {digest} is not in the store (the image was loaded without it)");
        }

        if (await client.BlobExistsAsync(target, digest, ct).ConfigureAwait(false))
        {
            progress?.Report(new LayerProgress(digest, LayerPhase.AlreadyExists, blob.Size, blob.Size));
            return;
        }

        foreach (var from in sources)
        {
            if (await client.MountBlobAsync(target, digest, from, ct).ConfigureAwait(false))
            {
                progress?.Report(new LayerProgress(digest, LayerPhase.Mounted, blob.Size, blob.Size));
                return;
            }
        }

        var bytes = new Progress<long>(done => progress?.Report(new LayerProgress(digest, LayerPhase.Transferring, done, blob.Size)));
        await client.OperationRetry.ExecuteAsync(
            async t => await client.UploadBlobAsync(target, digest, () => store.Content.OpenRead(digest), blob.Size, options.PushChunkSize, progress is null ? null : bytes, t).ConfigureAwait(false),
            ct).ConfigureAwait(false);
        progress?.Report(new LayerProgress(digest, LayerPhase.Complete, blob.Size, blob.Size));
    }
}
