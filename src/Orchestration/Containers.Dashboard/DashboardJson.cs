using System.Text.Json.Serialization;
using Containers.Compose;

namespace Containers.Dashboard;

/// <summary>The dashboard's JSON: what it stores and what its own endpoints take and answer (the proxied APIs pass through untouched).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AdminRecord))]
[JsonSerializable(typeof(List<TokenRecord>))]
[JsonSerializable(typeof(PasswordRequest))]
[JsonSerializable(typeof(NameRequest))]
[JsonSerializable(typeof(YamlRequest))]
[JsonSerializable(typeof(StatusAnswer))]
[JsonSerializable(typeof(Message))]
[JsonSerializable(typeof(TokenCreated))]
[JsonSerializable(typeof(IReadOnlyList<StackSummary>))]
[JsonSerializable(typeof(StackFile))]
[JsonSerializable(typeof(IReadOnlyList<PlanStep>))]
[JsonSerializable(typeof(ProgressAnswer))]
[JsonSerializable(typeof(ApplyAnswer))]
[JsonSerializable(typeof(List<HelmRelease>))]
[JsonSerializable(typeof(ResizeMessage))]
internal sealed partial class DashboardJson : JsonSerializerContext;

internal sealed record PasswordRequest(string? Password);

internal sealed record NameRequest(string? Name);

internal sealed record YamlRequest(string? Yaml);

/// <summary>An error or a note: <c>{"message": ..., "line": N}</c>.</summary>
internal sealed record Message(string Text, int? Line = null)
{
    [JsonPropertyName("message")]
    public string Text { get; init; } = Text;
}

/// <summary>What the page needs to know first: whether to ask for a first password or a login, and what is served.</summary>
internal sealed record StatusAnswer(bool Initialized, bool Authenticated, string? Csrf, string? Docker, string? Kubernetes, bool Stacks);

internal sealed record TokenCreated(string Name, string Token);

internal sealed record StackFile(string Name, string? Yaml);

internal sealed record ProgressAnswer(IReadOnlyList<string> Lines);

/// <summary>An applied manifest's objects and, when one failed, the error naming its document and line.</summary>
internal sealed record ApplyAnswer(List<string> Applied, string? Message, int? Line);

internal sealed record HelmRelease(string Name, string Namespace, int Revision, string Status, string? Chart, string? AppVersion, string? Updated);

/// <summary>A console's terminal size, sent by the page as a text frame.</summary>
internal sealed record ResizeMessage(int Cols, int Rows);
