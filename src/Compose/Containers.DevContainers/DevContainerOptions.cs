using Containers.Images.Registry;

namespace Containers.DevContainers;

/// <summary>How a dev container is brought up.</summary>
public sealed record DevContainerOptions
{
    /// <summary>The devcontainer.json to use (default: found in the workspace folder).</summary>
    public string? ConfigFile { get; init; }

    /// <summary>Remove a container made earlier for this workspace and configuration, and make a new one (<c>--remove-existing-container</c>).</summary>
    public bool RemoveExistingContainer { get; init; }

    /// <summary>Run no lifecycle command (<c>--skip-post-create</c>).</summary>
    public bool SkipLifecycleCommands { get; init; }

    /// <summary>Run the lifecycle commands up to <c>waitFor</c>'s (default updateContentCommand) and no further (<c>--skip-non-blocking-commands</c>).</summary>
    public bool SkipNonBlockingCommands { get; init; }

    /// <summary>Do not run postAttachCommand (<c>--skip-post-attach</c>).</summary>
    public bool SkipPostAttach { get; init; }

    /// <summary>Build images without the layer cache.</summary>
    public bool NoCache { get; init; }

    /// <summary>Registry access for images and OCI features (default: Docker's credential file, loopback registries over HTTP).</summary>
    public RegistryOptions Registry { get; init; } = new();

    /// <summary>The variables <c>${localEnv:X}</c> reads (default: this process's environment).</summary>
    public IReadOnlyDictionary<string, string>? LocalEnvironment { get; init; }

    /// <summary>Where progress and the commands' output go, line by line (default: nowhere).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Further labels on the container (and compose containers).</summary>
    public ImmutableDictionary<string, string> ExtraLabels { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>The cgroup parent of the containers (default: the engine's).</summary>
    public string? CgroupParent { get; init; }
}
