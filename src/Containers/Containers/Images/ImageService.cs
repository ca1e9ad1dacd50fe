using Containers.Images.Archive;
using Containers.Images.Registry;

namespace Containers.Images;

/// <summary>
/// Images of an engine's root: pull and push (OCI distribution API), list, inspect, tag, remove, prune,
/// save and load (docker-save and OCI archives), import of a rootfs tarball. Reached as <see cref="ContainerEngine.Images"/>.
/// </summary>
public sealed class ImageService : IDisposable
{
    private readonly Lazy<(RegistryClient Client, RegistrySources Sources)> registry;
    private readonly RegistryOptions options;
    private readonly Microsoft.Extensions.Logging.ILogger logger;
    private readonly Func<IEnumerable<Runtime.ContainerState>> containers;
    private readonly TimeProvider time;

    internal ImageService(ImageStore store, RegistryOptions options, Func<IEnumerable<Runtime.ContainerState>> containers, TimeProvider time, Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        Store = store;
        this.options = options;
        this.containers = containers;
        this.time = time;
        this.logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        // the mirror files are read at the first registry call, not by every engine that never talks to one
        registry = new(() =>
        {
            var sources = RegistrySources.Load(options);
            return (new RegistryClient(sources.Insecure.IsEmpty ? options : options with { InsecureRegistries = options.InsecureRegistries.AddRange(sources.Insecure) }), sources);
        });
    }

    private RegistryClient Client => registry.Value.Client;

    /// <summary>The OCI image layout directory (readable by skopeo and umoci as <c>oci:&lt;dir&gt;:&lt;name&gt;</c>).</summary>
    public string LayoutDirectory => Store.Content.Dir;

    internal ImageStore Store { get; }

    internal ImageArchive Archive => new(Store);

    /// <summary>
    /// Pulls <paramref name="reference"/> from its registry and names it locally. Throws <see cref="ImageNotFoundException"/>
    /// (unknown repository or tag, naming registry and repository), <see cref="RegistryException"/> (auth, HTTP),
    /// <see cref="DigestMismatchException"/>, <see cref="UnsafeLayerException"/>; the store keeps nothing partial.
    /// </summary>
    public Task<LocalImage> PullAsync(string reference, PullOptions? pullOptions = null, IProgress<LayerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var parsed = ImageReference.Parse(reference);
        return PullFromSourcesAsync(parsed, pullOptions?.Platform ?? Platform.Current, progress, cancellationToken);
    }

    /// <summary>Tries the reference's mirrors in order, then its registry; names the image as asked whichever served it.</summary>
    private async Task<LocalImage> PullFromSourcesAsync(ImageReference reference, Platform platform, IProgress<LayerProgress>? progress, CancellationToken ct)
    {
        var sources = registry.Value.Sources.For(reference);
        var failures = new List<(ImageReference Source, ImageException Error)>();
        foreach (var source in sources)
        {
            try
            {
                return await Network(source, "pull", () => new ImagePuller(Store, Client, options).PullAsync(reference, source, platform, progress, ct)).ConfigureAwait(false);
            }
            catch (ImageException e) when (sources.Count > 1 && e is RegistryException or ImageNotFoundException or DigestMismatchException)
            {
                failures.Add((source, e));
                if (failures.Count < sources.Count)
                {
                    Microsoft.Extensions.Logging.LoggerExtensions.LogWarning(logger, "pull {Reference}: {Source} failed, trying the next source: {Error}", reference, source.Registry, e.Message);
                }
            }
        }

        var message = $"pull {reference}: every source failed: " + string.Join("; ", failures.Select(f => $"{f.Source.Registry}: {f.Error.Message}"));
        throw failures.All(f => f.Error is ImageNotFoundException) ? new ImageNotFoundException(message) : new RegistryException(message, (failures[^1].Error as RegistryException)?.StatusCode ?? 0, failures[^1].Error);
    }

    /// <summary>
    /// Pushes the local image <paramref name="source"/> to <paramref name="target"/> (default: its own name).
    /// Returns the manifest digest. Throws <see cref="ImageNotFoundException"/> or <see cref="RegistryException"/>.
    /// </summary>
    public Task<Digest> PushAsync(string source, string? target = null, IProgress<LayerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var image = Store.Get(source);
        var destination = ImageReference.Parse(target ?? (ImageReference.TryParse(source) is { } r && image.Names.Contains(r.ToString()) ? r.ToString()
            : image.Names.FirstOrDefault() ?? throw new ImageException($"image {source} has no name to push it under; give a target")));
        return Network(destination, "push", () => new ImagePusher(Store, Client, options).PushAsync(image, destination, progress, cancellationToken));
    }

