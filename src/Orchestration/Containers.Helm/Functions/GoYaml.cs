using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Containers.Helm.Templates;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Containers.Helm.Functions;

/// <summary>
/// YAML as Helm reads and writes it (sigs.k8s.io/yaml over go-yaml v2): reading resolves plain scalars with YAML
/// 1.1's rules and turns numbers into float64 (through JSON); writing is go-yaml v2's block style (keys in its
/// natural order, sequences not indented under their key, strings quoted only when they would read back as
/// something else, literal blocks for multi-line text, long plain text folded at 80 columns).
/// </summary>
public static partial class GoYaml
{
    /// <summary>Reads one YAML document as template values (maps, lists, float64 numbers, strings, bools, nil).</summary>
    /// <exception cref="YamlException">It is not YAML (the exception names line and column).</exception>
    public static object? Parse(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Count == 0 ? null : Convert(stream.Documents[0].RootNode, jsonNumbers: true);
    }

    /// <summary>Reads every document of a multi-document YAML stream.</summary>
    /// <exception cref="YamlException">It is not YAML.</exception>
    public static List<object?> ParseAll(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return stream.Documents.Select(d => Convert(d.RootNode, jsonNumbers: true)).ToList();
    }

    internal static object? Convert(YamlNode node, bool jsonNumbers)
    {
        switch (node)
        {
            case YamlMappingNode map:
                var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, value) in map.Children)
                {
                    if (key is YamlScalarNode { Value: "<<", Style: ScalarStyle.Plain } && Convert(value, jsonNumbers) is { } merged)
                    {
                        foreach (var source in merged is IList list ? list.Cast<object?>() : [merged])
                        {
                            if (source is IDictionary<string, object?> m)
                            {
                                foreach (var (k, v) in m)
                                {
                                    dict.TryAdd(k, v);
                                }
                            }
                        }

                        continue;
                    }

                    object? k2 = Convert(key, jsonNumbers: false);
                    dict[k2 switch { null => "null", bool b => b ? "true" : "false", double d => GoJson.Float(d), _ => GoFormat.Print(k2) }] = Convert(value, jsonNumbers);
                }

                return dict;
            case YamlSequenceNode seq:
                return seq.Children.Select(c => Convert(c, jsonNumbers)).ToList();
            case YamlScalarNode scalar:
                string text = scalar.Value ?? "";
                if (scalar.Style != ScalarStyle.Plain || (scalar.Tag.IsEmpty == false && scalar.Tag.Value == "tag:yaml.org,2002:str"))
                {
                    return text;
                }

                object? resolved = Resolve(text);
                return jsonNumbers && resolved is long l ? (double)l : resolved;
            default:
                return null;
        }
    }

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();

    /// <summary>go-yaml v2's resolution of a plain scalar: null, bool (YAML 1.1), int (base 0), float, else string.</summary>
    public static object? Resolve(string plain)
    {
        switch (plain)
        {
            case "" or "~" or "null" or "Null" or "NULL": return null;
            case "y" or "Y" or "yes" or "Yes" or "YES" or "true" or "True" or "TRUE" or "on" or "On" or "ON": return true;
            case "n" or "N" or "no" or "No" or "NO" or "false" or "False" or "FALSE" or "off" or "Off" or "OFF": return false;
            case ".nan" or ".NaN" or ".NAN": return double.NaN;
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF": return double.PositiveInfinity;
            case "-.inf" or "-.Inf" or "-.INF": return double.NegativeInfinity;
        }

        char c = plain[0];
        if (!(char.IsAsciiDigit(c) || c is '-' or '+' or '.'))
        {
            return plain;
        }

        string clean = plain.Replace("_", "", StringComparison.Ordinal);
        if (ParseIntBase0(clean) is { } i)
        {
            return i;
        }

        if (FloatPattern().IsMatch(clean) && double.TryParse(clean, NumberStyles.Float, CultureInfo.InvariantCulture, out double f))
        {
            return f;
        }

        return plain;
    }

    private static long? ParseIntBase0(string s)
    {
        bool neg = s.StartsWith('-');
        string u = s.StartsWith('-') || s.StartsWith('+') ? s[1..] : s;
        if (u.Length == 0 || !char.IsAsciiDigit(u[0]))
        {
            return null;
        }

        try
        {
            long v;
            if (u.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                v = long.Parse(u[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            }
            else if (u.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
            {
                v = System.Convert.ToInt64(u[2..], 2);
            }
            else if (u.StartsWith("0o", StringComparison.OrdinalIgnoreCase))
            {
                v = System.Convert.ToInt64(u[2..], 8);
            }
            else if (u.Length > 1 && u[0] == '0')
            {
                v = u.All(ch => ch is >= '0' and <= '7') ? System.Convert.ToInt64(u, 8) : throw new FormatException();
            }
            else
            {
                v = long.Parse(u, NumberStyles.None, CultureInfo.InvariantCulture);
            }

            return neg ? -v : v;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            return null;
        }
    }
}
