using System.Globalization;
using System.Text.Json.Nodes;

namespace Containers.Orchestration.Api;

/// <summary>Kubernetes resource quantities (<c>500m</c>, <c>2</c>, <c>64Mi</c>, <c>1G</c>, <c>1e3</c>).</summary>
public static class Quantity
{
    /// <summary>Parses a quantity in base units (cores, bytes, count).</summary>
    public static bool TryParse(JsonNode? node, out decimal value)
    {
        value = 0;
        if (node is not JsonValue v)
        {
            return false;
        }

        if (v.TryGetValue(out long l))
        {
            value = l;
            return true;
        }

        if (v.TryGetValue(out double d))
        {
            value = (decimal)d;
            return true;
        }

        return v.TryGetValue(out string? s) && TryParse(s, out value);
    }

    private static readonly (string Suffix, decimal Factor)[] Suffixes =
    [
        ("Ki", 1024m), ("Mi", 1024m * 1024), ("Gi", 1024m * 1024 * 1024), ("Ti", 1024m * 1024 * 1024 * 1024), ("Pi", 1024m * 1024 * 1024 * 1024 * 1024),
        ("n", 1e-9m), ("u", 1e-6m), ("m", 1e-3m), ("k", 1e3m), ("M", 1e6m), ("G", 1e9m), ("T", 1e12m), ("P", 1e15m),
    ];

    /// <summary>Parses a quantity string in base units.</summary>
    public static bool TryParse(string? text, out decimal value)
    {
        value = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string s = text.Trim();
        foreach (var (suffix, factor) in Suffixes)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal) && decimal.TryParse(s[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out decimal n))
            {
                value = n * factor;
                return true;
            }
        }

        return decimal.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The value, or <paramref name="fallback"/> when absent or malformed.</summary>
    public static decimal Of(JsonNode? node, decimal fallback = 0) => TryParse(node, out decimal v) ? v : fallback;
}
