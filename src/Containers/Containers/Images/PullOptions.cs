namespace Containers.Images;

/// <summary>What to pull.</summary>
public sealed record PullOptions
{
    /// <summary>The platform to pick from an index; default linux/amd64 here (this machine's).</summary>
    public Oci.Platform? Platform { get; init; }
}

/// <summary>When a container start pulls its image (compose's <c>pull_policy</c>, docker's <c>--pull</c>).</summary>
public enum PullPolicy
{
    /// <summary>Pull only when the image is not in the store (default).</summary>
    Missing,

    /// <summary>Always pull (a cheap manifest check when nothing changed).</summary>
    Always,

    /// <summary>Never pull: a missing image is an error.</summary>
    Never,
}
