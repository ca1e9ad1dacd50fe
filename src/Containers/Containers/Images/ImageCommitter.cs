using Containers.Images.Archive;
using Containers.Images.Snapshots;

namespace Containers.Images;

/// <summary>
/// docker commit: a container's overlay upper directory becomes a new layer (whiteouts for deletions) over its
/// image's layers; a container run from a plain rootfs directory gets that directory as its base layer.
/// </summary>
internal sealed class ImageCommitter(ImageStore store, TimeProvider time)
{
    public async Task<LocalImage> CommitAsync(ContainerState state, string upperDir, ImageReference? name, CommitOptions options, CancellationToken ct)
    {
        using var gc = store.Content.GcLock(exclusive: false);
        var spec = state.Spec;
        var parent = spec.ImageId is { } id ? store.Find(id) : null;
        var diffIds = ImmutableArray.CreateBuilder<string>();
        var layers = new List<(Digest, long, LayerCompression)>();
        var history = ImmutableArray.CreateBuilder<HistoryEntry>();
        Digest? chain = null;
        if (parent is not null)
        {
            diffIds.AddRange(parent.Config.RootFs.DiffIds);
            layers.AddRange(parent.Manifest.Layers.Select(l => (l.ParsedDigest, l.Size, MediaTypes.CompressionOf(l.MediaType))));
            history.AddRange(parent.Config.History ?? []);
            chain = parent.ChainIds.IsEmpty ? null : parent.ChainIds[^1];
        }
        else
        {
            var (blob, size, diff) = await AddLayerAsync(spec.Rootfs, overlay: false, chain, ct).ConfigureAwait(false);
            diffIds.Add(diff.ToString());
            layers.Add((blob, size, LayerCompression.Gzip));
            chain = Digest.Chain(chain, diff);
            history.Add(new HistoryEntry { Created = time.GetUtcNow(), CreatedBy = $"rootfs {spec.Rootfs}" });
        }

        var (upperBlob, upperSize, upperDiff) = await AddLayerAsync(upperDir, overlay: true, chain, ct).ConfigureAwait(false);
        diffIds.Add(upperDiff.ToString());
        layers.Add((upperBlob, upperSize, LayerCompression.Gzip));
        var now = time.GetUtcNow();
        history.Add(new HistoryEntry { Created = now, CreatedBy = string.Join(' ', spec.ProcessArgv()), Comment = options.Message, Author = options.Author });
        var config = RunConfig(spec, parent?.Config.Config);
        if (options.Changes is { } change)
        {
            config = change(config);
        }

        var imageConfig = new ImageConfig
        {
            Created = now,
            Author = options.Author,
            Architecture = parent?.Config.Architecture ?? Platform.Current.Architecture,
            Os = "linux",
            Config = config,
            RootFs = new RootFs { DiffIds = diffIds.ToImmutable() },
            History = history.ToImmutable(),
        };
        return new ImageArchive(store).Commit(imageConfig, layers, name);
    }

    private Task<(Digest Blob, long Size, Digest DiffId)> AddLayerAsync(string dir, bool overlay, Digest? parentChain, CancellationToken ct) =>
        new LayerStore(store).AddAsync(tar => new LayerWriter(store.Sys).Write(dir, tar, overlay, overlay ? LayerWriter.RuntimePlaceholders : null), parentChain, "commit", ct);

    /// <summary>The container's run configuration as an image config (what docker commit records).</summary>
    private static ContainerConfig RunConfig(ContainerSpec spec, ContainerConfig? image)
    {
        var entrypoint = spec.Entrypoint ?? [];
        var cmd = spec.ArgumentsAfterEntrypoint();
        return (image ?? new ContainerConfig()) with
        {
            Entrypoint = entrypoint.IsEmpty ? null : entrypoint,
            Cmd = cmd,
            Env = spec.Environment,
            WorkingDir = spec.WorkingDirectory,
            User = spec.User,
            StopSignal = spec.StopSignal,
            ExposedPorts = spec.ExposedPorts.IsEmpty ? image?.ExposedPorts : spec.ExposedPorts.ToImmutableSortedDictionary(p => p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp", _ => EmptyObject.Instance),
            Labels = spec.Labels.IsEmpty ? image?.Labels : spec.Labels.ToImmutableSortedDictionary(),
        };
    }
}
