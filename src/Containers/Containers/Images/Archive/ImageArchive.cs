using System.Formats.Tar;
using System.Text.Json.Serialization;
using Containers.Images.Snapshots;

namespace Containers.Images.Archive;

/// <summary>
/// <c>docker save</c>/<c>docker load</c> archives, both the legacy layout (<c>manifest.json</c>, <c>&lt;id&gt;.json</c>,
/// <c>&lt;dir&gt;/layer.tar</c>) and the OCI-layout variant Docker 25+ writes, plus plain OCI archives. Saved archives
/// hold an OCI layout and a <c>manifest.json</c>, so docker, podman, skopeo and umoci all read them.
/// </summary>
internal sealed class ImageArchive(ImageStore store)
{
    /// <summary>Writes <paramref name="images"/> (with the names to record) as a tar to <paramref name="output"/>.</summary>
    public async Task SaveAsync(IReadOnlyList<(LocalImage Image, ImmutableArray<ImageReference> Names)> images, Stream output, CancellationToken ct)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        var written = new HashSet<Digest>();
        var index = ImmutableArray.CreateBuilder<Descriptor>();
        var manifestJson = new List<DockerArchiveManifest>();
        await WriteBytesAsync(tar, "oci-layout", JsonSerializer.SerializeToUtf8Bytes(new OciLayoutFile(), OciJsonContext.Default.OciLayoutFile), ct).ConfigureAwait(false);
        await WriteDirAsync(tar, "blobs/", ct).ConfigureAwait(false);
        await WriteDirAsync(tar, "blobs/sha256/", ct).ConfigureAwait(false);
        foreach (var (image, names) in images)
        {
            foreach (var blob in image.Manifest.Layers.Select(l => l.ParsedDigest).Append(image.Manifest.Config.ParsedDigest).Append(image.ManifestDigest))
            {
                if (written.Add(blob))
                {
                    await using var data = store.Content.OpenRead(blob);
                    var entry = new PaxTarEntry(TarEntryType.RegularFile, $"blobs/sha256/{blob.Hex}") { DataStream = data, Mode = (UnixFileMode)0x1a4, ModificationTime = DateTimeOffset.UnixEpoch };
                    await tar.WriteEntryAsync(entry, ct).ConfigureAwait(false);
                }
            }

            var descriptor = image.ManifestDescriptor with { Annotations = null };
            if (names.IsEmpty)
            {
                index.Add(descriptor);
            }

            foreach (var name in names)
            {
                index.Add(descriptor with
                {
                    Annotations = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
                    {
                        [ContentStore.ImageNameAnnotation] = name.ToString(),
                        [ContentStore.RefNameAnnotation] = name.Tag ?? name.ToString(),
                    }),
                });
            }

