using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Api;

/// <summary>
/// The parse of a stored object that every reader of its revision shares: its JSON with metadata.resourceVersion
/// written in (the store writes its revision into what it keeps), parsed once into a JsonDocument-backed element.
/// </summary>
internal sealed class ParsedJson
{
    private ParsedJson(JsonElement root) => Root = root;

    /// <summary>The object.</summary>
    public JsonElement Root { get; }

    /// <summary>metadata.uid of a stored object, read off its shared parse.</summary>
    public static string? Uid(StoredObject stored) =>
        stored.Parsed(Of).Root is { ValueKind: JsonValueKind.Object } root && root.TryGetProperty("metadata", out var meta)
        && meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("uid", out var uid) && uid.ValueKind == JsonValueKind.String ? Json.StringOf(uid) : null;

    /// <summary>
    /// Parses <paramref name="stored"/> with its revision as metadata.resourceVersion: over the stored bytes themselves
    /// when they carry it (as the store keeps them: nothing is copied), else over a copy with it written in.
    /// </summary>
    public static ParsedJson Of(StoredObject stored)
    {
        var json = stored.RevisionWritten || Storage.ResourceVersion.Carries(stored.Json.Span, stored.Revision)
            ? stored.Json
            : Storage.ResourceVersion.Written(stored.Json.Span, stored.Revision);

        // one pass; the document is never disposed (its index is garbage with it, and the bytes are the store's)
        return new ParsedJson(JsonDocument.Parse(json).RootElement);
    }
}
