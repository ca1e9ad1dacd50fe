using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

public static partial class Sprig
{
    private static void AddStrings(Adder add, Context context)
    {
        add("hello", [], _ => "Hello!");
        add("upper", [S], a => ((string)a[0]!).ToUpperInvariant());
        add("lower", [S], a => ((string)a[0]!).ToLowerInvariant());
        add("title", [S], a => Title((string)a[0]!));
        add("untitle", [S], a => Untitle((string)a[0]!));
        add("trim", [S], a => ((string)a[0]!).Trim(GoSpace));
        add("trimAll", [S, S], a => ((string)a[1]!).Trim(((string)a[0]!).ToCharArray()));
        add("trimall", [S, S], a => ((string)a[1]!).Trim(((string)a[0]!).ToCharArray()));
        add("trimSuffix", [S, S], a => ((string)a[1]!).EndsWith((string)a[0]!, StringComparison.Ordinal) ? ((string)a[1]!)[..^((string)a[0]!).Length] : a[1]);
        add("trimPrefix", [S, S], a => ((string)a[1]!).StartsWith((string)a[0]!, StringComparison.Ordinal) ? ((string)a[1]!)[((string)a[0]!).Length..] : a[1]);
        add("nospace", [S], a => string.Concat(((string)a[0]!).Where(c => !char.IsWhiteSpace(c))));
        add("initials", [S], a => string.Concat(((string)a[0]!).Split(GoSpace, StringSplitOptions.RemoveEmptyEntries).Select(w => w[0])));
        add("abbrev", [I, S], a => Abbrev((string)a[1]!, (int)(long)a[0]!));
        add("abbrevboth", [I, I, S], a => AbbrevBoth((string)a[2]!, (int)(long)a[0]!, (int)(long)a[1]!));
        add("trunc", [I, S], a => Trunc((string)a[1]!, (long)a[0]!));
        add("substr", [I, I, S], a => Substr((string)a[2]!, (long)a[0]!, (long)a[1]!));
        add("repeat", [I, S], a => (long)a[0]! < 0 ? throw Fail("strings: negative Repeat count") : string.Concat(Enumerable.Repeat((string)a[1]!, (int)(long)a[0]!)));
        add("contains", [S, S], a => ((string)a[1]!).Contains((string)a[0]!, StringComparison.Ordinal));
        add("hasPrefix", [S, S], a => ((string)a[1]!).StartsWith((string)a[0]!, StringComparison.Ordinal));
        add("hasSuffix", [S, S], a => ((string)a[1]!).EndsWith((string)a[0]!, StringComparison.Ordinal));
        add("quote", [A], a => string.Join(" ", a.Where(x => x is not null).Select(x => GoFormat.Quote(Str(x)))), variadic: true);
        add("squote", [A], a => string.Join(" ", a.Where(x => x is not null).Select(x => "'" + Str(x) + "'")), variadic: true);
        add("cat", [A], a => string.Join(" ", a.Where(x => x is not null).Select(GoFormat.Print)), variadic: true);
        add("indent", [I, S], a => Indent((string)a[1]!, (int)(long)a[0]!));
        add("nindent", [I, S], a => "\n" + Indent((string)a[1]!, (int)(long)a[0]!));
        add("replace", [S, S, S], a => ((string)a[0]!).Length == 0 ? ReplaceEmpty((string)a[2]!, (string)a[1]!) : ((string)a[2]!).Replace((string)a[0]!, (string)a[1]!, StringComparison.Ordinal));
        add("plural", [S, S, I], a => (long)a[2]! == 1 ? a[0] : a[1]);
        add("swapcase", [S], a => string.Concat(((string)a[0]!).Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.IsLower(c) ? char.ToUpperInvariant(c) : c)));
        add("shuffle", [S], a => new string(((string)a[0]!).OrderBy(_ => context.Random.Next()).ToArray()));
        add("snakecase", [S], a => Words((string)a[0]!, "_"));
        add("kebabcase", [S], a => Words((string)a[0]!, "-"));
        add("camelcase", [S], a => string.Concat(((string)a[0]!).Split(['_', ' '], StringSplitOptions.RemoveEmptyEntries).Select(w => char.ToUpperInvariant(w[0]) + w[1..])));
        add("wrap", [I, S], a => Wrap((string)a[1]!, (int)(long)a[0]!, "\n"));
        add("wrapWith", [I, S, S], a => Wrap((string)a[2]!, (int)(long)a[0]!, (string)a[1]!));
        add("toString", [A], a => Str(a[0]));
        add("toStrings", [A], a => StrSlice(a[0]).Cast<object?>().ToList());
        add("split", [S, S], a => Parts(((string)a[1]!).Split((string)a[0]!)));
        add("splitn", [S, I, S], a => Parts(((string)a[2]!).Split((string)a[0]!, (int)Math.Max((long)a[1]!, 1))));
        add("splitList", [S, S], a => (((string)a[0]!).Length == 0 ? ((string)a[1]!).Select(c => c.ToString()).ToArray() : ((string)a[1]!).Split((string)a[0]!)).Cast<object?>().ToList());
        add("join", [S, A], a => string.Join((string)a[0]!, StrSlice(a[1])));
        add("sortAlpha", [A], a => StrSlice(a[0]).Order(StringComparer.Ordinal).Cast<object?>().ToList());
        add("regexMatch", [S, S], a => Regex((string)a[0]!, must: false)?.IsMatch((string)a[1]!) ?? false);
        add("mustRegexMatch", [S, S], a => Regex((string)a[0]!, must: true)!.IsMatch((string)a[1]!));
        add("regexFind", [S, S], a => Regex((string)a[0]!, false)?.Match((string)a[1]!) is { Success: true } m ? m.Value : "");
        add("mustRegexFind", [S, S], a => Regex((string)a[0]!, true)!.Match((string)a[1]!) is { Success: true } m ? m.Value : "");
        add("regexFindAll", [S, S, I], a => FindAll(Regex((string)a[0]!, false), (string)a[1]!, (long)a[2]!));
        add("mustRegexFindAll", [S, S, I], a => FindAll(Regex((string)a[0]!, true), (string)a[1]!, (long)a[2]!));
        add("regexReplaceAll", [S, S, S], a => Regex((string)a[0]!, false)?.Replace((string)a[1]!, GoReplacement((string)a[2]!)) ?? a[1]);
        add("mustRegexReplaceAll", [S, S, S], a => Regex((string)a[0]!, true)!.Replace((string)a[1]!, GoReplacement((string)a[2]!)));
        add("regexReplaceAllLiteral", [S, S, S], a => Regex((string)a[0]!, false)?.Replace((string)a[1]!, ((string)a[2]!).Replace("$", "$$", StringComparison.Ordinal)) ?? a[1]);
        add("mustRegexReplaceAllLiteral", [S, S, S], a => Regex((string)a[0]!, true)!.Replace((string)a[1]!, ((string)a[2]!).Replace("$", "$$", StringComparison.Ordinal)));
        add("regexSplit", [S, S, I], a => Split(Regex((string)a[0]!, false), (string)a[1]!, (long)a[2]!));
        add("mustRegexSplit", [S, S, I], a => Split(Regex((string)a[0]!, true), (string)a[1]!, (long)a[2]!));
        add("regexQuoteMeta", [S], a => QuoteMeta((string)a[0]!));
    }

    private static readonly char[] GoSpace = [' ', '\t', '\n', '\r', '\v', '\f'];

    private static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        char prev = ' ';
        foreach (char c in s)
        {
            bool separator = !(char.IsLetterOrDigit(c) || c == '_') && (c < 0x80 || char.IsWhiteSpace(c));
            bool prevSeparator = !(char.IsLetterOrDigit(prev) || prev == '_') && (prev < 0x80 || char.IsWhiteSpace(prev));
            sb.Append(prevSeparator && !separator ? char.ToUpperInvariant(c) : c);
            prev = c;
        }

        return sb.ToString();
    }

    private static string Untitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool start = true;
        foreach (char c in s)
        {
            sb.Append(start && !char.IsWhiteSpace(c) ? char.ToLowerInvariant(c) : c);
            start = char.IsWhiteSpace(c);
        }

        return sb.ToString();
    }

    private static string Abbrev(string s, int width) =>
        width < 4 || s.Length <= width ? s : s[..(width - 3)] + "...";

    private static string AbbrevBoth(string s, int offset, int width)
    {
        if (width < 4 || s.Length <= width)
        {
            return s;
        }

        offset = Math.Clamp(offset, 0, s.Length);
        if (s.Length - offset < width - 3)
        {
            offset = s.Length - (width - 3);
        }

        if (offset <= 4)
        {
            return s[..(width - 3)] + "...";
        }

        if (width < 7)
        {
            return s;
        }

        if (offset + width - 3 < s.Length)
        {
            return "..." + Abbrev(s[offset..], width - 3);
        }

        return "..." + s[(s.Length - (width - 3))..];
    }

    private static string Trunc(string s, long c)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        if (c < 0 && bytes.Length + c > 0)
        {
            return Encoding.UTF8.GetString(bytes, (int)(bytes.Length + c), (int)-c);
        }

        return c >= 0 && bytes.Length > c ? Encoding.UTF8.GetString(bytes, 0, (int)c) : s;
    }

    private static string Substr(string s, long start, long end)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        if (start < 0)
        {
            return Encoding.UTF8.GetString(bytes, 0, (int)Math.Min(Math.Max(end, 0), bytes.Length));
        }

        if (end < 0 || end > bytes.Length)
        {
            return start > bytes.Length ? "" : Encoding.UTF8.GetString(bytes, (int)start, bytes.Length - (int)start);
        }

        return start > end ? throw Fail($"slice bounds out of range [{start}:{end}]") : Encoding.UTF8.GetString(bytes, (int)start, (int)(end - start));
    }

    private static string Indent(string v, int spaces)
    {
        string pad = new(' ', Math.Max(spaces, 0));
        return pad + v.Replace("\n", "\n" + pad, StringComparison.Ordinal);
    }

    private static string ReplaceEmpty(string src, string replacement)
    {
        var sb = new StringBuilder(replacement);
        foreach (var rune in src.EnumerateRunes())
        {
            sb.Append(rune.ToString()).Append(replacement);
        }

        return sb.ToString();
    }

    private static string Words(string s, string sep)
    {
        // xstrings.ToSnakeCase: words split at case changes, spaces, dashes and underscores, lower-cased
        var words = new List<StringBuilder>();
        StringBuilder? word = null;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is ' ' or '_' or '-' or '.')
            {
                word = null;
                continue;
            }

            bool boundary = word is not null && char.IsUpper(c) && (char.IsLower(s[i - 1]) || char.IsDigit(s[i - 1]) || (i + 1 < s.Length && char.IsLower(s[i + 1]) && char.IsUpper(s[i - 1])));
            if (word is null || boundary)
            {
                word = new StringBuilder();
                words.Add(word);
            }

            word.Append(char.ToLowerInvariant(c));
        }

        return string.Join(sep, words.Select(w => w.ToString()));
    }

    private static string Wrap(string s, int width, string newline)
    {
        if (width < 1)
        {
            width = 1;
        }

        var lines = new List<string>();
        foreach (string line in s.Split('\n'))
        {
            string rest = line;
            while (rest.Length > width)
            {
                if (rest[width] == ' ')
                {
                    lines.Add(rest[..width]);
                    rest = rest[(width + 1)..];
                    continue;
                }

                int space = rest.LastIndexOf(' ', width);
                if (space <= 0)
                {
                    space = rest.IndexOf(' ', width);
                    if (space < 0)
                    {
                        break;
                    }
                }

                lines.Add(rest[..space]);
                rest = rest[(space + 1)..];
            }

            lines.Add(rest);
        }

        return string.Join(newline, lines);
    }

    /// <summary>Sprig's strslice: a list's non-nil items as strings, a single value as one.</summary>
    internal static List<string> StrSlice(object? v) => v switch
    {
        null => [],
        System.Collections.IList list => list.Cast<object?>().Where(x => x is not null).Select(Str).ToList(),
        _ => [Str(v)],
    };

    private static Dictionary<string, object?> Parts(string[] parts)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (int i = 0; i < parts.Length; i++)
        {
            map["_" + i.ToString(CultureInfo.InvariantCulture)] = parts[i];
        }

        return map;
    }

    private static Regex? Regex(string pattern, bool must)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(5));
        }
        catch (ArgumentException e)
        {
            return must ? throw Fail($"error parsing regexp: {e.Message}") : null;
        }
    }

    private static List<object?> FindAll(Regex? regex, string s, long n) =>
        regex is null ? [] : regex.Matches(s).Take(n < 0 ? int.MaxValue : (int)n).Select(m => (object?)m.Value).ToList();

    private static List<object?> Split(Regex? regex, string s, long n)
    {
        if (regex is null || n == 0)
        {
            return [];
        }

        var parts = n < 0 ? regex.Split(s) : regex.Split(s, (int)n);
        return parts.Select(p => (object?)p).ToList();
    }

    /// <summary>Go's ${1} and $name expansion to .NET's: $1 stays, ${name} stays; a lone $ that names nothing is dropped as Go drops it.</summary>
    private static string GoReplacement(string repl) =>
        System.Text.RegularExpressions.Regex.Replace(repl, @"\$(\{?)([A-Za-z0-9_]+)(\}?)", m => m.Groups[1].Value == "{" ? "${" + m.Groups[2].Value + "}" : "${" + m.Groups[2].Value + "}");

    private static string QuoteMeta(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
        {
            if (@"\.+*?()|[]{}^$".Contains(c, StringComparison.Ordinal))
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.ToString();
    }
}
