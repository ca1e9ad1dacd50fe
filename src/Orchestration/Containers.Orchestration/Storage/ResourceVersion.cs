namespace Containers.Orchestration.Storage;

/// <summary>
/// Writes a store revision into an object's JSON as <c>metadata.resourceVersion</c> (Kubernetes' form of it: a string),
/// without parsing the object: the store keeps every object with the revision of its last write in it, so readers
/// parse the stored bytes as they are.
/// </summary>
internal static class ResourceVersion
{
    private static readonly byte[] Property = "\"resourceVersion\":\""u8.ToArray();

    /// <summary>
    /// A copy of <paramref name="json"/> with <paramref name="revision"/> as metadata.resourceVersion: put in place of
    /// the value it has, or inserted as metadata's first property; a plain copy when there is no metadata object.
    /// </summary>
    public static byte[] Written(ReadOnlySpan<byte> json, long revision)
    {
        Span<byte> version = stackalloc byte[24];
        revision.TryFormat(version, out int length, default, System.Globalization.CultureInfo.InvariantCulture);
        version = version[..length];
        var (start, end) = Slot(json);
        if (start < 0)
        {
            return json.ToArray();
        }

        int size = end < 0 ? json.Length + Property.Length + version.Length + 2 : json.Length - (end - start) + version.Length + 2;
        if (end < 0 && json[start] == (byte)'}')
        {
            size--; // an empty metadata object: no comma after the property
        }

        var to = new byte[size];
        json[..start].CopyTo(to);
        int n = start;
        if (end < 0)
        {
            Property.CopyTo(to.AsSpan(n));
            n += Property.Length;
            version.CopyTo(to.AsSpan(n));
            n += version.Length;
            to[n++] = (byte)'"';
            if (json[start] != (byte)'}')
            {
                to[n++] = (byte)',';
            }

            json[start..].CopyTo(to.AsSpan(n));
        }
        else
        {
            to[n++] = (byte)'"';
            version.CopyTo(to.AsSpan(n));
            n += version.Length;
            to[n++] = (byte)'"';
            json[end..].CopyTo(to.AsSpan(n));
        }

        return to;
    }

    /// <summary>Whether <paramref name="json"/> has metadata.resourceVersion "<paramref name="revision"/>" (or has no metadata object, so nothing to write).</summary>
    public static bool Carries(ReadOnlySpan<byte> json, long revision)
    {
        var (start, end) = Slot(json);
        if (start < 0)
        {
            return true;
        }

        if (end < 0)
        {
            return false;
        }

        Span<byte> version = stackalloc byte[26];
        version[0] = (byte)'"';
        revision.TryFormat(version[1..], out int length, default, System.Globalization.CultureInfo.InvariantCulture);
        version[length + 1] = (byte)'"';
        return json[start..end].SequenceEqual(version[..(length + 2)]);
    }

    /// <summary>
    /// Where the resourceVersion goes: (offset just inside the top-level metadata object, -1) to insert one, (start, end)
    /// of an existing value to replace, or (-1, -1) when there is no metadata object.
    /// </summary>
    private static (int Start, int End) Slot(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return (-1, -1);
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool metadata = reader.ValueTextEquals("metadata"u8);
            reader.Read();
            if (!metadata || reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                continue;
            }

            int inside = (int)reader.TokenStartIndex + 1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool found = reader.ValueTextEquals("resourceVersion"u8);
                reader.Read();
                if (found)
                {
                    int valueStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    return (valueStart, (int)reader.BytesConsumed);
                }

                reader.Skip();
            }

            return (inside, -1);
        }

        return (-1, -1);
    }
}
