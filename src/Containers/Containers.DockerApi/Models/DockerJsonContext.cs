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
[JsonSerializable(typeof(List<ImageSummary>))]
[JsonSerializable(typeof(List<ImageHistoryResponseItem>))]
[JsonSerializable(typeof(List<ImageDeleteResponseItem>))]
[JsonSerializable(typeof(ImagePruneResponse))]
[JsonSerializable(typeof(Network))]
[JsonSerializable(typeof(List<Network>))]
[JsonSerializable(typeof(NetworkCreateResponse))]
[JsonSerializable(typeof(NetworkPruneResponse))]
[JsonSerializable(typeof(Volume))]
[JsonSerializable(typeof(VolumeListResponse))]
[JsonSerializable(typeof(VolumePruneResponse))]
[JsonSerializable(typeof(SystemDataUsageResponse))]
[JsonSerializable(typeof(SystemVersion))]
[JsonSerializable(typeof(SystemInfo))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(IDResponse))]
[JsonSerializable(typeof(ContainerCreateResponse))]
[JsonSerializable(typeof(ContainerUpdateResponse))]
[JsonSerializable(typeof(ContainerPruneResponse))]
[JsonSerializable(typeof(ContainerWaitResponse))]
[JsonSerializable(typeof(ContainerTopResponse))]
[JsonSerializable(typeof(ExecInspectResponse))]
[JsonSerializable(typeof(ContainerStatsResponse))]
[JsonSerializable(typeof(EventMessage))]
[JsonSerializable(typeof(ContainerCreateRequest))]
[JsonSerializable(typeof(ContainerUpdateRequest))]
[JsonSerializable(typeof(ExecConfig))]
[JsonSerializable(typeof(NetworkCreateRequest))]
[JsonSerializable(typeof(NetworkConnectRequest))]
[JsonSerializable(typeof(NetworkDisconnectRequest))]
[JsonSerializable(typeof(VolumeCreateRequest))]
[JsonSerializable(typeof(ExecStartConfig))]
[JsonSerializable(typeof(ProgressMessage))]
[JsonSerializable(typeof(string))]
public sealed partial class DockerJsonContext : JsonSerializerContext
{
    /// <summary>The context with dockerd's escaping (what the API answers, and the CLI prints).</summary>
    public static DockerJsonContext Relaxed { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>The context with dockerd's escaping, indented (docker inspect's output).</summary>
    public static DockerJsonContext Indented { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true });

    /// <summary>
    /// The context request bodies are read with, as dockerd reads them: property names in any case, and
    /// <see cref="BodyConverters"/> (a single string for a list, a whole float for an integer, null for a default).
    /// </summary>
    internal static DockerJsonContext Requests { get; } = new(RequestOptions());

    /// <summary>
    /// Reads a request body: null when it is empty. Throws <see cref="FormatException"/> naming the field for a value of
    /// the wrong type (<c>HostConfig.Memory: expected an integer, got "lots"</c>), <see cref="JsonException"/> for JSON
    /// that does not parse.
    /// </summary>
    public static T? ReadBody<T>(ReadOnlySpan<byte> body, Func<DockerJsonContext, JsonTypeInfo<T>> type)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(type);
        if (body.Trim(" \t\r\n"u8).IsEmpty)
        {
            return null;
        }

        using var document = JsonDocument.Parse(body.ToArray()); // JSON that does not parse: its JsonException, as it is
        try
        {
            return document.Deserialize(type(Requests));
        }
        catch (BodyFieldException e)
        {
            var path = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            throw new FormatException(path.Length == 0 ? e.Message : e.Message.StartsWith('[') ? path + e.Message : path + ": " + e.Message, e);
        }
        catch (JsonException e)
        {
            var path = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            throw new FormatException(path.Length == 0 ? "expected a JSON object" : path + ": a value of the wrong type", e);
        }
    }

    private static JsonSerializerOptions RequestOptions()
    {
        var options = new JsonSerializerOptions { PropertyNameCaseInsensitive = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        foreach (var converter in BodyConverters.All)
        {
            options.Converters.Add(converter);
        }

        return options;
    }

    /// <summary><paramref name="value"/> as the API writes it.</summary>
    public static string Serialize<T>(T value, Func<DockerJsonContext, JsonTypeInfo<T>> type, bool indented = false)
    {
        ArgumentNullException.ThrowIfNull(type);
        return JsonSerializer.Serialize(value, type(indented ? Indented : Relaxed));
    }
}
