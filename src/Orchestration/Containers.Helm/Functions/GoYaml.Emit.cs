using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

public static partial class GoYaml
{
    private const int BestWidth = 80;

    /// <summary>
    /// sigs.k8s.io/yaml's Marshal of a template value: through JSON (so integral floats are written as integers),
    /// then go-yaml v2's emitter. Ends with a newline.
    /// </summary>
    public static string Serialize(object? value)
    {
        var w = new Writer();
        w.Node(Normalize(value), -1, Context.Root);
        if (w.Column > 0)
        {
            w.Break();
        }

        return w.ToString();
    }

    /// <summary>The value as JSON would carry it: integral floats become integers, times become RFC 3339 strings.</summary>
    private static object? Normalize(object? value) => value switch
    {
        double d => GoJson.Float(d) is var json && long.TryParse(json, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : d,
        int i => (long)i,
        GoTime t => GoTime.Rfc3339Nano(t.Value),
        IDictionary<string, object?> map => map.ToDictionary(kv => kv.Key, kv => Normalize(kv.Value), StringComparer.Ordinal),
        IList list => list.Cast<object?>().Select(Normalize).ToList(),
        ITemplateObject o => o.ToString(),
        _ => value,
    };

    private enum Context { Root, MapValue, SeqItem }

    private sealed class Writer
    {
        private readonly StringBuilder sb = new();

        public int Column { get; private set; }

        public override string ToString() => sb.ToString();

        public void Put(string s)
        {
            foreach (char c in s)
            {
                sb.Append(c);
                Column = c == '\n' ? 0 : Column + (char.IsLowSurrogate(c) ? 0 : 1);
            }
        }

        public void Break() => Put("\n");

        public void Indent(int indent)
        {
            if (Column > 0 || sb.Length > 0 && sb[^1] != '\n')
            {
                Break();
            }

            Put(new string(' ', Math.Max(indent, 0)));
        }

        /// <summary>Writes a node; <paramref name="indent"/> is the indentation of the collection it is in.</summary>
        public void Node(object? value, int indent, Context context)
        {
            switch (value)
            {
                case IDictionary<string, object?> { Count: > 0 } map:
                    int mapIndent = indent < 0 ? 0 : indent + 2;
                    bool first = true;
                    foreach (var key in map.Keys.Order(KeyOrder.Instance))
                    {
                        if (!(first && context == Context.SeqItem) && !(first && context == Context.Root))
                        {
                            Indent(mapIndent);
                        }

                        first = false;
                        Scalar(key, mapIndent, simpleKey: true);
                        Put(":");
                        Value(map[key], mapIndent);
                    }

                    break;
                case IList { Count: > 0 } list:
                    int seqIndent = context == Context.MapValue ? indent : indent < 0 ? 0 : indent + 2;
                    for (int i = 0; i < list.Count; i++)
                    {
                        if (!(i == 0 && context is Context.SeqItem or Context.Root))
                        {
                            Indent(seqIndent);
                        }

                        Put("-");
                        Item(list[i], seqIndent);
                    }

                    break;
                default:
                    Scalar(value, indent < 0 ? 0 : indent, simpleKey: false, root: context == Context.Root);
                    break;
            }
        }

        private void Value(object? value, int mapIndent)
        {
            if (value is IDictionary<string, object?> { Count: > 0 })
            {
                Node(value, mapIndent, Context.MapValue);
            }
            else if (value is IList { Count: > 0 })
            {
                Node(value, mapIndent, Context.MapValue);
            }
            else
            {
                Put(" ");
                Scalar(value, mapIndent, simpleKey: false);
            }
        }

        private void Item(object? value, int seqIndent)
        {
            Put(" ");
            if (value is IDictionary<string, object?> { Count: > 0 } or IList { Count: > 0 })
            {
                Node(value, seqIndent, Context.SeqItem);
            }
            else
            {
                Scalar(value, seqIndent, simpleKey: false);
            }
        }

