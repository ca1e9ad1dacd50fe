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

        return v.GetValueKind() switch
        {
            // a number, whether parsed or made in code (a JsonValue of an int is not read as a long)
            System.Text.Json.JsonValueKind.Number => decimal.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value),
            System.Text.Json.JsonValueKind.String => TryParse(v.GetValue<string>(), out value),
            _ => false,
        };
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

        // Kubernetes' grammar: a signed number, then a suffix or an exponent; no spaces anywhere
        const NumberStyles number = NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
        string s = text;
        foreach (var (suffix, factor) in Suffixes)
        {
            if (s.EndsWith(suffix, StringComparison.Ordinal) && decimal.TryParse(s[..^suffix.Length], number, CultureInfo.InvariantCulture, out decimal n))
            {
                value = n * factor;
                return true;
            }
        }

        return decimal.TryParse(s, number, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The value, or <paramref name="fallback"/> when absent or malformed.</summary>
    public static decimal Of(JsonNode? node, decimal fallback = 0) => TryParse(node, out decimal v) ? v : fallback;
}
