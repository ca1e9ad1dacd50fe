using Containers.Images.Snapshots;

namespace Containers.Images;

/// <summary>
/// The local side of images: the OCI layout (blobs + index.json naming manifests), the snapshots unpacked from
/// their layers, name resolution, tagging, removal and garbage collection.
/// </summary>
internal sealed class ImageStore
{
    private readonly ISyscalls sys;

    public ImageStore(string root, ISyscalls sys)
    {
        this.sys = sys;
        Content = new ContentStore(Path.Combine(root, "images"), sys);
        Snapshots = new Snapshotter(Path.Combine(root, "snapshots"), sys);
    }

    public ContentStore Content { get; }

    public Snapshotter Snapshots { get; }

    internal ISyscalls Sys => sys;

    /// <summary>Removes what crashed writers left (ingest files, half-unpacked snapshots).</summary>
    public void Sweep()
    {
        Content.SweepIngest();
        Snapshots.SweepTemp();
    }

    /// <summary>Every image, one entry per manifest, with all its names.</summary>
    public IReadOnlyList<LocalImage> List()
    {
        var index = Content.ReadIndex();
        return index.Manifests
            .Where(d => MediaTypes.IsManifest(d.MediaType))
            .GroupBy(d => d.Digest)
            .Select(g => Load(g.First(), [.. g.Select(NameOf).OfType<string>().Distinct()]))
            .OfType<LocalImage>()
            .ToArray();
    }

    /// <summary>
    /// Finds an image by name (<c>busybox</c>, <c>localhost:5000/a:t</c>), by <c>name@digest</c>, by full image ID
    /// (<c>sha256:...</c>) or a unique ID prefix. Returns null when none matches.
    /// </summary>
    public LocalImage? Find(string nameOrId)
    {
        var images = List();

        // a name first, then an ID (docker's order: "cafe" is the image named cafe before an ID starting cafe)
        if (ImageReference.TryParse(nameOrId) is { } reference)
        {
            if (reference.Digest is { } digest)
            {
                var pinned = images.FirstOrDefault(i => i.ManifestDigest == digest && i.Names.Any(n => ImageReference.Parse(n).Name == reference.Name))
                    ?? images.FirstOrDefault(i => i.ManifestDigest == digest);
                if (pinned is not null)
                {
                    return pinned;
                }
            }
            else if (images.FirstOrDefault(i => i.Names.Contains(reference.ToString())) is { } named)
            {
                return named;
            }
        }

        var hex = nameOrId.StartsWith("sha256:", StringComparison.Ordinal) ? nameOrId[7..] : nameOrId;
        if (hex.Length < 4 || !hex.All(char.IsAsciiHexDigitLower))
        {
            return null;
        }

        var byId = images.Where(i => i.Id.Hex.StartsWith(hex, StringComparison.Ordinal)).ToArray();
        return byId.Length switch
        {
            0 => null,
            1 => byId[0],
            _ => throw new ImageException($"image ID prefix '{nameOrId}' is ambiguous: it matches {byId.Length} images"),
        };
    }

    /// <summary>Like <see cref="Find"/>, but throws <see cref="ImageNotFoundException"/>.</summary>
    public LocalImage Get(string nameOrId) =>
        Find(nameOrId) ?? throw new ImageNotFoundException($"no such image: {nameOrId}");

    /// <summary>Reads a manifest and its config from the store.</summary>
    public (ImageManifest Manifest, ImageConfig Config) Read(Descriptor manifest)
    {
        var m = JsonSerializer.Deserialize(Content.ReadAll(manifest.ParsedDigest), OciJsonContext.Default.ImageManifest)
            ?? throw new ImageException($"manifest {manifest.Digest} is empty");
        var c = JsonSerializer.Deserialize(Content.ReadAll(m.Config.ParsedDigest), OciJsonContext.Default.ImageConfig)
            ?? throw new ImageException($"config {m.Config.Digest} is empty");
        return (m, c);
    }

