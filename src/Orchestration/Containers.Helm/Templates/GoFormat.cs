using System.Collections;
using System.Globalization;
using System.Text;

namespace Containers.Helm.Templates;

/// <summary>
/// Go's fmt and strconv as templates see them: %v of every value (1e+06 for a float of a million, map[a:1 b:2] with
/// sorted keys, [a b] for slices, &lt;nil&gt;), Sprint's spacing, strconv.Quote and Unquote.
/// </summary>
public static partial class GoFormat
{
    /// <summary>fmt.Sprint(value): %v.</summary>
    public static string Print(object? value)
    {
        var sb = new StringBuilder();
        Append(sb, value);
        return sb.ToString();
    }

    /// <summary>fmt.Sprint(args...): spaces between operands when neither is a string.</summary>
    public static string Sprint(IReadOnlyList<object?> args)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < args.Count; i++)
        {
            if (i > 0 && args[i] is not string && args[i - 1] is not string)
            {
                sb.Append(' ');
            }

            Append(sb, args[i]);
        }

        return sb.ToString();
    }

    /// <summary>fmt.Sprintln(args...): spaces between all operands and a newline.</summary>
    public static string Sprintln(IReadOnlyList<object?> args) => string.Join(" ", args.Select(Print)) + "\n";

    internal static void Append(StringBuilder sb, object? value)
    {
        switch (value)
        {
            case null: sb.Append("<nil>"); break;
            case string s: sb.Append(s); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long or int: sb.Append(Convert.ToInt64(value, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FormatFloat(d, 'g', -1)); break;
            case GoTime t: sb.Append(t.ToString()); break;
            case IDictionary<string, object?> map:
                sb.Append("map[");
                bool first = true;
                foreach (var key in map.Keys.Order(StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        sb.Append(' ');
                    }

                    first = false;
                    sb.Append(key).Append(':');
                    Append(sb, map[key]);
                }

                sb.Append(']');
                break;
            case IList list:
                sb.Append('[');
                for (int i = 0; i < list.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(' ');
                    }

                    Append(sb, list[i]);
                }

                sb.Append(']');
                break;
            default: sb.Append(value.ToString()); break;
        }
    }

    /// <summary>strconv.FormatFloat(f, fmt, prec, 64) for 'e', 'f' and 'g' (prec -1: the shortest that round-trips).</summary>
    public static string FormatFloat(double f, char fmt, int prec)
    {
        if (double.IsNaN(f))
        {
            return "NaN";
        }

        if (double.IsInfinity(f))
        {
            return f > 0 ? "+Inf" : "-Inf";
        }

        bool negative = f < 0 || (f == 0 && double.IsNegative(f));
        double abs = Math.Abs(f);
        string digits;
        int dp; // the value is 0.DIGITS x 10^dp
        bool shortest = prec < 0;
        if (shortest)
        {
            (digits, dp) = Shortest(abs);
        }
        else
        {
            int significant = fmt switch { 'e' => prec + 1, 'g' => prec == 0 ? 1 : prec, _ => 0 };
            if (fmt == 'f')
            {
                (digits, dp) = Shortest(abs);
                decimal? exact = abs < 7.9e27 ? (decimal)abs : null;
                string fixedText = exact is { } m ? Math.Round(m, Math.Min(prec, 28), MidpointRounding.ToEven).ToString("F" + prec, CultureInfo.InvariantCulture) : abs.ToString("F" + prec, CultureInfo.InvariantCulture);
                return (negative ? "-" : "") + fixedText;
            }

            string e = abs.ToString("E" + (significant - 1), CultureInfo.InvariantCulture);
            int ex = int.Parse(e[(e.IndexOf('E') + 1)..], CultureInfo.InvariantCulture);
            digits = e[..e.IndexOf('E')].Replace(".", "", StringComparison.Ordinal);
            dp = abs == 0 ? 1 : ex + 1;
        }

        var sb = new StringBuilder();
        if (negative)
        {
            sb.Append('-');
        }

        switch (fmt)
        {
            case 'e':
                AppendE(sb, digits, dp, shortest ? digits.Length - 1 : prec);
                break;
            case 'f':
                AppendF(sb, digits, dp, Math.Max(digits.Length - dp, 0));
                break;
            default:
                int eprec = shortest ? 6 : prec == 0 ? 1 : prec;
                if (!shortest && eprec > digits.Length && digits.Length >= dp)
                {
                    eprec = digits.Length;
                }

                int exp = dp - 1;
                if (abs != 0 && (exp < -4 || exp >= eprec))
                {
                    string trimmed = shortest ? digits : digits.TrimEnd('0');
                    AppendE(sb, trimmed.Length == 0 ? "0" : trimmed, dp, Math.Max(trimmed.Length - 1, 0));
                }
                else
                {
                    string trimmed = shortest ? digits : digits.TrimEnd('0');
                    AppendF(sb, trimmed.Length == 0 ? "0" : trimmed, dp, Math.Max(trimmed.Length - dp, 0));
                }

                break;
        }

        return sb.ToString();
    }

    private static (string Digits, int Dp) Shortest(double abs)
    {
        if (abs == 0)
        {
            return ("0", 1);
        }

        string shortest = abs.ToString("R", CultureInfo.InvariantCulture);
        // "R" gives the shortest round-trip text; normalise it to digits and a decimal exponent
        int exponent = 0;
        int eAt = shortest.IndexOfAny(['E', 'e']);
        string mantissa = shortest;
        if (eAt >= 0)
        {
            exponent = int.Parse(shortest[(eAt + 1)..], CultureInfo.InvariantCulture);
            mantissa = shortest[..eAt];
        }

        int dot = mantissa.IndexOf('.');
        string intPart = dot < 0 ? mantissa : mantissa[..dot];
        string frac = dot < 0 ? "" : mantissa[(dot + 1)..];
        string all = intPart + frac;
        int dp = intPart.Length + exponent;
        int lead = 0;
        while (lead < all.Length - 1 && all[lead] == '0')
        {
            lead++;
        }

        all = all[lead..];
        dp -= lead;
        all = all.TrimEnd('0');
        return (all.Length == 0 ? "0" : all, dp);
    }

    private static void AppendE(StringBuilder sb, string digits, int dp, int prec)
    {
        sb.Append(digits[0]);
        if (prec > 0)
        {
            sb.Append('.');
            for (int i = 1; i <= prec; i++)
            {
                sb.Append(i < digits.Length ? digits[i] : '0');
            }
        }

        int exp = digits == "0" ? 0 : dp - 1;
        sb.Append('e').Append(exp < 0 ? '-' : '+');
        int a = Math.Abs(exp);
        sb.Append(a < 10 ? "0" + a : a.ToString(CultureInfo.InvariantCulture));
    }

    private static void AppendF(StringBuilder sb, string digits, int dp, int prec)
    {
        if (dp > 0)
        {
            for (int i = 0; i < dp; i++)
            {
                sb.Append(i < digits.Length ? digits[i] : '0');
            }
        }
        else
        {
            sb.Append('0');
        }

        if (prec > 0)
        {
            sb.Append('.');
            for (int i = 0; i < prec; i++)
            {
                int j = dp + i;
                sb.Append(j < 0 || j >= digits.Length ? '0' : digits[j]);
            }
        }
    }

    /// <summary>strconv.Quote: a double-quoted Go string literal.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var rune in s.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '\a': sb.Append("\\a"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\v': sb.Append("\\v"); break;
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                default:
                    if (rune.Value < 0x20 || rune.Value == 0x7f)
                    {
                        sb.Append("\\x").Append(rune.Value.ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                             || (Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator && rune.Value != ' '))
                    {
                        sb.Append(rune.Value < 0x10000 ? "\\u" + rune.Value.ToString("x4", CultureInfo.InvariantCulture) : "\\U" + rune.Value.ToString("x8", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(rune.ToString());
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }

    /// <summary>strconv.Unquote of a "double-quoted", `raw` or 'c' literal; null when it is not valid.</summary>
    public static string? Unquote(string s)
    {
        if (s.Length < 2)
        {
            return null;
        }

        char q = s[0];
        if (s[^1] != q)
        {
            return null;
        }

        if (q == '`')
        {
            return s[1..^1].Replace("\r", "", StringComparison.Ordinal);
        }

        if (q is not ('"' or '\''))
        {
            return null;
        }

        var sb = new StringBuilder();
        for (int i = 1; i < s.Length - 1; i++)
        {
            char c = s[i];
            if (c != '\\')
            {
                if (c == q)
                {
                    return null;
                }

                sb.Append(c);
                continue;
            }

            if (++i >= s.Length - 1)
            {
                return null;
            }

            char e = s[i];
            switch (e)
            {
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case '\\': sb.Append('\\'); break;
                case '\'' or '"':
                    if (e != q)
                    {
                        return null;
                    }

                    sb.Append(e);
                    break;
                case 'x' or 'u' or 'U':
                    int n = e switch { 'x' => 2, 'u' => 4, _ => 8 };
                    if (i + n >= s.Length || !int.TryParse(s.AsSpan(i + 1, n), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int code))
                    {
                        return null;
                    }

                    sb.Append(e == 'x' ? ((char)code).ToString() : char.ConvertFromUtf32(code));
                    i += n;
                    break;
                case >= '0' and <= '7':
                    if (i + 2 >= s.Length)
                    {
                        return null;
                    }

                    sb.Append((char)Convert.ToInt32(s.Substring(i, 3), 8));
                    i += 2;
                    break;
                default:
                    return null;
            }
        }

        string result = sb.ToString();
        return q == '\'' && result.EnumerateRunes().Count() != 1 ? null : result;
    }
}
