using System.Collections;
using System.Globalization;
using System.Text;
using Containers.Helm.Functions;
using Containers.Helm.Templates;

namespace Containers.Helm.Engine;

/// <summary>toToml: BurntSushi/toml's encoding of a map (keys sorted, plain keys first, then [tables] and [[arrays of tables]]).</summary>
internal static class Toml
{
    public static string Serialize(object? value)
    {
        if (value is not IDictionary<string, object?> map)
        {
            return "toml: top-level values must be Go maps or structs";
        }

        var sb = new StringBuilder();
        Table(sb, map, [], 0);
        return sb.ToString();
    }

    private static void Table(StringBuilder sb, IDictionary<string, object?> map, List<string> path, int depth)
    {
        string indent = new(' ', Math.Max(depth - 1, 0) * 2);
        foreach (var key in map.Keys.Order(StringComparer.Ordinal))
        {
            var v = map[key];
            if (v is null || v is IDictionary<string, object?> || (v is IList l && l.Count > 0 && l.Cast<object?>().All(x => x is IDictionary<string, object?>)))
            {
                continue;
            }

            sb.Append(indent).Append(Key(key)).Append(" = ").Append(Value(v)).Append('\n');
        }

        foreach (var key in map.Keys.Order(StringComparer.Ordinal))
        {
            var v = map[key];
            var sub = new List<string>(path) { Key(key) };
            if (v is IDictionary<string, object?> table)
            {
                sb.Append('\n').Append(new string(' ', depth * 2)).Append('[').Append(string.Join('.', sub)).Append("]\n");
                Table(sb, table, sub, depth + 1);
            }
            else if (v is IList list && list.Count > 0 && list.Cast<object?>().All(x => x is IDictionary<string, object?>))
            {
                foreach (IDictionary<string, object?> item in list)
                {
                    sb.Append('\n').Append(new string(' ', depth * 2)).Append("[[").Append(string.Join('.', sub)).Append("]]\n");
                    Table(sb, item, sub, depth + 1);
                }
            }
        }
    }

    private static string Key(string key) =>
        key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-') ? key : GoFormat.Quote(key);

    private static string Value(object? v) => v switch
    {
        string s => GoFormat.Quote(s),
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Math.Floor(d) == d && Math.Abs(d) < 1e17 ? d.ToString("0.0", CultureInfo.InvariantCulture) : GoFormat.FormatFloat(d, 'g', -1),
        IList list => "[" + string.Join(", ", list.Cast<object?>().Select(Value)) + "]",
        _ => GoFormat.Quote(Cast.Str(v)),
    };
}
