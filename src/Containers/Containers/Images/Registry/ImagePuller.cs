using System.IO.Pipelines;
using Containers.Images.Snapshots;

namespace Containers.Images.Registry;

/// <summary>
/// Pulls an image: resolves the manifest (choosing the platform from an index), then downloads the layers
/// concurrently, each one streamed at once into its blob (digest-verified) and its snapshot (diff-ID-verified).
/// Blobs first, then config and manifest, then the name: a crash never leaves a name on a partial image.
/// </summary>
internal sealed class ImagePuller(ImageStore store, RegistryClient client, RegistryOptions options)
{
    /// <summary>Pulls <paramref name="reference"/> from <paramref name="from"/> (itself, or a mirror of it) and names it <paramref name="reference"/>.</summary>
    public async Task<LocalImage> PullAsync(ImageReference reference, ImageReference from, Platform platform, IProgress<LayerProgress>? progress, CancellationToken ct)
    {
        using var gc = store.Content.GcLock(exclusive: false);
        var (body, mediaType) = await client.GetManifestAsync(from, from.ManifestReference, ct).ConfigureAwait(false);
        if (reference.Digest is { } pinned && pinned.WithHash(HashOf(pinned, body)) != pinned)
        {
            throw new DigestMismatchException($"{reference}: the registry's manifest does not have the digest asked for");
        }

        mediaType = Classify(reference, body, mediaType);
        if (MediaTypes.IsIndex(mediaType))
        {
            var index = Deserialize(body, OciJsonContext.Default.ImageIndex, reference);
            var chosen = index.Manifests.FirstOrDefault(m => MediaTypes.IsManifest(m.MediaType) && platform.Matches(m.Platform))
                ?? throw new ImageNotFoundException($"{reference}: no manifest for platform {platform} (the image offers {string.Join(", ", index.Manifests.Select(m => m.Platform?.ToString() ?? "?"))})");
            var digest = chosen.ParsedDigest;
            (body, mediaType) = await client.GetManifestAsync(from, digest.ToString(), ct).ConfigureAwait(false);
            if (digest.WithHash(HashOf(digest, body)) != digest)
            {
                throw new DigestMismatchException($"{reference}: manifest {digest} from the registry has another digest; discarded");
            }

            mediaType = Classify(reference, body, chosen.MediaType);
        }

        var manifest = Deserialize(body, OciJsonContext.Default.ImageManifest, reference);
        var configDigest = manifest.Config.ParsedDigest;
        var configBytes = await FetchSmallBlobAsync(from, manifest.Config, ct).ConfigureAwait(false);
        var config = Deserialize(configBytes, OciJsonContext.Default.ImageConfig, reference);
        if (config.RootFs.DiffIds.Length != manifest.Layers.Length)
        {
            throw new ImageException($"{reference}: the config lists {config.RootFs.DiffIds.Length} layers, the manifest {manifest.Layers.Length}");
        }

        if (!string.IsNullOrEmpty(config.Os) && (config.Os != platform.Os || config.Architecture != platform.Architecture))
        {
            throw new ImageException($"{reference}: the image is for {config.Os}/{config.Architecture}, not {platform}");
        }

        var chain = Digest.Chains(config.RootFs.DiffIds);

        using var slots = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentDownloads));
        await Task.WhenAll(manifest.Layers.Select((layer, i) => Task.Run(async () =>
        {
            progress?.Report(new LayerProgress(layer.ParsedDigest, LayerPhase.Waiting, 0, layer.Size));
            await slots.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                await EnsureLayerAsync(from, layer, Digest.Parse(config.RootFs.DiffIds[i]), chain[i], progress, ct).ConfigureAwait(false);
            }
            finally
            {
                slots.Release();
            }
        }, ct))).ConfigureAwait(false);

        WriteVerified(configDigest, configBytes);
        var manifestDigest = Digest.Of(body);
        WriteVerified(manifestDigest, body);
        var descriptor = new Descriptor { MediaType = mediaType, Digest = manifestDigest.ToString(), Size = body.Length, Platform = new Platform { Os = config.Os, Architecture = config.Architecture, Variant = config.Variant } };
        if (reference.Tag is not null)
        {
            store.SetName(descriptor, reference, reference.Repository);
        }
        else
        {
            store.SetName(descriptor, reference.WithDigest(manifestDigest), reference.Repository);
        }

        return new LocalImage(configDigest, descriptor, manifest, config, [reference.ToString()]);
    }

    private async Task EnsureLayerAsync(ImageReference reference, Descriptor layer, Digest diffId, Digest chainId, IProgress<LayerProgress>? progress, CancellationToken ct)
    {
        var digest = layer.ParsedDigest;
        var haveBlob = store.Content.Exists(digest);
        var haveSnapshot = store.Snapshots.Exists(chainId);
        if (haveBlob && haveSnapshot)
        {
            progress?.Report(new LayerProgress(digest, LayerPhase.AlreadyExists, layer.Size, layer.Size));
            return;
        }

        var compression = MediaTypes.CompressionOf(layer.MediaType);
        if (haveBlob)
        {
            await using var blob = store.Content.OpenRead(digest);
            await using var tar = LayerStreams.Decompress(blob, compression);
            store.Snapshots.Create(chainId, tar, diffId, digest.ToString());
            progress?.Report(new LayerProgress(digest, LayerPhase.Complete, layer.Size, layer.Size));
            return;
        }

        await client.OperationRetry.ExecuteAsync(async t =>
        {
            using var response = await client.GetBlobAsync(reference, digest, t).ConfigureAwait(false);
            await using var network = await response.Content.ReadAsStreamAsync(t).ConfigureAwait(false);
            using var ingest = store.Content.BeginIngest(digest, layer.Size);
            if (haveSnapshot)
            {
                await CopyAsync(network, ingest, digest, layer.Size, progress, t).ConfigureAwait(false);
                ingest.Commit();
                return;
            }

            // one pass: network -> (blob file + digest) -> pipe -> decompress -> tar -> snapshot, on two threads
            var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 8 << 20, resumeWriterThreshold: 4 << 20, useSynchronizationContext: false));
            var unpack = Task.Run(
                () =>
                {
                    using var reader = pipe.Reader.AsStream();
                    using var tar = LayerStreams.Decompress(reader, compression);
                    store.Snapshots.Create(chainId, tar, diffId, digest.ToString());
                    reader.CopyTo(Stream.Null); // whatever follows the compressed stream must still be read
                },
                t);
            try
            {
                await CopyAsync(network, ingest, digest, layer.Size, progress, t, pipe.Writer).ConfigureAwait(false);
                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
                await unpack.ConfigureAwait(false); // an unsafe or corrupt layer fails here, before the size check
                ingest.Commit(); // verifies size and digest; a mismatch throws and the snapshot is deleted below
            }
            catch (Exception e)
            {
                try
                {
                    await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
                    await unpack.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // the first error is the one to report
                }

                store.Snapshots.Delete(chainId);
                if (e is UnsafeLayerException && ingest.Written < layer.Size)
                {
                    throw new DigestMismatchException($"layer {digest}: the download ended after {ingest.Written} of {layer.Size} bytes (truncated); discarded");
                }

                throw;
            }
        }, ct).ConfigureAwait(false);
        progress?.Report(new LayerProgress(digest, LayerPhase.Complete, layer.Size, layer.Size));
    }

    private static async Task CopyAsync(Stream network, ContentStore.Ingest ingest, Digest digest, long total, IProgress<LayerProgress>? progress, CancellationToken ct, PipeWriter? tee = null)
    {
        var buffer = new byte[1 << 17];
        long done = 0, reported = 0;
        int n;
        while ((n = await network.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            ingest.Write(buffer.AsSpan(0, n));
            if (tee is not null)
            {
                var result = await tee.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                if (result.IsCompleted)
                {
                    break; // the unpacker stopped (it failed): its exception is reported
                }
            }

            done += n;
            if (progress is not null && done - reported > 512 * 1024)
            {
                reported = done;
                progress.Report(new LayerProgress(digest, LayerPhase.Transferring, done, total));
            }
        }
    }

    private async Task<byte[]> FetchSmallBlobAsync(ImageReference reference, Descriptor descriptor, CancellationToken ct)
    {
        var digest = descriptor.ParsedDigest;
        if (store.Content.Exists(digest))
        {
            return store.Content.ReadAll(digest);
        }

        using var response = await client.GetBlobAsync(reference, digest, ct).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        if (bytes.Length != descriptor.Size || digest.WithHash(HashOf(digest, bytes)) != digest)
        {
            throw new DigestMismatchException($"{reference}: blob {digest} from {reference.Registry} does not match its digest or size; discarded");
        }

        return bytes;
    }

    private void WriteVerified(Digest digest, byte[] bytes)
    {
        if (store.Content.Exists(digest))
        {
            return;
        }

        using var ingest = store.Content.BeginIngest(digest, bytes.Length);
        ingest.Write(bytes);
        ingest.Commit();
    }

    private static byte[] HashOf(Digest algorithm, byte[] body)
    {
        using var h = algorithm.CreateHash();
        h.AppendData(body);
        return h.GetHashAndReset();
    }

    private static string Classify(ImageReference reference, byte[] body, string? headerType)
    {
        ManifestProbe probe;
        try
        {
            probe = JsonSerializer.Deserialize(body, OciJsonContext.Default.ManifestProbe) ?? new ManifestProbe();
        }
        catch (JsonException e)
        {
            throw new ImageException($"{reference}: the registry's manifest is not JSON: {e.Message}", e);
        }

        if (probe.SchemaVersion == 1 || headerType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed)
        {
            throw new ImageException($"{reference}: Docker Image Format v1 (manifest schema 1) is deprecated and not supported; push the image again with a current tool to get a schema 2 or OCI manifest");
        }

        var type = probe.MediaType ?? (MediaTypes.IsIndex(headerType) || MediaTypes.IsManifest(headerType) ? headerType : null);
        return type ?? (probe.Manifests is not null ? MediaTypes.OciIndex : probe.Config is not null ? MediaTypes.OciManifest
            : throw new ImageException($"{reference}: unknown manifest type '{headerType}'"));
    }

    private static T Deserialize<T>(byte[] body, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, ImageReference reference)
    {
        try
        {
            return JsonSerializer.Deserialize(body, type) ?? throw new ImageException($"{reference}: empty {typeof(T).Name}");
        }
        catch (JsonException e)
        {
            throw new ImageException($"{reference}: invalid {typeof(T).Name}: {e.Message}", e);
        }
    }
}
