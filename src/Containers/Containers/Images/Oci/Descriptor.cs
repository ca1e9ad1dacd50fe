using System.Text.Json.Serialization;

namespace Containers.Images.Oci;

/// <summary>An OCI content descriptor: what a blob is, its digest and size.</summary>
public sealed record Descriptor
{
    /// <summary>The media type of the referenced content.</summary>
    [JsonPropertyName("mediaType")]
    public required string MediaType { get; init; }

    /// <summary>The digest, <c>sha256:...</c>.</summary>
    [JsonPropertyName("digest")]
    public required string Digest { get; init; }

    /// <summary>The size in bytes.</summary>
    [JsonPropertyName("size")]
    public required long Size { get; init; }

    /// <summary>Alternative download URLs (foreign layers).</summary>
    [JsonPropertyName("urls")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableArray<string>? Urls { get; init; }

    /// <summary>Annotations, e.g. <c>org.opencontainers.image.ref.name</c> in an index.</summary>
    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ImmutableSortedDictionary<string, string>? Annotations { get; init; }

    /// <summary>The platform of a manifest listed in an index.</summary>
    [JsonPropertyName("platform")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Platform? Platform { get; init; }

    /// <summary>The parsed digest. Throws <see cref="InvalidReferenceException"/> when it is malformed.</summary>
    [JsonIgnore]
    public Digest ParsedDigest => Images.Digest.Parse(Digest);
}

/// <summary>An image's platform: os, architecture, variant.</summary>
public sealed record Platform
{
    /// <summary>CPU architecture (GOARCH names: amd64, arm64, ...).</summary>
    [JsonPropertyName("architecture")]
    public string Architecture { get; init; } = "";

    /// <summary>Operating system (linux).</summary>
    [JsonPropertyName("os")]
    public string Os { get; init; } = "";

    /// <summary>CPU variant (v7, v8), when any.</summary>
    [JsonPropertyName("variant")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; init; }

    /// <summary>OS version (Windows).</summary>
    [JsonPropertyName("os.version")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? OsVersion { get; init; }

    /// <summary>This machine's platform (linux/amd64 here).</summary>
    public static Platform Current { get; } = new()
    {
        Os = "linux",
        Architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "amd64",
            System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
            System.Runtime.InteropServices.Architecture.Arm => "arm",
            System.Runtime.InteropServices.Architecture.X86 => "386",
            var a => a.ToString().ToLowerInvariant(),
        },
    };

    /// <summary>Parses <c>os/arch[/variant]</c> (as <c>--platform</c>). Throws <see cref="ImageException"/>.</summary>
    public static Platform Parse(string value)
    {
        var parts = value.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0))
        {
            throw new ImageException($"invalid platform '{value}': expected os/arch[/variant]");
        }

        return new Platform { Os = parts[0], Architecture = parts[1], Variant = parts.Length == 3 ? parts[2] : null };
    }

    /// <summary>True when <paramref name="candidate"/> runs here as this platform asks (variant ignored when not asked).</summary>
    public bool Matches(Platform? candidate) =>
        candidate is not null && candidate.Os == Os && candidate.Architecture == Architecture &&
        (Variant is null || candidate.Variant == Variant);

    /// <inheritdoc/>
    public override string ToString() => $"{Os}/{Architecture}" + (Variant is null ? "" : "/" + Variant);
}
