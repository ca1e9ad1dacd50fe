namespace Containers.Images;

/// <summary>An image in the store: its manifest, config and the names that point at it.</summary>
/// <param name="Id">The image ID: the digest of its config, as docker shows it.</param>
/// <param name="ManifestDescriptor">The descriptor of its manifest.</param>
/// <param name="Manifest">The manifest.</param>
/// <param name="Config">The image config.</param>
/// <param name="Names">Its names (<c>docker.io/library/busybox:latest</c>), empty for a dangling image.</param>
public sealed record LocalImage(
    Digest Id,
    Descriptor ManifestDescriptor,
    ImageManifest Manifest,
    ImageConfig Config,
    ImmutableArray<string> Names)
{
    /// <summary>The manifest digest (what a registry calls the image).</summary>
    public Digest ManifestDigest => ManifestDescriptor.ParsedDigest;

    /// <summary>Repository digests, <c>name@sha256:...</c>, one per repository the image is named in.</summary>
    public ImmutableArray<string> RepoDigests =>
        [.. Names.Select(n => ImageReference.Parse(n).Name + "@" + ManifestDigest).Distinct()];

    /// <summary>The sum of the (compressed) layer sizes.</summary>
    public long Size => Manifest.Layers.Sum(l => l.Size);

    /// <summary>When the image was made (from its config), or null.</summary>
    public DateTimeOffset? Created => Config.Created;

    /// <summary>The layers' chain IDs, base first.</summary>
    public ImmutableArray<Digest> ChainIds => Digest.Chains(Config.RootFs.DiffIds);
}
