namespace Containers.Build;

/// <summary>
/// Docker's word processing for instructions that expand variables (FROM, COPY, ADD, ENV, ARG, LABEL, WORKDIR,
/// USER, EXPOSE, VOLUME, STOPSIGNAL): quotes removed (single quotes literal, double quotes expanding), the escape
/// character, <c>$v</c>, <c>${v}</c>, <c>${v:-w}</c>, <c>${v-w}</c>, <c>${v:+w}</c>, <c>${v+w}</c>, <c>${v:?e}</c>, <c>${v?e}</c>.
/// </summary>
internal sealed class ShellWords(Func<string, string?> lookup, char escape = '\\')
{
    /// <summary>The names looked up (for the cache key: the build args an instruction uses).</summary>
    public HashSet<string> Used { get; } = new(StringComparer.Ordinal);

    /// <summary>Processes <paramref name="text"/> into one string (whitespace kept).</summary>
    public string Single(string text) => string.Concat(Words(text, split: false));

    /// <summary>Processes <paramref name="text"/> into words split on unquoted whitespace.</summary>
    public List<string> Split(string text) => Words(text, split: true);

    private List<string> Words(string text, bool split)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (split && char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }

                i++;
                continue;
            }

            inWord = true;
            if (c == escape && i + 1 < text.Length)
            {
                current.Append(text[i + 1]);
                i += 2;
            }
            else if (c == '\'')
            {
                var end = text.IndexOf('\'', i + 1);
                if (end < 0)
                {
                    throw new FormatException("unexpected end of statement while looking for matching single-quote");
                }

                current.Append(text, i + 1, end - i - 1);
                i = end + 1;
            }
            else if (c == '"')
            {
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new FormatException("unexpected end of statement while looking for matching double-quote");
                    }

                    if (text[i] == '"')
                    {
                        i++;
                        break;
                    }

                    if (text[i] == escape && i + 1 < text.Length && (text[i + 1] is '"' or '$' || text[i + 1] == escape))
                    {
                        current.Append(text[i + 1]);
                        i += 2;
                    }
                    else if (text[i] == '$')
                    {
                        i = Dollar(text, i, current);
                    }
                    else
                    {
                        current.Append(text[i++]);
                    }
                }
            }
            else if (c == '$')
            {
                i = Dollar(text, i, current);
            }
            else
            {
                current.Append(c);
                i++;
            }
        }

        if (inWord || (!split && current.Length > 0))
        {
            words.Add(current.ToString());
        }

        return words;
    }

    /// <summary>Expands the variable at <paramref name="i"/> (a '$'); returns the index after it.</summary>
    private int Dollar(string text, int i, StringBuilder output)
    {
        if (i + 1 >= text.Length)
        {
            output.Append('$');
            return i + 1;
        }

        if (text[i + 1] == '{')
        {
            var close = Matching(text, i + 1);
            if (close < 0)
            {
                throw new FormatException($"missing '}}' in '{text[i..]}'");
            }

            var inner = text[(i + 2)..close];
            var nameLength = 0;
            while (nameLength < inner.Length && (char.IsAsciiLetterOrDigit(inner[nameLength]) || inner[nameLength] == '_'))
            {
                nameLength++;
            }

            var name = inner[..nameLength];
            if (name.Length == 0)
            {
                throw new FormatException($"bad substitution '{text[i..(close + 1)]}'");
            }

            Used.Add(name);
            var value = lookup(name);
            var rest = inner[nameLength..];
            if (rest.Length == 0)
            {
                output.Append(value);
            }
            else
            {
                var colon = rest.StartsWith(':');
                var op = colon ? rest[1..2] : rest[..1];
                var word = rest[(colon ? 2 : 1)..];
                var set = colon ? !string.IsNullOrEmpty(value) : value is not null;
                switch (op)
                {
                    case "-":
                        output.Append(set ? value : Single(word));
                        break;
                    case "+":
                        output.Append(set ? Single(word) : "");
                        break;
                    case "?":
                        output.Append(set ? value : throw new FormatException($"{name}: {(word.Length > 0 ? Single(word) : "parameter not set")}"));
                        break;
                    default:
                        throw new FormatException($"unsupported modifier '{rest}' in '{text[i..(close + 1)]}'");
                }
            }

            return close + 1;
        }

        var start = i + 1;
        var end = start;
        while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'))
        {
            end++;
        }

        if (end == start)
        {
            output.Append('$');
            return start;
        }

        var n = text[start..end];
        Used.Add(n);
        output.Append(lookup(n));
        return end;
    }

    private static int Matching(string text, int open)
    {
        var depth = 0;
        for (var j = open; j < text.Length; j++)
        {
            if (text[j] == '{')
            {
                depth++;
            }
            else if (text[j] == '}' && --depth == 0)
            {
                return j;
            }
        }

        return -1;
    }
}
