namespace Containers.Build;

/// <summary>What to build (docker build's options).</summary>
public sealed record BuildOptions
{
    /// <summary>The build context directory.</summary>
    public required string ContextDirectory { get; init; }

    /// <summary>The Dockerfile (default: <c>Dockerfile</c> in the context).</summary>
    public string? DockerfilePath { get; init; }

    /// <summary>Names for the result (<c>-t</c>).</summary>
    public ImmutableArray<string> Tags { get; init; } = [];

    /// <summary><c>--build-arg</c> values.</summary>
    public ImmutableDictionary<string, string> BuildArgs { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>The stage to build (<c>--target</c>); the last one when null.</summary>
    public string? Target { get; init; }

    /// <summary>Ignore the cache (<c>--no-cache</c>).</summary>
    public bool NoCache { get; init; }

    /// <summary>Network of RUN steps: <c>default</c> (the default bridge), <c>none</c> or <c>host</c>.</summary>
    public string Network { get; init; } = "default";

    /// <summary>Secrets for <c>RUN --mount=type=secret,id=ID</c>: id to file path.</summary>
    public ImmutableDictionary<string, string> Secrets { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>
    /// SOURCE_DATE_EPOCH (seconds): fixed timestamps in history and config and file mtimes clamped to it, so two
    /// builds of the same inputs give byte-identical images.
    /// </summary>
    public long? SourceDateEpoch { get; init; }
}

/// <summary>What a build reports as it goes (docker's plain progress).</summary>
/// <param name="Step">The step number (1-based across the build).</param>
/// <param name="Text">A line: the step's header, <c>CACHED</c>, a line of RUN output, or <c>DONE 0.3s</c>.</param>
public readonly record struct BuildEvent(int Step, string Text);

/// <summary>The outcome of a build.</summary>
/// <param name="Image">The image made (named per the tags).</param>
/// <param name="Steps">Steps run or taken from the cache.</param>
/// <param name="CachedSteps">Steps taken from the cache.</param>
/// <param name="Warnings">Warnings about the Dockerfile (legacy forms).</param>
public sealed record BuildResult(Images.LocalImage Image, int Steps, int CachedSteps, ImmutableArray<string> Warnings);
