using System.Text.Json.Serialization;

namespace Containers.Images.Oci;

/// <summary>Source-generated JSON for the OCI and Docker image formats (no reflection: the CLI is NativeAOT).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never, AllowTrailingCommas = true, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Skip)]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(ContainerConfig))]
[JsonSerializable(typeof(Descriptor))]
[JsonSerializable(typeof(ManifestProbe))]
[JsonSerializable(typeof(OciLayoutFile))]
internal sealed partial class OciJsonContext : JsonSerializerContext;

/// <summary>Just enough of a manifest to tell what it is.</summary>
internal sealed record ManifestProbe
{
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; }

    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    [JsonPropertyName("manifests")]
    public System.Text.Json.JsonElement? Manifests { get; init; }

    [JsonPropertyName("config")]
    public System.Text.Json.JsonElement? Config { get; init; }
}

/// <summary>The <c>oci-layout</c> file.</summary>
internal sealed record OciLayoutFile
{
    [JsonPropertyName("imageLayoutVersion")]
    public string ImageLayoutVersion { get; init; } = "1.0.0";
}

/// <summary>JSON text of the OCI types, as stored (for inspect output and tools).</summary>
public static class OciJson
{
    /// <summary>An image config as JSON.</summary>
    public static string Serialize(ImageConfig config) => System.Text.Json.JsonSerializer.Serialize(config, OciJsonContext.Default.ImageConfig);

    /// <summary>A run configuration as JSON.</summary>
    public static string Serialize(ContainerConfig config) => System.Text.Json.JsonSerializer.Serialize(config, OciJsonContext.Default.ContainerConfig);

    /// <summary>A manifest as JSON.</summary>
    public static string Serialize(ImageManifest manifest) => System.Text.Json.JsonSerializer.Serialize(manifest, OciJsonContext.Default.ImageManifest);

    /// <summary>Parses a run configuration (docker's Config object). Throws <see cref="System.Text.Json.JsonException"/>.</summary>
    public static ContainerConfig DeserializeContainerConfig(string json) =>
        System.Text.Json.JsonSerializer.Deserialize(json, OciJsonContext.Default.ContainerConfig) ?? new ContainerConfig();
}
