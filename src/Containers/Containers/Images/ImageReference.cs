using System.Text.RegularExpressions;

namespace Containers.Images;

/// <summary>
/// An image reference normalised as docker does: <c>nginx</c> is <c>docker.io/library/nginx:latest</c>,
/// <c>localhost:5000/a/b:t</c> keeps its registry, <c>repo@sha256:...</c> names content by digest.
/// </summary>
public sealed partial record ImageReference
{
    /// <summary>Docker Hub's canonical registry name.</summary>
    public const string DockerHub = "docker.io";

    private ImageReference(string registry, string repository, string? tag, Digest? digest)
    {
        Registry = registry;
        Repository = repository;
        Tag = tag;
        Digest = digest;
    }

    /// <summary>The registry host (and port), e.g. <c>docker.io</c> or <c>localhost:5000</c>.</summary>
    public string Registry { get; }

    /// <summary>The repository path within the registry, e.g. <c>library/nginx</c>.</summary>
    public string Repository { get; }

    /// <summary>The tag; <c>latest</c> when neither a tag nor a digest was given; null for a digest-only reference.</summary>
    public string? Tag { get; }

    /// <summary>The digest when the reference pins content.</summary>
    public Digest? Digest { get; }

    /// <summary><c>registry/repository</c>, e.g. <c>docker.io/library/nginx</c>.</summary>
    public string Name => $"{Registry}/{Repository}";

    /// <summary>The name as docker prints it: Docker Hub's prefix and <c>library/</c> dropped.</summary>
    public string FamiliarName => Registry == DockerHub
        ? (Repository.StartsWith("library/", StringComparison.Ordinal) ? Repository[8..] : Repository)
        : Name;

    /// <summary>The registry's API host: Docker Hub is served by <c>registry-1.docker.io</c>.</summary>
    public string ApiHost => Registry == DockerHub ? "registry-1.docker.io" : Registry;

    /// <summary>The tag or digest to ask a registry for.</summary>
    public string ManifestReference => Digest?.ToString() ?? Tag ?? "latest";

    /// <summary>
    /// Parses and normalises a reference. Throws <see cref="InvalidReferenceException"/> saying what is wrong
    /// (upper case in the repository, a bad tag, a bad digest, an empty name).
    /// </summary>
    public static ImageReference Parse(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Length == 0)
        {
            throw new InvalidReferenceException("invalid reference format: empty image name");
        }

        var rest = reference;
        Digest? digest = null;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            var d = rest[(at + 1)..];
            if (!Images.Digest.TryParse(d, out var parsed))
            {
                throw new InvalidReferenceException($"invalid reference format '{reference}': '{d}' is not a digest (sha256:<64 hex>)");
            }

            digest = parsed;
            rest = rest[..at];
        }

        string? tag = null;
        var lastColon = rest.LastIndexOf(':');
        if (lastColon > rest.LastIndexOf('/'))
        {
            tag = rest[(lastColon + 1)..];
            rest = rest[..lastColon];
            if (!TagPattern().IsMatch(tag))
            {
                throw new InvalidReferenceException($"invalid reference format '{reference}': invalid tag '{tag}' (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')");
            }
        }

        string registry, path;
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? "" : rest[..slash];
        if (slash < 0 || (first.IndexOfAny(['.', ':']) < 0 && first != "localhost" && first.ToLowerInvariant() == first))
        {
            registry = DockerHub;
            path = rest;
        }
        else
        {
            registry = first;
            path = rest[(slash + 1)..];
            if (!DomainPattern().IsMatch(registry))
            {
                throw new InvalidReferenceException($"invalid reference format '{reference}': invalid registry '{registry}'");
            }
        }

        if (registry is "index.docker.io" or "registry-1.docker.io")
        {
            registry = DockerHub;
        }

        if (registry == DockerHub && !path.Contains('/', StringComparison.Ordinal))
        {
            path = "library/" + path;
        }

        if (path.Length == 0)
        {
            throw new InvalidReferenceException($"invalid reference format '{reference}': empty repository name");
        }

        if (path.Any(char.IsUpper))
        {
            throw new InvalidReferenceException($"invalid reference format '{reference}': repository name must be lowercase");
        }

        foreach (var component in path.Split('/'))
        {
            if (!ComponentPattern().IsMatch(component))
            {
                throw new InvalidReferenceException($"invalid reference format '{reference}': invalid repository path component '{component}'");
            }
        }

        if (registry.Length + 1 + path.Length > 255)
        {
            throw new InvalidReferenceException($"invalid reference format '{reference}': repository name must not be longer than 255 characters");
        }

        return new ImageReference(registry, path, tag ?? (digest is null ? "latest" : null), digest);
    }

    /// <summary>Parses a reference, returning null when <paramref name="reference"/> is not one.</summary>
    public static ImageReference? TryParse(string reference)
    {
        try
        {
            return Parse(reference);
        }
        catch (InvalidReferenceException)
        {
            return null;
        }
    }

    /// <summary>This reference with another tag (and no digest).</summary>
    public ImageReference WithTag(string tag) => Parse($"{Name}:{tag}");

    /// <summary>This repository pinned to <paramref name="digest"/> (no tag).</summary>
    public ImageReference WithDigest(Digest digest) => new(Registry, Repository, null, digest);

    /// <summary>The full normalised form, e.g. <c>docker.io/library/nginx:latest</c>.</summary>
    public override string ToString() => Name + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>The form docker prints, e.g. <c>nginx:latest</c>.</summary>
    public string ToFamiliarString() => FamiliarName + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")]
    private static partial Regex ComponentPattern();

    [GeneratedRegex(@"^(?:(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])(?:\.(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]))*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?$")]
    private static partial Regex DomainPattern();
}
