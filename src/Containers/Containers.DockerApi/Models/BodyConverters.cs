using System.Text.Json;
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>
/// A request body field of the wrong type. Its message names what was expected and what came; the reader prefixes
/// the field's path (<c>HostConfig.Memory: expected an integer, got "lots"</c>).
/// </summary>
public sealed class BodyFieldException(string message) : JsonException(message);

/// <summary>
/// How dockerd reads request bodies, as System.Text.Json converters: integers (a whole float counts; null is 0),
/// booleans (null is false), strings, and string lists that take a single string as a one-element list (moby's
/// StrSlice: <c>"Cmd": "echo hi"</c>; null is none). Every mismatch is a <see cref="BodyFieldException"/>.
/// </summary>
internal static class BodyConverters
{
    public static readonly JsonConverter[] All = [new Int64Reader(), new Int32Reader(), new BooleanReader(), new StringReader(), new StringListReader()];

    /// <summary>The JSON text of the value at the reader (for "got ...").</summary>
    private static string Got(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => JsonSerializer.Serialize(reader.GetString(), DockerJsonContext.Relaxed.String),
        JsonTokenType.StartObject or JsonTokenType.StartArray => Raw(ref reader),
        _ => System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan),
    };

    private static string Raw(ref Utf8JsonReader reader)
    {
        using var doc = JsonDocument.ParseValue(ref reader);
        return doc.RootElement.GetRawText();
    }

    private static long ReadInteger(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return 0;
        }

        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out var n))
            {
                return n;
            }

            if (reader.TryGetDouble(out var d) && d == Math.Floor(d) && Math.Abs(d) < 9.2e18)
            {
                return (long)d;
            }
        }

        throw new BodyFieldException("expected an integer, got " + Got(ref reader));
    }

    private sealed class Int64Reader : JsonConverter<long>
    {
        public override bool HandleNull => true;

        public override long Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => ReadInteger(ref reader);

        public override void Write(Utf8JsonWriter writer, long value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    private sealed class Int32Reader : JsonConverter<int>
    {
        public override bool HandleNull => true;

        public override int Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            ReadInteger(ref reader) is var n && n is >= int.MinValue and <= int.MaxValue ? (int)n : throw new BodyFieldException($"expected a 32-bit integer, got {n}");

        public override void Write(Utf8JsonWriter writer, int value, JsonSerializerOptions options) => writer.WriteNumberValue(value);
    }

    private sealed class BooleanReader : JsonConverter<bool>
    {
        public override bool HandleNull => true;

        public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False or JsonTokenType.Null => false,
            _ => throw new BodyFieldException("expected true or false, got " + Got(ref reader)),
        };

        public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
    }

    private sealed class StringReader : JsonConverter<string>
    {
        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String ? reader.GetString() : throw new BodyFieldException("expected a string, got " + Got(ref reader));

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

        public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetString()!;

        public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);
    }

    private sealed class StringListReader : JsonConverter<List<string>>
    {
        public override List<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    return [reader.GetString()!];
                case JsonTokenType.StartArray:
                    var list = new List<string>();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        list.Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new BodyFieldException($"[{list.Count}]: expected a string"));
                    }

                    return list;
                default:
                    throw new BodyFieldException("expected an array of strings, got " + Got(ref reader));
            }
        }

        public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options)
        {
            writer.WriteStartArray();
            foreach (var s in value)
            {
                writer.WriteStringValue(s);
            }

            writer.WriteEndArray();
        }
    }
}
