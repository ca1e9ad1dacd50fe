using System.Collections;
using System.Globalization;
using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

/// <summary>The conversions Sprig makes through spf13/cast and its own strval: lenient, zero on failure.</summary>
internal static class Cast
{
    /// <summary>Sprig's strval: strings as they are, everything else as %v.</summary>
    public static string Str(object? v) => v switch
    {
        string s => s,
        byte[] b => System.Text.Encoding.UTF8.GetString(b),
        _ => GoFormat.Print(v),
    };

    /// <summary>cast.ToInt64E: numbers truncated, strings parsed (base 0), bools 1/0, else 0.</summary>
    public static long Int(object? v) => v switch
    {
        long l => l,
        int i => i,
        double d => double.IsFinite(d) ? (long)d : 0,
        bool b => b ? 1 : 0,
        string s => ParseInt(s.Trim()),
        _ => 0,
    };

    private static long ParseInt(string s)
    {
        if (s.Length == 0)
        {
            return 0;
        }

        bool neg = s.StartsWith('-');
        string u = s.TrimStart('+', '-');
        try
        {
            long v = u.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(u[2..], 16)
                : u.StartsWith("0b", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(u[2..], 2)
                : u.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(u[2..], 8)
                : u.Length > 1 && u[0] == '0' ? Convert.ToInt64(u, 8)
                : long.Parse(u, NumberStyles.None, CultureInfo.InvariantCulture);
            return neg ? -v : v;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return 0;
        }
    }

    /// <summary>cast.ToFloat64E: numbers, parsed strings, bools 1/0, else 0.</summary>
    public static double Float(object? v) => v switch
    {
        double d => d,
        long l => l,
        int i => i,
        bool b => b ? 1 : 0,
        string s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : 0,
        _ => 0,
    };

    /// <summary>A list's items (Sprig accepts slices and arrays; nil is empty); null when it is no list.</summary>
    public static List<object?>? List(object? v) => v switch
    {
        null => [],
        IList list => list.Cast<object?>().ToList(),
        _ => null,
    };

    /// <summary>The items, or Sprig's "Cannot X on type Y" error.</summary>
    public static List<object?> ListOrFail(object? v, string verb) =>
        List(v) ?? throw new TemplateFunctionException($"Cannot {verb} on type {GoFormat.TypeName(v)}");

    /// <summary>Sprig's empty: the zero value of its type.</summary>
    public static bool Empty(object? v) => v switch
    {
        null => true,
        string s => s.Length == 0,
        bool b => !b,
        long l => l == 0,
        int i => i == 0,
        double d => d == 0,
        IDictionary<string, object?> m => m.Count == 0,
        ICollection c => c.Count == 0,
        _ => false,
    };

    /// <summary>A deep copy of maps and lists (scalars are immutable).</summary>
    public static object? DeepCopy(object? v) => v switch
    {
        IDictionary<string, object?> m => m.ToDictionary(kv => kv.Key, kv => DeepCopy(kv.Value), StringComparer.Ordinal),
        IList l => l.Cast<object?>().Select(DeepCopy).ToList(),
        _ => v,
    };

    /// <summary>reflect.DeepEqual on template values.</summary>
    public static bool DeepEqual(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (IDictionary<string, object?> x, IDictionary<string, object?> y) => x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var o) && DeepEqual(kv.Value, o)),
        (IList x, IList y) => x.Count == y.Count && Enumerable.Range(0, x.Count).All(i => DeepEqual(x[i], y[i])),
        (long x, long y) => x == y,
        _ => Equals(a, b),
    };

    /// <summary>reflect's Kind name: string, int64, float64, bool, map, slice, invalid.</summary>
    public static string KindOf(object? v) => v switch
    {
        null => "invalid",
        string => "string",
        long => "int64",
        int => "int",
        double => "float64",
        bool => "bool",
        IDictionary<string, object?> => "map",
        IList => "slice",
        GoTime => "struct",
        _ => "ptr",
    };
}