        /// <summary>A scalar inside a collection indented <paramref name="indent"/> (continuation lines go 2 deeper).</summary>
        public void Scalar(object? value, int indent, bool simpleKey, bool root = false)
        {
            int inner = root ? 2 : indent + 2;
            switch (value)
            {
                case null: Put("null"); return;
                case bool b: Put(b ? "true" : "false"); return;
                case long l: Put(l.ToString(CultureInfo.InvariantCulture)); return;
                case double d:
                    Put(double.IsPositiveInfinity(d) ? ".inf" : double.IsNegativeInfinity(d) ? "-.inf" : double.IsNaN(d) ? ".nan" : GoFormat.FormatFloat(d, 'g', -1));
                    return;
                case IDictionary<string, object?>: Put("{}"); return;
                case IList: Put("[]"); return;
            }

            string s = value as string ?? GoFormat.Print(value);
            bool canPlain = Resolve(s) is string && !Base60().IsMatch(s) && !Timestamp().IsMatch(s);
            var a = Analyze(s);
            if (s.Contains('\n', StringComparison.Ordinal) && !simpleKey && a.BlockAllowed)
            {
                Literal(s, inner);
                return;
            }

            if (!canPlain)
            {
                DoubleQuoted(s, inner, !simpleKey);
            }
            else if (a.PlainAllowed && !(simpleKey && a.LineBreaks) && s.Length > 0)
            {
                Folded(s, inner, !simpleKey, quote: null);
            }
            else if (a.SingleAllowed && !(simpleKey && a.LineBreaks) && !s.Contains('\n', StringComparison.Ordinal))
            {
                Folded(s, inner, !simpleKey, quote: '\'');
            }
            else
            {
                DoubleQuoted(s, inner, !simpleKey);
            }
        }

        private void Folded(string s, int indent, bool allowBreaks, char? quote)
        {
            if (quote is { } q)
            {
                Put(q.ToString());
            }

            bool spaces = false;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c == ' ')
                {
                    bool edge = quote is not null && (i == 0 || i == s.Length - 1);
                    if (allowBreaks && !spaces && Column > BestWidth && !edge && (i + 1 >= s.Length || s[i + 1] != ' '))
                    {
                        Indent(indent);
                    }
                    else
                    {
                        Put(" ");
                    }

                    spaces = true;
                }
                else
                {
                    Put(c == '\'' && quote == '\'' ? "''" : c.ToString());
                    spaces = false;
                }
            }

            if (quote is { } q2)
            {
                Put(q2.ToString());
            }
        }

        private void DoubleQuoted(string s, int indent, bool allowBreaks)
        {
            Put("\"");
            bool spaces = false;
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                if (c == ' ')
                {
                    if (allowBreaks && !spaces && Column > BestWidth && i != 0 && i != s.Length - 1)
                    {
                        Indent(indent);
                        if (i + 1 < s.Length && s[i + 1] == ' ')
                        {
                            Put("\\");
                        }
                    }
                    else
                    {
                        Put(" ");
                    }

                    spaces = true;
                    continue;
                }

                spaces = false;
                Put(c switch
                {
                    '\0' => "\\0",
                    '\a' => "\\a",
                    '\b' => "\\b",
                    '\t' => "\\t",
                    '\n' => "\\n",
                    '\v' => "\\v",
                    '\f' => "\\f",
                    '\r' => "\\r",
                    '\x1b' => "\\e",
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    '\u0085' => "\\N",
                    '\u00a0' => "\\_",
                    '\u2028' => "\\L",
                    '\u2029' => "\\P",
                    _ when !IsPrintable(c) => c <= 0xff ? "\\x" + ((int)c).ToString("X2", CultureInfo.InvariantCulture) : "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture),
                    _ => c.ToString(),
                });
            }

