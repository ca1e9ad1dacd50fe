using System.Collections;
using System.Globalization;
using System.Text;

namespace Containers.Helm.Templates;

public static partial class GoFormat
{
    /// <summary>fmt.Sprintf: the verbs v s q d f F e E g G x X o b t c U T and %%, flags + - # space 0, width and precision.</summary>
    public static string Sprintf(string format, IReadOnlyList<object?> args)
    {
        var sb = new StringBuilder();
        int argIndex = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }

            i++;
            if (i >= format.Length)
            {
                sb.Append("%!(NOVERB)");
                break;
            }

            bool plus = false, minus = false, sharp = false, space = false, zero = false;
            for (; i < format.Length; i++)
            {
                switch (format[i])
                {
                    case '+': plus = true; continue;
                    case '-': minus = true; continue;
                    case '#': sharp = true; continue;
                    case ' ': space = true; continue;
                    case '0': zero = !minus; continue;
                }

                break;
            }

            int? width = null, precision = null;
            int start = i;
            while (i < format.Length && char.IsAsciiDigit(format[i]))
            {
                i++;
            }

            if (i > start)
            {
                width = int.Parse(format.AsSpan(start, i - start), CultureInfo.InvariantCulture);
            }

            if (i < format.Length && format[i] == '.')
            {
                i++;
                start = i;
                while (i < format.Length && char.IsAsciiDigit(format[i]))
                {
                    i++;
                }

                precision = i > start ? int.Parse(format.AsSpan(start, i - start), CultureInfo.InvariantCulture) : 0;
            }

            if (i >= format.Length)
            {
                sb.Append("%!(NOVERB)");
                break;
            }

            char verb = format[i];
            if (verb == '%')
            {
                sb.Append('%');
                continue;
            }

            if (argIndex >= args.Count)
            {
                sb.Append("%!").Append(verb).Append("(MISSING)");
                continue;
            }

            object? arg = args[argIndex++];
            string text = FormatOne(verb, arg, plus, sharp, space, precision);
            if (width is { } w && text.Length < w)
            {
                bool numeric = arg is long or int or double && verb is not ('s' or 'q' or 'v' or 'T');
                if (minus)
                {
                    text = text.PadRight(w);
                }
                else if (zero && (numeric || arg is string && verb is 's' or 'v'))
                {
                    bool signed = text.Length > 0 && text[0] is '-' or '+';
                    text = signed ? text[0] + text[1..].PadLeft(w - 1, '0') : text.PadLeft(w, '0');
                }
                else
                {
                    text = text.PadLeft(w);
                }
            }