            manifestJson.Add(new DockerArchiveManifest
            {
                Config = $"blobs/sha256/{image.Id.Hex}",
                RepoTags = [.. names.Where(n => n.Tag is not null).Select(n => n.ToFamiliarString())],
                Layers = [.. image.Manifest.Layers.Select(l => $"blobs/sha256/{l.ParsedDigest.Hex}")],
            });
        }

        await WriteBytesAsync(tar, "index.json", JsonSerializer.SerializeToUtf8Bytes(new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = index.ToImmutable() }, OciJsonContext.Default.ImageIndex), ct).ConfigureAwait(false);
        await WriteBytesAsync(tar, "manifest.json", JsonSerializer.SerializeToUtf8Bytes(manifestJson.ToArray(), ArchiveJsonContext.Default.DockerArchiveManifestArray), ct).ConfigureAwait(false);
    }

    /// <summary>Loads every image of a docker-save or OCI archive; returns them with the names they got.</summary>
    public async Task<IReadOnlyList<LocalImage>> LoadAsync(Stream input, CancellationToken ct)
    {
        using var gc = store.Content.GcLock(exclusive: false);
        var temp = Path.Combine(store.Content.IngestDir, "load-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        try
        {
            var files = await ReadArchiveAsync(input, temp, ct).ConfigureAwait(false);
            var loaded = files.ContainsKey("index.json") && files.ContainsKey("oci-layout")
                ? LoadOciLayout(files)
                : files.ContainsKey("manifest.json")
                    ? await LoadLegacyAsync(files, ct).ConfigureAwait(false)
                    : throw new ImageException("the archive has neither index.json (OCI layout) nor manifest.json (docker save): not an image archive");
            return loaded;
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Imports a root filesystem tarball (compressed or not) as a one-layer image (<c>docker import</c>).</summary>
    public async Task<LocalImage> ImportAsync(Stream rootfs, ImageReference? name, ContainerConfig? config, TimeProvider time, CancellationToken ct)
    {
        using var gc = store.Content.GcLock(exclusive: false);
        var (blob, size) = await store.Content.IngestUnknownAsync(rootfs, ct).ConfigureAwait(false);
        var (diffId, compression) = UnpackBlob(blob, null, null);
        var created = time.GetUtcNow();
        var imageConfig = new ImageConfig
        {
            Created = created,
            Architecture = Platform.Current.Architecture,
            Os = "linux",
            Config = config ?? new ContainerConfig(),
            RootFs = new RootFs { DiffIds = [diffId.ToString()] },
            History = [new HistoryEntry { Created = created, CreatedBy = "import", Comment = "Imported from tarball" }],
        };
        return Commit(imageConfig, [(blob, size, compression)], name);
    }

    /// <summary>Makes a manifest for <paramref name="config"/> over stored layer blobs and names it. The layers' snapshots must exist.</summary>
    public LocalImage Commit(ImageConfig config, IReadOnlyList<(Digest Blob, long Size, LayerCompression Compression)> layers, ImageReference? name, byte[]? configBytes = null)
    {
        configBytes ??= JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Default.ImageConfig);
        var configDescriptor = store.Content.Write(MediaTypes.OciConfig, configBytes);
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = configDescriptor,
            Layers = [.. layers.Select(l => new Descriptor
            {
                MediaType = l.Compression switch { LayerCompression.Gzip => MediaTypes.OciLayerGzip, LayerCompression.Zstd => MediaTypes.OciLayerZstd, _ => MediaTypes.OciLayer },
                Digest = l.Blob.ToString(),
                Size = l.Size,
            })],
        };
        var manifestDescriptor = store.Content.Write(MediaTypes.OciManifest, JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Default.ImageManifest))
            with { Platform = new Platform { Os = config.Os, Architecture = config.Architecture } };
        if (name is not null)
        {
            store.SetName(manifestDescriptor, name);
        }
        else
        {
            store.AddUnnamed(manifestDescriptor);
        }

        return new LocalImage(configDescriptor.ParsedDigest, manifestDescriptor, manifest, config, name is null ? [] : [name.ToString()]);
    }

    /// <summary>Unpacks a stored blob as the snapshot of <paramref name="chainParent"/> + its diff ID, when missing. Returns the diff ID.</summary>
    private (Digest DiffId, LayerCompression Compression) UnpackBlob(Digest blob, Digest? chainParent, Digest? expectedDiffId)
    {
        using var file = store.Content.OpenRead(blob);
        var compression = LayerStreams.Sniff(file);
        if (expectedDiffId is { } known && store.Snapshots.Exists(Digest.Chain(chainParent, known)))
        {
            return (known, compression);
        }

        using var tar = LayerStreams.Decompress(file, compression);
        if (expectedDiffId is { } expected)
        {
            return (store.Snapshots.Create(Digest.Chain(chainParent, expected), tar, expected, blob.ToString()), compression);
        }

        // diff ID unknown until read: unpack under a provisional key, then it is named by its chain
        var temp = Digest.Of(Guid.NewGuid().ToByteArray());
        var diffId = store.Snapshots.Create(temp, tar, null, blob.ToString());
        var chain = Digest.Chain(chainParent, diffId);
        if (store.Snapshots.Exists(chain))
        {
            store.Snapshots.Delete(temp);
        }
        else
        {
            Directory.Move(store.Snapshots.PathOf(temp), store.Snapshots.PathOf(chain));
        }

        return (diffId, compression);
    }

    private IReadOnlyList<LocalImage> LoadOciLayout(Dictionary<string, string> files)
    {
        var index = Parse(files["index.json"], OciJsonContext.Default.ImageIndex, "index.json");
        var result = new List<LocalImage>();
        foreach (var entry in ExpandIndex(index))
        {
            var (manifest, config) = store.Read(entry);
            Digest? parent = null;
            for (var i = 0; i < manifest.Layers.Length; i++)
            {
                var diffId = Digest.Parse(config.RootFs.DiffIds[i]);
                UnpackBlob(manifest.Layers[i].ParsedDigest, parent, diffId);
                parent = Digest.Chain(parent, diffId);
            }

            var name = ArchiveName(entry);
            var descriptor = entry with { Annotations = null };
            if (name is not null)
            {
                store.SetName(descriptor, name);
            }
            else
            {
                store.AddUnnamed(descriptor);
            }

            result.Add(new LocalImage(manifest.Config.ParsedDigest, descriptor, manifest, config, name is null ? [] : [name.ToString()]));
        }

        return result;
    }

    private IEnumerable<Descriptor> ExpandIndex(ImageIndex index)
    {
        foreach (var d in index.Manifests)
        {
            if (MediaTypes.IsManifest(d.MediaType))
            {
                yield return d;
            }
            else if (MediaTypes.IsIndex(d.MediaType))
            {
                var nested = JsonSerializer.Deserialize(store.Content.ReadAll(d.ParsedDigest), OciJsonContext.Default.ImageIndex) ?? new ImageIndex();
                var chosen = nested.Manifests.FirstOrDefault(m => MediaTypes.IsManifest(m.MediaType) && Platform.Current.Matches(m.Platform) && store.Content.Exists(m.ParsedDigest))
                    ?? throw new ImageNotFoundException($"index {d.Digest} in the archive has no manifest for {Platform.Current}");
                yield return chosen with { Annotations = d.Annotations };
            }
        }
    }

    private static ImageReference? ArchiveName(Descriptor d)
    {
        if (d.Annotations?.GetValueOrDefault(ContentStore.ImageNameAnnotation) is { } full && ImageReference.TryParse(full) is { } r)
        {
            return r;
        }

        return d.Annotations?.GetValueOrDefault(ContentStore.RefNameAnnotation) is { } refName && (refName.Contains('/', StringComparison.Ordinal) || refName.Contains(':', StringComparison.Ordinal))
            ? ImageReference.TryParse(refName)
            : null;
    }

    private async Task<IReadOnlyList<LocalImage>> LoadLegacyAsync(Dictionary<string, string> files, CancellationToken ct)
    {
        var manifests = Parse(files["manifest.json"], ArchiveJsonContext.Default.DockerArchiveManifestArray, "manifest.json");
        var result = new List<LocalImage>();
        foreach (var m in manifests)
        {
            var configBytes = File.ReadAllBytes(Member(files, m.Config));
            var config = JsonSerializer.Deserialize(configBytes, OciJsonContext.Default.ImageConfig) ?? throw new ImageException($"archive member {m.Config} is not an image config");
            if (config.RootFs.DiffIds.Length != m.Layers.Length)
            {
                throw new ImageException($"archive member {m.Config} lists {config.RootFs.DiffIds.Length} layers, manifest.json {m.Layers.Length}");
            }

            var layers = new List<(Digest, long, LayerCompression)>();
            Digest? parent = null;
            for (var i = 0; i < m.Layers.Length; i++)
            {
                Digest blob;
                long size;
                var path = Member(files, m.Layers[i]);
                await using (var f = File.OpenRead(path))
                {
                    (blob, size) = await store.Content.IngestUnknownAsync(f, ct).ConfigureAwait(false);
                }

                var diffId = Digest.Parse(config.RootFs.DiffIds[i]);
                var (_, compression) = UnpackBlob(blob, parent, diffId);
                layers.Add((blob, size, compression));
                parent = Digest.Chain(parent, diffId);
            }

            var names = (m.RepoTags ?? []).Select(ImageReference.Parse).ToArray();
            var image = Commit(config, layers, names.FirstOrDefault(), configBytes);
            foreach (var extra in names.Skip(1))
            {
                store.SetName(image.ManifestDescriptor, extra);
            }

            result.Add(image with { Names = [.. names.Select(n => n.ToString())] });
        }

        return result;
    }

    /// <summary>
    /// Reads the archive: <c>blobs/sha256/&lt;hex&gt;</c> members go straight into the content store (verified by
    /// name), other regular files to numbered temp files (their names never become paths).
    /// </summary>
    private async Task<Dictionary<string, string>> ReadArchiveAsync(Stream input, string temp, CancellationToken ct)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var reader = new TarReader(input, leaveOpen: true);
        var n = 0;
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new ImageException($"not a valid image archive (tar): {e.Message}", e);
            }

            if (entry is null)
            {
                break;
            }

            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
            {
                continue;
            }

            var name = entry.Name.TrimStart('.', '/');
            if (name.StartsWith("blobs/sha256/", StringComparison.Ordinal) && Digest.TryParse("sha256:" + name[13..], out var digest))
            {
                await store.Content.IngestAsync(entry.DataStream, digest, entry.Length, ct).ConfigureAwait(false);
                files[name] = store.Content.BlobPath(digest);
                continue;
            }

            var path = Path.Combine(temp, (n++).ToString(System.Globalization.CultureInfo.InvariantCulture));
            await using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                await entry.DataStream.CopyToAsync(f, ct).ConfigureAwait(false);
            }

            files[name] = path;
        }

        return files;
    }

    private static string Member(Dictionary<string, string> files, string name) =>
        files.GetValueOrDefault(name.TrimStart('.', '/')) ?? throw new ImageException($"the archive's manifest.json names '{name}', which the archive does not hold");

    private static T Parse<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string member)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), type) ?? throw new ImageException($"archive member {member} is empty");
        }
        catch (JsonException e)
        {
            throw new ImageException($"archive member {member} is not valid: {e.Message}", e);
        }
    }

    private static async Task WriteBytesAsync(TarWriter tar, string name, byte[] bytes, CancellationToken ct)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes), Mode = (UnixFileMode)0x1a4, ModificationTime = DateTimeOffset.UnixEpoch };
        await tar.WriteEntryAsync(entry, ct).ConfigureAwait(false);
    }

    private static async Task WriteDirAsync(TarWriter tar, string name, CancellationToken ct) =>
        await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)0x1ed, ModificationTime = DateTimeOffset.UnixEpoch }, ct).ConfigureAwait(false);
}

/// <summary>One entry of a docker-save <c>manifest.json</c>.</summary>
internal sealed record DockerArchiveManifest
{
    [JsonPropertyName("Config")]
    public string Config { get; init; } = "";

    [JsonPropertyName("RepoTags")]
    public ImmutableArray<string>? RepoTags { get; init; }

    [JsonPropertyName("Layers")]
    public ImmutableArray<string> Layers { get; init; } = [];
}

[JsonSerializable(typeof(DockerArchiveManifest[]))]
internal sealed partial class ArchiveJsonContext : JsonSerializerContext;