    /// <summary>
    /// Names <paramref name="manifest"/> <paramref name="reference"/> (moving the name if another image had it; that
    /// image stays, dangling, if nothing else names it). The manifest and everything it references must be stored.
    /// </summary>
    public void SetName(Descriptor manifest, ImageReference reference, string? source = null)
    {
        var name = reference.ToString();
        Content.UpdateIndex(list =>
        {
            var builder = list.ToBuilder();
            var previous = builder.FirstOrDefault(d => NameOf(d) == name);
            if (previous is not null)
            {
                builder.Remove(previous);
                if (previous.Digest != manifest.Digest && !builder.Any(d => d.Digest == previous.Digest))
                {
                    builder.Add(previous with { Annotations = null }); // dangling, as docker keeps it
                }
            }

            builder.RemoveAll(d => d.Digest == manifest.Digest && NameOf(d) is null);
            var annotations = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
            {
                [ContentStore.RefNameAnnotation] = name,
                [ContentStore.ImageNameAnnotation] = name,
            });
            if (source is not null)
            {
                annotations = annotations.SetItem(SourceAnnotation, source);
            }

            builder.Add(new Descriptor { MediaType = manifest.MediaType, Digest = manifest.Digest, Size = manifest.Size, Annotations = annotations, Platform = manifest.Platform });
            return (builder.ToImmutable(), 0);
        });
    }

    /// <summary>Adds an unnamed (dangling) entry for a manifest that no name points to.</summary>
    public void AddUnnamed(Descriptor manifest) => Content.UpdateIndex(list =>
        list.Any(d => d.Digest == manifest.Digest) ? (list, 0) : (list.Add(manifest with { Annotations = null }), 0));

    /// <summary>Removes one name; returns false when no image had it.</summary>
    public bool RemoveName(string name) => Content.UpdateIndex(list =>
    {
        var entry = list.FirstOrDefault(d => NameOf(d) == name);
        return entry is null ? (list, false) : (list.Remove(entry), true);
    });

    /// <summary>Removes every entry of a manifest (all its names).</summary>
    public void RemoveManifest(Digest manifest) => Content.UpdateIndex(list =>
        (list.RemoveAll(d => d.Digest == manifest.ToString()), 0));

    /// <summary>The registry repository a name was pulled from, for cross-repository mounts on push.</summary>
    public const string SourceAnnotation = "io.containers-dotnet.source";

    /// <summary>
    /// Deletes blobs and snapshots that no image in index.json references and no container uses
    /// (<paramref name="inUse"/>: snapshot directories named in container specs). Returns the bytes freed.
    /// </summary>
    public long CollectGarbage(IReadOnlySet<string> inUse)
    {
        using var gc = Content.GcLock(exclusive: true);
        var keepBlobs = new HashSet<Digest>();
        var keepSnapshots = new HashSet<Digest>();
        foreach (var d in Content.ReadIndex().Manifests)
        {
            var digest = d.ParsedDigest;
            keepBlobs.Add(digest);
            if (!Content.Exists(digest))
            {
                continue;
            }

            if (MediaTypes.IsIndex(d.MediaType))
            {
                var index = JsonSerializer.Deserialize(Content.ReadAll(digest), OciJsonContext.Default.ImageIndex);
                foreach (var m in index?.Manifests ?? [])
                {
                    keepBlobs.Add(m.ParsedDigest);
                }

                continue;
            }

            var (manifest, config) = Read(d);
            keepBlobs.Add(manifest.Config.ParsedDigest);
            keepBlobs.UnionWith(manifest.Layers.Select(l => l.ParsedDigest));
            keepSnapshots.UnionWith(Digest.Chains(config.RootFs.DiffIds));
        }

        long freed = 0;
        foreach (var blob in Content.ListBlobs().Where(b => !keepBlobs.Contains(b)).ToArray())
        {
            freed += Content.Size(blob);
            Content.Delete(blob);
        }

        foreach (var snapshot in Snapshots.List().Where(s => !keepSnapshots.Contains(s) && !inUse.Contains(Snapshots.PathOf(s))).ToArray())
        {
            Snapshots.Delete(snapshot);
        }

        return freed;
    }

    /// <summary>The snapshot directories of an image, topmost first (overlay lowerdir order). Throws when one is missing.</summary>
    public IReadOnlyList<string> LowerDirs(LocalImage image) => Snapshots.LowerDirs(image.ChainIds, $"image {image.Id.Short}");

    internal static string? NameOf(Descriptor d) =>
        d.Annotations?.GetValueOrDefault(ContentStore.ImageNameAnnotation) is { } full
            ? full
            : d.Annotations?.GetValueOrDefault(ContentStore.RefNameAnnotation) is { } refName && ImageReference.TryParse(refName) is { } r ? r.ToString() : null;

    private LocalImage? Load(Descriptor descriptor, ImmutableArray<string> names)
    {
        try
        {
            var (manifest, config) = Read(descriptor);
            return new LocalImage(manifest.Config.ParsedDigest, descriptor, manifest, config, names);
        }
        catch (ImageNotFoundException)
        {
            return null; // a foreign entry whose blobs are gone: not an image we can use
        }
    }
}
