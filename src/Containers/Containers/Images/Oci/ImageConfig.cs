using System.Text.Json.Serialization;

namespace Containers.Images.Oci;

/// <summary>The image configuration blob (OCI image config; Docker's has the same fields).</summary>
public sealed record ImageConfig
{
    /// <summary>When the image was created.</summary>
    [JsonPropertyName("created")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? Created { get; init; }

    /// <summary>The author.</summary>
    [JsonPropertyName("author")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Author { get; init; }

    /// <summary>CPU architecture.</summary>
    [JsonPropertyName("architecture")]
    public string Architecture { get; init; } = "";

    /// <summary>Operating system.</summary>
    [JsonPropertyName("os")]
    public string Os { get; init; } = "";

    /// <summary>CPU variant.</summary>
    [JsonPropertyName("variant")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; init; }

    /// <summary>How to run a container from the image.</summary>
    [JsonPropertyName("config")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ContainerConfig? Config { get; init; }

    /// <summary>The layers' uncompressed digests.</summary>
    [JsonPropertyName("rootfs")]
    public RootFs RootFs { get; init; } = new();

    /// <summary>The history, one entry per step (empty-layer steps included).</summary>
    [JsonPropertyName("history")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableArray<HistoryEntry>? History { get; init; }
}

/// <summary>The run configuration of an image (Docker's capitalised field names, as in the OCI config).</summary>
public sealed record ContainerConfig
{
    /// <summary>User (name or uid, optionally <c>:group</c>).</summary>
    [JsonPropertyName("User")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? User { get; init; }

    /// <summary>Exposed ports, <c>80/tcp</c> keys with empty objects.</summary>
    [JsonPropertyName("ExposedPorts")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableSortedDictionary<string, EmptyObject>? ExposedPorts { get; init; }

    /// <summary>Environment, <c>KEY=VALUE</c>.</summary>
    [JsonPropertyName("Env")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableArray<string>? Env { get; init; }

    /// <summary>Entrypoint.</summary>
    [JsonPropertyName("Entrypoint")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableArray<string>? Entrypoint { get; init; }

    /// <summary>Default command (arguments to the entrypoint).</summary>
    [JsonPropertyName("Cmd")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableArray<string>? Cmd { get; init; }

    /// <summary>Volume mount points.</summary>
    [JsonPropertyName("Volumes")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableSortedDictionary<string, EmptyObject>? Volumes { get; init; }

    /// <summary>Working directory.</summary>
    [JsonPropertyName("WorkingDir")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? WorkingDir { get; init; }

    /// <summary>Labels.</summary>
    [JsonPropertyName("Labels")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableSortedDictionary<string, string>? Labels { get; init; }

    /// <summary>The stop signal.</summary>
    [JsonPropertyName("StopSignal")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopSignal { get; init; }

    /// <summary>The health check (Docker extension).</summary>
    [JsonPropertyName("Healthcheck")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public HealthcheckConfig? Healthcheck { get; init; }

    /// <summary>Whether Cmd is already escaped (Windows; kept for fidelity).</summary>
    [JsonPropertyName("ArgsEscaped")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ArgsEscaped { get; init; }

    /// <summary>ONBUILD triggers (Docker extension).</summary>
    [JsonPropertyName("OnBuild")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableArray<string>? OnBuild { get; init; }

    /// <summary>The shell for shell-form instructions (Docker extension).</summary>
    [JsonPropertyName("Shell")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableArray<string>? Shell { get; init; }
}

/// <summary>A health check as docker stores it in an image: durations in nanoseconds.</summary>
public sealed record HealthcheckConfig
{
    /// <summary><c>["NONE"]</c>, <c>["CMD", args...]</c> or <c>["CMD-SHELL", command]</c>.</summary>
    [JsonPropertyName("Test")]
    public ImmutableArray<string> Test { get; init; } = [];

    /// <summary>Time between checks (ns; 0 = default 30 s).</summary>
    [JsonPropertyName("Interval")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Interval { get; init; }

    /// <summary>Time a check may take (ns; 0 = default 30 s).</summary>
    [JsonPropertyName("Timeout")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Timeout { get; init; }

    /// <summary>Start period during which failures do not count (ns).</summary>
    [JsonPropertyName("StartPeriod")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartPeriod { get; init; }

    /// <summary>Interval during the start period (ns; 0 = default 5 s).</summary>
    [JsonPropertyName("StartInterval")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartInterval { get; init; }

    /// <summary>Consecutive failures before unhealthy (0 = default 3).</summary>
    [JsonPropertyName("Retries")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Retries { get; init; }
}

/// <summary>The <c>rootfs</c> section of an image config.</summary>
public sealed record RootFs
{
    /// <summary>Always <c>layers</c>.</summary>
    [JsonPropertyName("type")]
    public string Type { get; init; } = "layers";

    /// <summary>Uncompressed layer digests, base first.</summary>
    [JsonPropertyName("diff_ids")]
    public ImmutableArray<string> DiffIds { get; init; } = [];
}

/// <summary>One history entry of an image.</summary>
public sealed record HistoryEntry
{
    /// <summary>When the step ran.</summary>
    [JsonPropertyName("created")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? Created { get; init; }

    /// <summary>The instruction that made the step.</summary>
    [JsonPropertyName("created_by")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CreatedBy { get; init; }

    /// <summary>The author of the step.</summary>
    [JsonPropertyName("author")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Author { get; init; }

    /// <summary>A comment.</summary>
    [JsonPropertyName("comment")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Comment { get; init; }

    /// <summary>True when the step made no layer.</summary>
    [JsonPropertyName("empty_layer")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool EmptyLayer { get; init; }
}

/// <summary>The <c>{}</c> value of exposed-port and volume maps.</summary>
public sealed record EmptyObject
{
    /// <summary>The one instance.</summary>
    public static EmptyObject Instance { get; } = new();
}
