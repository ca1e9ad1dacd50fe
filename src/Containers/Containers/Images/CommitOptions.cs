namespace Containers.Images;

/// <summary>What <see cref="ContainerEngine.CommitAsync"/> records in the new image.</summary>
public sealed record CommitOptions
{
    /// <summary>The author (<c>-a</c>).</summary>
    public string? Author { get; init; }

    /// <summary>The commit message (<c>-m</c>), kept as the history entry's comment.</summary>
    public string? Message { get; init; }

    /// <summary>Changes to the run configuration, applied over the container's (<c>-c 'CMD ["sh"]'</c>).</summary>
    public Func<Oci.ContainerConfig, Oci.ContainerConfig>? Changes { get; init; }

    /// <summary>Freeze a running container while its changes are read (default true, as docker).</summary>
    public bool Pause { get; init; } = true;
}