    /// <summary>Network failures that outlived the retries become a <see cref="RegistryException"/> naming the registry.</summary>
    private static async Task<T> Network<T>(ImageReference reference, string what, Func<Task<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or HttpIOException)
        {
            throw new RegistryException($"{what} {reference}: cannot talk to registry {reference.Registry}: {e.Message}", (int?)(e as HttpRequestException)?.StatusCode ?? 0, e);
        }
        catch (Exception e) when (e is IOException or Linux.SyscallException)
        {
            throw new ImageException($"{what} {reference}: {e.Message}", e); // the local disk (full, read-only): nothing was committed
        }
    }

    /// <summary>The tags of a repository in its registry.</summary>
    public Task<IReadOnlyList<string>> ListTagsAsync(string repository, CancellationToken cancellationToken = default)
    {
        var parsed = ImageReference.Parse(repository);
        return Network(parsed, "list tags of", () => Client.ListTagsAsync(parsed, cancellationToken));
    }

    /// <summary>Every local image.</summary>
    public IReadOnlyList<LocalImage> List() => Store.List();

    /// <summary>An image by name, <c>name@digest</c>, ID or unique ID prefix, or null.</summary>
    public LocalImage? Find(string nameOrId) => Store.Find(nameOrId);

    /// <summary>An image by name, <c>name@digest</c>, ID or unique ID prefix. Throws <see cref="ImageNotFoundException"/>.</summary>
    public LocalImage Get(string nameOrId) => Store.Get(nameOrId);

    /// <summary>The image, pulled first when <paramref name="policy"/> asks for it.</summary>
    public async Task<LocalImage> EnsureAsync(string reference, PullPolicy policy = PullPolicy.Missing, IProgress<LayerProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var local = Store.Find(reference);
        return policy switch
        {
            PullPolicy.Never => local ?? throw new ImageNotFoundException($"no such image: {reference} (and the pull policy is never)"),
            PullPolicy.Missing when local is not null => local,
            _ => await PullAsync(reference, null, progress, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>Gives the image <paramref name="source"/> the name <paramref name="target"/>. Throws <see cref="ImageNotFoundException"/>.</summary>
    public void Tag(string source, string target)
    {
        var image = Store.Get(source);
        Store.SetName(image.ManifestDescriptor with { Annotations = null }, ImageReference.Parse(target));
    }

    /// <summary>
    /// docker rmi: removing one of several names only untags; removing the last name (or by ID) deletes the image,
    /// unless a container uses it (then <see cref="ContainerConflictException"/>, unless <paramref name="force"/>).
    /// Returns docker's lines: <c>Untagged: ...</c>, <c>Deleted: sha256:...</c>.
    /// </summary>
    public IReadOnlyList<string> Remove(string nameOrId, bool force = false)
    {
        var image = Store.Get(nameOrId);
        var lines = new List<string>();
        var reference = ImageReference.TryParse(nameOrId);
        var byName = reference is not null && image.Names.Contains(reference.ToString());
        if (byName && image.Names.Length > 1)
        {
            Store.RemoveName(reference!.ToString());
            return [$"Untagged: {reference.ToFamiliarString()}"];
        }

        if (!byName && image.Names.Length > 1 && !force)
        {
            throw new ContainerConflictException($"unable to delete {image.Id.Short} (must be forced) - image is referenced in multiple repositories");
        }

        var users = containers().Where(c => c.Spec.ImageId == image.Id.ToString()).ToArray();
        if (users.Length > 0 && !force)
        {
            throw new ContainerConflictException($"unable to remove image {nameOrId} (must force) - container {users[0].Id[..12]} is using its referenced image {image.Id.Short}");
        }

        lines.AddRange(image.Names.Select(n => $"Untagged: {ImageReference.Parse(n).ToFamiliarString()}"));
        Store.RemoveManifest(image.ManifestDigest);
        lines.Add($"Deleted: {image.Id}");
        Collect();
        return lines;
    }

    /// <summary>
    /// docker image prune: removes dangling images (every image no container uses when <paramref name="all"/>), then
    /// blobs and snapshots nothing references. Returns the removed image IDs and the bytes of blobs freed.
    /// </summary>
    public (IReadOnlyList<string> Deleted, long Reclaimed) Prune(bool all = false)
    {
        var used = containers().Select(c => c.Spec.ImageId).OfType<string>().ToHashSet();
        var deleted = new List<string>();
        foreach (var image in Store.List())
        {
            if ((all || image.Names.IsEmpty) && !used.Contains(image.Id.ToString()))
            {
                Store.RemoveManifest(image.ManifestDigest);
                deleted.Add(image.Id.ToString());
            }
        }

        return (deleted, Collect());
    }

    /// <summary>Writes the images to <paramref name="output"/> as a tar (<c>docker save</c>; readable by docker, podman, skopeo).</summary>
    public Task SaveAsync(IEnumerable<string> images, Stream output, CancellationToken cancellationToken = default)
    {
        var selected = images.Select(name =>
        {
            var image = Store.Get(name);
            var r = ImageReference.TryParse(name);
            ImmutableArray<ImageReference> names = r is not null && image.Names.Contains(r.ToString()) ? [r] : [.. image.Names.Select(ImageReference.Parse)];
            return (image, names);
        }).ToArray();
        return Archive.SaveAsync(selected, output, cancellationToken);
    }

    /// <summary>Loads a docker-save or OCI archive; returns the images with their names.</summary>
    public Task<IReadOnlyList<LocalImage>> LoadAsync(Stream input, CancellationToken cancellationToken = default) =>
        Archive.LoadAsync(input, cancellationToken);

    /// <summary>
    /// Imports a root filesystem tarball as a one-layer image (<c>docker import</c>), named <paramref name="reference"/>
    /// when given, with the run configuration <paramref name="config"/>.
    /// </summary>
    public Task<LocalImage> ImportAsync(Stream rootfsTar, string? reference = null, ContainerConfig? config = null, CancellationToken cancellationToken = default) =>
        Archive.ImportAsync(rootfsTar, reference is null ? null : ImageReference.Parse(reference), config, time, cancellationToken);

    /// <summary>The image's history, newest first (<c>docker history</c>).</summary>
    public IReadOnlyList<HistoryEntry> History(string nameOrId)
    {
        var image = Store.Get(nameOrId);
        return [.. (image.Config.History ?? []).Reverse()];
    }

    /// <summary>Closes the registry connections.</summary>
    public void Dispose()
    {
        if (registry.IsValueCreated)
        {
            registry.Value.Client.Dispose();
        }
    }

    private long Collect()
    {
        var inUse = containers().SelectMany(c => c.Spec.LowerLayers.Add(c.Spec.Rootfs)).ToHashSet(StringComparer.Ordinal);
        return Store.CollectGarbage(inUse);
    }
}
