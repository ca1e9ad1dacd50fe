using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

/// <summary>Go's encoding/json for template values: sorted keys, Go's float text, HTML escaping; parsing to float64 numbers.</summary>
public static class GoJson
{
    /// <summary>json.Marshal (or MarshalIndent with <paramref name="indent"/>) of a template value.</summary>
    public static string Serialize(object? value, bool escapeHtml = true, string? indent = null)
    {
        var sb = new StringBuilder();
        Write(sb, value, escapeHtml, indent, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value, bool escapeHtml, string? indent, int depth)
    {
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long or int: sb.Append(System.Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(Float(d)); break;
            case string s: WriteString(sb, s, escapeHtml); break;
            case GoTime t: WriteString(sb, GoTime.Rfc3339Nano(t.Value), escapeHtml); break;
            case IDictionary<string, object?> map:
                if (map.Count == 0)
                {
                    sb.Append("{}");
                    break;
                }

                sb.Append('{');
                bool first = true;
                foreach (var key in map.Keys.Order(StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }

                    first = false;
                    NewLine(sb, indent, depth + 1);
                    WriteString(sb, key, escapeHtml);
                    sb.Append(indent is null ? ":" : ": ");
                    Write(sb, map[key], escapeHtml, indent, depth + 1);
                }

                NewLine(sb, indent, depth);
                sb.Append('}');
                break;
            case IList list:
                if (list.Count == 0)
                {
                    sb.Append("[]");
                    break;
                }

                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }

                    NewLine(sb, indent, depth + 1);
                    Write(sb, list[i], escapeHtml, indent, depth + 1);
                }

                NewLine(sb, indent, depth);
                sb.Append(']');
                break;
            case ITemplateObject o:
                WriteString(sb, o.ToString() ?? "", escapeHtml);
                break;
            default:
                WriteString(sb, value.ToString() ?? "", escapeHtml);
                break;
        }
    }

    private static void NewLine(StringBuilder sb, string? indent, int depth)
    {
        if (indent is null)
        {
            return;
        }

        sb.Append('\n');
        for (int i = 0; i < depth; i++)
        {
            sb.Append(indent);
        }
    }

    /// <summary>Go's JSON float: 'f' form, 'e' below 1e-6 and from 1e21 (e-07 written e-7).</summary>
    public static string Float(double f)
    {
        double abs = Math.Abs(f);
        if (abs != 0 && (abs < 1e-6 || abs >= 1e21))
        {
            string e = GoFormat.FormatFloat(f, 'e', -1);
            int n = e.Length;
            if (n >= 4 && e[n - 4] == 'e' && e[n - 3] == '-' && e[n - 2] == '0')
            {
                e = e[..(n - 2)] + e[n - 1];
            }

            return e;
        }

        return GoFormat.FormatFloat(f, 'f', -1);
    }

    private static void WriteString(StringBuilder sb, string s, bool escapeHtml)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '<' or '>' or '&' when escapeHtml: sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
                case '\u2028' or '\u2029': sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    /// <summary>json.Unmarshal into interface{}: objects, arrays, float64 numbers, strings, bools, null.</summary>
    public static bool TryParse(string text, out object? value, out string? error)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            value = Convert(doc.RootElement);
            error = null;
            return true;
        }
        catch (JsonException e)
        {
            value = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>A JSON element as a template value.</summary>
    public static object? Convert(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => e.EnumerateObject().Aggregate(new Dictionary<string, object?>(StringComparer.Ordinal), (d, p) => { d[p.Name] = Convert(p.Value); return d; }),
        JsonValueKind.Array => e.EnumerateArray().Select(Convert).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