            sb.Append(text);
        }

        if (argIndex < args.Count)
        {
            sb.Append("%!(EXTRA ");
            sb.Append(string.Join(", ", args.Skip(argIndex).Select(a => a is null ? "<nil>" : TypeName(a) + "=" + Print(a))));
            sb.Append(')');
        }

        return sb.ToString();
    }

    private static string FormatOne(char verb, object? arg, bool plus, bool sharp, bool space, int? precision)
    {
        switch (verb)
        {
            case 'v':
                if (plus || sharp)
                {
                    return sharp && arg is string s0 ? Quote(s0) : Print(arg);
                }

                return arg is double dv && precision is { } pv ? FormatFloat(dv, 'g', pv) : Print(arg);
            case 'T':
                return arg is null ? "<nil>" : TypeName(arg);
            case 's':
                return arg switch
                {
                    string s => precision is { } p && p < s.Length ? s[..p] : s,
                    IList or IDictionary<string, object?> => MapElements(arg, e => e is string es ? es : Bad('s', e)),
                    GoTime t => t.ToString(),
                    _ => Bad('s', arg),
                };
            case 'q':
                return arg switch
                {
                    string s => sharp && !s.Contains('`', StringComparison.Ordinal) ? "`" + s + "`" : Quote(s),
                    long l => "'" + Quote(char.ConvertFromUtf32((int)l))[1..^1] + "'",
                    IList or IDictionary<string, object?> => MapElements(arg, e => e is string es ? Quote(es) : Bad('q', e)),
                    _ => Bad('q', arg),
                };
            case 'd':
                return arg switch
                {
                    long or int => Sign(Convert.ToInt64(arg, CultureInfo.InvariantCulture), plus, space, v => v.ToString(CultureInfo.InvariantCulture)),
                    IList => MapElements(arg, e => e is long el ? el.ToString(CultureInfo.InvariantCulture) : Bad('d', e)),
                    _ => Bad('d', arg),
                };
            case 'x' or 'X' or 'o' or 'b':
                string digits = verb switch { 'o' => "01234567", 'b' => "01", 'x' => "0123456789abcdef", _ => "0123456789ABCDEF" };
                return arg switch
                {
                    long or int => Sign(Convert.ToInt64(arg, CultureInfo.InvariantCulture), plus, space, v => (sharp ? verb switch { 'x' => "0x", 'X' => "0X", 'o' => "0", _ => "" } : "") + Radix((ulong)v, digits)),
                    string s when verb is 'x' or 'X' => string.Concat(Encoding.UTF8.GetBytes(s).Select(b => b.ToString(verb == 'x' ? "x2" : "X2", CultureInfo.InvariantCulture))),
                    double d when verb is 'x' or 'X' => Bad(verb, d),
                    _ => Bad(verb, arg),
                };
            case 'f' or 'F' or 'e' or 'E' or 'g' or 'G':
                if (arg is not double f)
                {
                    return Bad(verb, arg);
                }

                char lower = char.ToLowerInvariant(verb);
                string text = FormatFloat(f, lower, lower == 'g' ? precision ?? -1 : precision ?? 6);
                if (verb is 'E' or 'G')
                {
                    text = text.ToUpperInvariant();
                }

                return plus && f >= 0 ? "+" + text : space && f >= 0 ? " " + text : text;
            case 't':
                return arg is bool b ? (b ? "true" : "false") : Bad('t', arg);
            case 'c':
                return arg is long cl ? char.ConvertFromUtf32((int)cl) : Bad('c', arg);
            case 'U':
                return arg is long ul ? "U+" + ul.ToString("X4", CultureInfo.InvariantCulture) : Bad('U', arg);
            default:
                return Bad(verb, arg);
        }
    }

    private static string MapElements(object value, Func<object?, string> element) => value switch
    {
        IDictionary<string, object?> map => "map[" + string.Join(" ", map.Keys.Order(StringComparer.Ordinal).Select(k => element(k) + ":" + element(map[k]))) + "]",
        IList list => "[" + string.Join(" ", list.Cast<object?>().Select(element)) + "]",
        _ => element(value),
    };

    private static string Sign(long v, bool plus, bool space, Func<long, string> digits)
    {
        if (v < 0)
        {
            return "-" + digits(-v);
        }

        return (plus ? "+" : space ? " " : "") + digits(v);
    }

    private static string Radix(ulong v, string digits)
    {
        if (v == 0)
        {
            return "0";
        }

        var sb = new StringBuilder();
        ulong b = (ulong)digits.Length;
        while (v > 0)
        {
            sb.Insert(0, digits[(int)(v % b)]);
            v /= b;
        }

        return sb.ToString();
    }

    private static string Bad(char verb, object? arg) =>
        arg is null ? $"%!{verb}(<nil>)" : $"%!{verb}({TypeName(arg)}={Print(arg)})";

    /// <summary>The Go type name a value stands for (fmt's %T): string, int, float64, bool, []interface {}, map[string]interface {}.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "<nil>",
        string => "string",
        long or int => "int",
        double => "float64",
        bool => "bool",
        GoTime => "time.Time",
        IDictionary<string, object?> => "map[string]interface {}",
        IList => "[]interface {}",
        ITemplateObject o => o.GoTypeName,
        _ => value.GetType().Name,
    };
}
