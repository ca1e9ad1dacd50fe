namespace Containers.Orchestration.Api;

/// <content>Parsing and writing objects: UTF-8 bytes in, a thread's reused writer out.</content>
public static partial class Json
{
    /// <summary>Parses UTF-8 JSON into an object (400 when it is not one).</summary>
    public static JsonObject Parse(ReadOnlySpan<byte> utf8)
    {
        try
        {
            return JsonNode.Parse(utf8) as JsonObject ?? throw ApiException.BadRequest("the body is not a JSON object");
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the body is not valid JSON: {e.Message}");
        }
    }

    /// <summary>
    /// Serializes to UTF-8. What is still backed by parsed JSON (the parts of a view nobody changed) is copied as its
    /// original bytes, not walked and re-encoded, so writing back a view with a changed status costs the status.
    /// </summary>
    public static byte[] Bytes(JsonNode node) => Serialized(node).ToArray();

    /// <summary>
    /// As <see cref="Bytes"/>, in this thread's reusable buffer: valid until this thread serializes again, for a caller
    /// that copies it at once (the store keeps its own copy of what it is handed).
    /// </summary>
    internal static ReadOnlyMemory<byte> Serialized(JsonNode node)
    {
        var (buffer, writer) = cachedWriter ??= (new System.Buffers.ArrayBufferWriter<byte>(4096), new Utf8JsonWriter(Stream.Null, new JsonWriterOptions { SkipValidation = true }));
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            Write(writer, node);
            writer.Flush();
            return buffer.WrittenMemory;
        }
        finally
        {
            if (buffer.Capacity > 1 << 20)
            {
                cachedWriter = null; // one huge object does not pin a huge buffer
            }
        }
    }

    /// <summary>
    /// Serializes to UTF-8 in one canonical form (compact, every string escaped the same way), whether the tree was
    /// built or is still as parsed: for hashing (a template's hash must not depend on how its JSON was first written).
    /// </summary>
    public static byte[] CanonicalBytes(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, JsonContext.Default.JsonNode);

    [ThreadStatic]
    private static (System.Buffers.ArrayBufferWriter<byte> Buffer, Utf8JsonWriter Writer)? cachedWriter;

    private static void Write(Utf8JsonWriter w, JsonNode? node)
    {
        switch (node)
        {
            case null:
                w.WriteNullValue();
                break;
            case JsonObject o when Unbuilt(o, out var element):
                w.WriteRawValue(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element), skipInputValidation: true);
                break;
            case JsonObject o:
                w.WriteStartObject();
                foreach (var (name, value) in o)
                {
                    w.WritePropertyName(name);
                    Write(w, value);
                }

                w.WriteEndObject();
                break;
            case JsonArray a when Unbuilt(a, out var element):
                w.WriteRawValue(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element), skipInputValidation: true);
                break;
            case JsonArray a:
                w.WriteStartArray();
                foreach (var item in a)
                {
                    Write(w, item);
                }

                w.WriteEndArray();
                break;
            case JsonValue v when v.TryGetValue(out JsonElement element):
                w.WriteRawValue(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element), skipInputValidation: true);
                break;
            default:
                node.WriteTo(w);
                break;
        }
    }
}