            Put("\"");
        }

        private void Literal(string s, int indent)
        {
            Put("|");
            if (s.Length > 0 && (s[0] == ' ' || s[0] == '\n'))
            {
                Put("2");
            }

            if (s.Length == 0 || s[^1] != '\n')
            {
                Put("-");
            }
            else if (s.Length == 1 || s[^2] == '\n')
            {
                Put("+");
            }

            Break();
            bool breaks = true;
            foreach (char c in s)
            {
                if (c == '\n')
                {
                    Break();
                    breaks = true;
                }
                else
                {
                    if (breaks)
                    {
                        Put(new string(' ', indent));
                    }

                    Put(c.ToString());
                    breaks = false;
                }
            }
        }
    }

    private static bool IsPrintable(char c) =>
        c == '\n' || (c >= 0x20 && c <= 0x7e) || c == 0x85 || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c != 0xfeff) || char.IsSurrogate(c);

    private readonly record struct Analysis(bool PlainAllowed, bool SingleAllowed, bool BlockAllowed, bool LineBreaks);

    /// <summary>libyaml's yaml_emitter_analyze_scalar, for the block context.</summary>
    private static Analysis Analyze(string s)
    {
        if (s.Length == 0)
        {
            return new Analysis(false, true, false, false);
        }

        bool blockIndicators = s.StartsWith("---", StringComparison.Ordinal) || s.StartsWith("...", StringComparison.Ordinal);
        bool specialCharacters = false, lineBreaks = false, spaceBreak = false, breakSpace = false;
        bool leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false;
        bool previousSpace = false, previousBreak = false, precededByWhitespace = true;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            bool followedByWhitespace = i + 1 >= s.Length || s[i + 1] is ' ' or '\t' or '\n' or '\r';
            if (i == 0)
            {
                switch (c)
                {
                    case '#' or ',' or '[' or ']' or '{' or '}' or '&' or '*' or '!' or '|' or '>' or '\'' or '"' or '%' or '@' or '`':
                        blockIndicators = true;
                        break;
                    case '?' or ':':
                        if (followedByWhitespace)
                        {
                            blockIndicators = true;
                        }

                        break;
                    case '-':
                        if (followedByWhitespace)
                        {
                            blockIndicators = true;
                        }

                        break;
                }
            }
            else
            {
                if (c == ':' && followedByWhitespace)
                {
                    blockIndicators = true;
                }

                if (c == '#' && precededByWhitespace)
                {
                    blockIndicators = true;
                }
            }

            if (!IsPrintable(c) || c == '\ufeff')
            {
                specialCharacters = true;
            }

            if (c == '\n')
            {
                lineBreaks = true;
            }

            if (c == ' ')
            {
                if (i == 0)
                {
                    leadingSpace = true;
                }

                if (i == s.Length - 1)
                {
                    trailingSpace = true;
                }

                if (previousBreak)
                {
                    breakSpace = true;
                }

                previousSpace = true;
                previousBreak = false;
            }
            else if (c == '\n')
            {
                if (i == 0)
                {
                    leadingBreak = true;
                }

                if (i == s.Length - 1)
                {
                    trailingBreak = true;
                }

                if (previousSpace)
                {
                    spaceBreak = true;
                }

                previousSpace = false;
                previousBreak = true;
            }
            else
            {
                previousSpace = false;
                previousBreak = false;
            }

            precededByWhitespace = c is ' ' or '\t' or '\n' or '\r';
        }

        bool plain = true, single = true, block = true;
        if (leadingSpace || leadingBreak || trailingSpace || trailingBreak)
        {
            plain = false;
        }

        if (trailingSpace)
        {
            block = false;
        }

        if (breakSpace)
        {
            plain = false;
            single = false;
        }

        if (spaceBreak || specialCharacters)
        {
            plain = false;
            single = false;
            block = false;
        }

        if (lineBreaks)
        {
            plain = false;
        }

        if (blockIndicators)
        {
            plain = false;
        }

        return new Analysis(plain, single, block, lineBreaks);
    }

    [GeneratedRegex(@"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")]
    private static partial Regex Base60();

    [GeneratedRegex(@"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$")]
    private static partial Regex Timestamp();

    /// <summary>go-yaml v2's key order: letters after other characters, runs of digits compared as numbers.</summary>
    private sealed class KeyOrder : IComparer<string>
    {
        public static readonly KeyOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            if (x == y)
            {
                return 0;
            }

            return Less(x!, y!) ? -1 : Less(y!, x!) ? 1 : 0;
        }

        private static bool Less(string a, string b)
        {
            var ar = a.EnumerateRunes().ToArray();
            var br = b.EnumerateRunes().ToArray();
            for (int i = 0; i < ar.Length && i < br.Length; i++)
            {
                if (ar[i] == br[i])
                {
                    continue;
                }

                bool al = Rune.IsLetter(ar[i]), bl = Rune.IsLetter(br[i]);
                if (al && bl)
                {
                    return ar[i] < br[i];
                }

                if (al || bl)
                {
                    return bl;
                }

                long an = 0, bn = 0;
                if (ar[i].Value == '0' || br[i].Value == '0')
                {
                    for (int j = i - 1; j >= 0 && Rune.IsDigit(ar[j]); j--)
                    {
                        if (ar[j].Value != '0')
                        {
                            an = 1;
                            bn = 1;
                            break;
                        }
                    }
                }

                int ai = i, bi = i;
                for (; ai < ar.Length && Rune.IsDigit(ar[ai]); ai++)
                {
                    an = an * 10 + (ar[ai].Value - '0');
                }

                for (; bi < br.Length && Rune.IsDigit(br[bi]); bi++)
                {
                    bn = bn * 10 + (br[bi].Value - '0');
                }

                if (an != bn)
                {
                    return an < bn;
                }

                if (ai != bi)
                {
                    return ai < bi;
                }

                return ar[i] < br[i];
            }

            return ar.Length < br.Length;
        }
    }
}
