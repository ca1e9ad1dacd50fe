using System.Text;

namespace Containers.Compose;

/// <summary>
/// The compose spec's variable interpolation: <c>$V</c>, <c>${V}</c>, <c>${V:-d}</c>, <c>${V-d}</c>, <c>${V:?e}</c>,
/// <c>${V?e}</c>, <c>${V:+a}</c>, <c>${V+a}</c>, nested in defaults, and <c>$$</c> for a literal dollar.
/// </summary>
public static class Interpolation
{
    /// <summary>
    /// Substitutes the variables of <paramref name="text"/> from <paramref name="lookup"/> (null: unset).
    /// <paramref name="warn"/> hears about unset variables used without a default; a <c>?</c> form whose variable is
    /// missing throws <see cref="ComposeException"/> with its message, prefixed by <paramref name="where"/>.
    /// </summary>
    public static string Substitute(string text, Func<string, string?> lookup, string where = "", Action<string>? warn = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(lookup);
        if (!text.Contains('$', StringComparison.Ordinal))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c != '$' || i + 1 >= text.Length)
            {
                sb.Append(c);
                i++;
                continue;
            }

            var next = text[i + 1];
            if (next == '$')
            {
                sb.Append('$');
                i += 2;
            }
            else if (next == '{')
            {
                var end = Closing(text, i + 2) ?? throw new ComposeException($"{where}invalid interpolation format for \"{text}\": missing closing brace");
                sb.Append(Braced(text[(i + 2)..end], lookup, where, warn, text));
                i = end + 1;
            }
            else if (char.IsAsciiLetter(next) || next == '_')
            {
                var j = i + 1;
                while (j < text.Length && (char.IsAsciiLetterOrDigit(text[j]) || text[j] == '_'))
                {
                    j++;
                }

                var name = text[(i + 1)..j];
                sb.Append(Value(name, lookup, warn));
                i = j;
            }
            else
            {
                sb.Append('$');
                i++;
            }
        }

        return sb.ToString();
    }

    private static string Value(string name, Func<string, string?> lookup, Action<string>? warn)
    {
        if (lookup(name) is { } v)
        {
            return v;
        }

        warn?.Invoke($"The \"{name}\" variable is not set. Defaulting to a blank string.");
        return "";
    }

    private static int? Closing(string text, int from)
    {
        var depth = 1;
        for (var i = from; i < text.Length; i++)
        {
            if (text[i] == '{' && text[i - 1] == '$')
            {
                depth++;
            }
            else if (text[i] == '}' && --depth == 0)
            {
                return i;
            }
        }

        return null;
    }

    private static string Braced(string body, Func<string, string?> lookup, string where, Action<string>? warn, string whole)
    {
        var n = 0;
        while (n < body.Length && (char.IsAsciiLetterOrDigit(body[n]) || body[n] == '_'))
        {
            n++;
        }

        var name = body[..n];
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            throw new ComposeException($"{where}invalid interpolation format for \"{whole}\": \"${{{body}}}\" is not a variable name");
        }

        if (n == body.Length)
        {
            return Value(name, lookup, warn);
        }

        var rest = body[n..];
        var colon = rest.StartsWith(':');
        var op = colon ? (rest.Length > 1 ? rest[1] : '\0') : rest[0];
        var arg = rest[(colon ? 2 : 1)..];
        var value = lookup(name);
        var missing = colon ? string.IsNullOrEmpty(value) : value is null;
        switch (op)
        {
            case '-':
                return missing ? Substitute(arg, lookup, where, warn) : value!;
            case '?':
                if (missing)
                {
                    var message = Substitute(arg, lookup, where, warn);
                    throw new ComposeException($"{where}required variable {name} is missing a value{(message.Length > 0 ? ": " + message : "")}");
                }

                return value!;
            case '+':
                return missing ? "" : Substitute(arg, lookup, where, warn);
            default:
                throw new ComposeException($"{where}invalid interpolation format for \"{whole}\": unsupported operator in \"${{{body}}}\"");
        }
    }
}

/// <summary>Reads <c>.env</c> and <c>env_file</c> files as docker compose does.</summary>
public static class EnvFile
{
    /// <summary>
    /// Parses <c>KEY=VALUE</c> lines (<c>export</c> prefix, comments, single quotes literal, double quotes with escapes,
    /// <c>${VAR}</c> from <paramref name="lookup"/> and earlier lines). A bare <c>KEY</c> takes its value from
    /// <paramref name="lookup"/> (null when unset). Throws <see cref="ComposeException"/> naming file and line.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string?>> Parse(string path, Func<string, string?> lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        var result = new List<KeyValuePair<string, string?>>();
        var own = new Dictionary<string, string?>();
        string? Lookup(string k) => own.TryGetValue(k, out var v) ? v : lookup(k);
        var lines = File.ReadAllLines(path);
        for (var li = 0; li < lines.Length; li++)
        {
            var line = lines[li].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            var key = (eq < 0 ? line : line[..eq]).Trim();
            if (key.Length == 0 || key.Any(char.IsWhiteSpace))
            {
                throw new ComposeException($"{path}:{li + 1}: invalid line '{lines[li]}': expected KEY=VALUE");
            }

            string? value;
            if (eq < 0)
            {
                value = lookup(key);
            }
            else
            {
                var raw = line[(eq + 1)..].TrimStart();
                if (raw.StartsWith('\''))
                {
                    var close = raw.IndexOf('\'', 1);
                    value = close < 0 ? throw new ComposeException($"{path}:{li + 1}: unterminated single quote") : raw[1..close];
                }
                else if (raw.StartsWith('"'))
                {
                    var sb = new StringBuilder();
                    var j = 1;
                    var text = raw;
                    while (true)
                    {
                        if (j >= text.Length)
                        {
                            if (++li >= lines.Length)
                            {
                                throw new ComposeException($"{path}:{li}: unterminated double quote");
                            }

                            sb.Append('\n');
                            text = lines[li];
                            j = 0;
                            continue;
                        }

                        if (text[j] == '"')
                        {
                            break;
                        }

                        if (text[j] == '\\' && j + 1 < text.Length)
                        {
                            j++;
                            sb.Append(text[j] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', _ => text[j] });
                        }
                        else
                        {
                            sb.Append(text[j]);
                        }

                        j++;
                    }

                    value = Interpolation.Substitute(sb.ToString(), Lookup, $"{path}:{li + 1}: ");
                }
                else
                {
                    var hash = raw.IndexOf(" #", StringComparison.Ordinal);
                    value = Interpolation.Substitute((hash >= 0 ? raw[..hash] : raw).TrimEnd(), Lookup, $"{path}:{li + 1}: ");
                }
            }

            own[key] = value;
            result.Add(KeyValuePair.Create(key, value));
        }

        return result;
    }
}
