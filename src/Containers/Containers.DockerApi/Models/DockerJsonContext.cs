using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Containers.DockerApi.Models;

/// <summary>
/// System.Text.Json's source-generated metadata for the Docker API's DTOs (NativeAOT- and trimming-safe), written as
/// dockerd writes them: property names as declared, nulls written, and no HTML escaping of &lt;, &gt; and &amp;.
/// </summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ContainerInspectResponse))]
[JsonSerializable(typeof(List<ContainerSummary>))]
[JsonSerializable(typeof(ImageInspect))]
[JsonSerializable(typeof(List<ImageInspect>))]
public sealed partial class DockerJsonContext : JsonSerializerContext
{
    /// <summary>The context with dockerd's escaping (what the API answers, and the CLI prints).</summary>
    public static DockerJsonContext Relaxed { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>The context with dockerd's escaping, indented (docker inspect's output).</summary>
    public static DockerJsonContext Indented { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true });

    /// <summary><paramref name="value"/> as the API writes it.</summary>
    public static string Serialize<T>(T value, Func<DockerJsonContext, JsonTypeInfo<T>> type, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(type);
        return JsonSerializer.Serialize(value, type(indented ? Indented : Relaxed));
    }
}
