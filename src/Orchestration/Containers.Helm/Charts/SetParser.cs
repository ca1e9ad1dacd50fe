using System.Globalization;
using System.Text;
using Containers.Helm.Functions;

namespace Containers.Helm.Charts;

/// <summary>How --set-style values are typed.</summary>
public enum SetKind
{
    /// <summary>--set: true/false, null and integers are typed, the rest are strings.</summary>
    Typed,

    /// <summary>--set-string: every value a string.</summary>
    String,

    /// <summary>--set-json: every value JSON.</summary>
    Json,

    /// <summary>--set-file: every value a path whose content is the string.</summary>
    File,

    /// <summary>--set-literal: one key, the rest of the text its string value as is.</summary>
    Literal,
}

/// <summary>
/// Helm's strvals parser: <c>a.b=c,d[0].e=f,list={x,y}</c>, backslash escapes (\, \. \= \[), list indexes that grow
/// the list, null as a value (which removes the chart's default), and the typing of --set, --set-string,
/// --set-json, --set-file and --set-literal.
/// </summary>
public sealed class SetParser
{
    private readonly string text;
    private readonly SetKind kind;
    private readonly Func<string, string>? readFile;
    private int pos;

    private SetParser(string text, SetKind kind, Func<string, string>? readFile)
    {
        this.text = text;
        this.kind = kind;
        this.readFile = readFile;
    }

    /// <summary>Parses <paramref name="text"/> into <paramref name="values"/>.</summary>
    /// <exception cref="ChartException">The text is malformed (the message quotes it, as Helm's does).</exception>
    public static void ParseInto(string text, Dictionary<string, object?> values, SetKind kind = SetKind.Typed, Func<string, string>? readFile = null)
    {
        var parser = new SetParser(text, kind, readFile ?? File.ReadAllText);
        try
        {
            if (kind == SetKind.Literal)
            {
                int eq = text.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    throw new ChartException($"key \"{text}\" has no value");
                }

                Set(values, ParseKeyPath(text[..eq]), text[(eq + 1)..]);
                return;
            }

            while (parser.pos < text.Length)
            {
                parser.Pair(values);
            }
        }
        catch (ChartException e)
        {
            throw new ChartException($"failed parsing --set data \"{text}\": {e.Message}", e);
        }
    }

    private static List<string> ParseKeyPath(string key) => [.. key.Split('.')];

    private void Pair(Dictionary<string, object?> values)
    {
        // key: up to '=' (or ',' meaning no value), honouring escapes; '.' nests; '[n]' indexes
        var path = new List<object>(); // strings (map keys) and ints (list indexes)
        var current = new StringBuilder();
        while (true)
        {
            if (pos >= text.Length)
            {
                throw new ChartException($"key \"{current}\" has no value");
            }

            char c = text[pos++];
            if (c == '\\' && pos < text.Length)
            {
                current.Append(text[pos++]);
            }
            else if (c == '.')
            {
                if (current.Length > 0)
                {
                    path.Add(current.ToString());
                }

                current.Clear();
            }
            else if (c == '[')
            {
                if (current.Length > 0)
                {
                    path.Add(current.ToString());
                }

                current.Clear();
                int close = text.IndexOf(']', pos);
                if (close < 0 || !int.TryParse(text.AsSpan(pos, close - pos), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                {
                    throw new ChartException($"error parsing index: {(close < 0 ? "missing ]" : "strconv.Atoi: parsing " + Templates.GoFormat.Quote(text[pos..close]) + ": invalid syntax")}");
                }

                if (index > 65536)
                {
                    throw new ChartException($"index of {index} is greater than maximum supported index of 65536");
                }

                path.Add(index);
                pos = close + 1;
            }
            else if (c == '=')
            {
                if (current.Length > 0)
                {
                    path.Add(current.ToString());
                }

                break;
            }
            else if (c == ',')
            {
                throw new ChartException($"key \"{current}\" has no value (cannot end with ,)");
            }
            else
            {
                current.Append(c);
            }
        }

        if (path.Count == 0)
        {
            throw new ChartException("key \"\" has no value");
        }

        object? value;
        if (kind != SetKind.Json && pos < text.Length && text[pos] == '{' && kind != SetKind.File)
        {
            pos++;
            var list = new List<object?>();
            while (true)
            {
                string item = ReadValue("},");
                list.Add(Typed(item));
                if (pos >= text.Length)
                {
                    throw new ChartException("list must terminate with '}'");
                }

                if (text[pos++] == '}')
                {
                    break;
                }
            }

            if (pos < text.Length && text[pos] == ',')
            {
                pos++;
            }

            value = list;
        }
        else if (kind == SetKind.Json)
        {
            string json = ReadJson();
            value = Functions.GoJson.TryParse(json, out var parsed, out string? error) ? parsed : throw new ChartException($"invalid JSON {json}: {error}");
        }
        else
        {
            string raw = ReadValue(",");
            if (pos < text.Length && text[pos] == ',')
            {
                pos++;
            }

            value = kind == SetKind.File ? readFile!(raw) : Typed(raw);
        }

        SetPath(values, path, value);
    }

    private string ReadValue(string stops)
    {
        var sb = new StringBuilder();
        while (pos < text.Length && !stops.Contains(text[pos], StringComparison.Ordinal))
        {
            if (text[pos] == '\\' && pos + 1 < text.Length)
            {
                pos++;
            }

            sb.Append(text[pos++]);
        }

        return sb.ToString();
    }

    private string ReadJson()
    {
        // a JSON value runs to the first ',' outside brackets and strings
        int depth = 0;
        bool inString = false;
        int start = pos;
        for (; pos < text.Length; pos++)
        {
            char c = text[pos];
            if (inString)
            {
                if (c == '\\')
                {
                    pos++;
                }
                else if (c == '"')
                {
                    inString = false;
                }

                continue;
            }

            if (c == '"')
            {
                inString = true;
            }
            else if (c is '{' or '[')
            {
                depth++;
            }
            else if (c is '}' or ']')
            {
                depth--;
            }
            else if (c == ',' && depth == 0)
            {
                break;
            }
        }

        string json = text[start..pos];
        if (pos < text.Length)
        {
            pos++;
        }

        return json;
    }

    private object? Typed(string value)
    {
        if (kind == SetKind.String)
        {
            return value;
        }

        switch (value)
        {
            case "true": return true;
            case "false": return false;
            case "null": return null;
            case "0": return 0L;
        }

        if (value.Length > 0 && value[0] != '0' && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
        {
            return l;
        }

        return value;
    }

    private static void Set(Dictionary<string, object?> values, List<string> path, object? value) =>
        SetPath(values, path.Cast<object>().ToList(), value);

    private static void SetPath(Dictionary<string, object?> root, List<object> path, object? value)
    {
        object container = root;
        for (int i = 0; i < path.Count; i++)
        {
            bool last = i == path.Count - 1;
            object? next = last ? value : path[i + 1] is int ? new List<object?>() : new Dictionary<string, object?>(StringComparer.Ordinal);
            switch (path[i], container)
            {
                case (string key, Dictionary<string, object?> map):
                    if (last)
                    {
                        map[key] = value;
                        return;
                    }

                    if (!map.TryGetValue(key, out var existing) || existing is null || (path[i + 1] is int ? existing is not List<object?> : existing is not Dictionary<string, object?>))
                    {
                        map[key] = existing = next;
                    }

                    container = existing!;
                    break;
                case (int index, List<object?> list):
                    while (list.Count <= index)
                    {
                        list.Add(null);
                    }

                    if (last)
                    {
                        list[index] = value;
                        return;
                    }

                    if (list[index] is null || (path[i + 1] is int ? list[index] is not List<object?> : list[index] is not Dictionary<string, object?>))
                    {
                        list[index] = next;
                    }

                    container = list[index]!;
                    break;
                default:
                    throw new ChartException($"unable to parse key: {string.Join(".", path)}");
            }
        }
    }

    /// <summary>The values given by -f files and the --set family, in Helm's order (files, json, set, string, file, literal).</summary>
    public static Dictionary<string, object?> Merge(IEnumerable<string> valueFiles, IEnumerable<string> json, IEnumerable<string> set, IEnumerable<string> setString, IEnumerable<string> setFile, IEnumerable<string>? setLiteral = null, Func<string, string>? readFile = null)
    {
        readFile ??= File.ReadAllText;
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (string file in valueFiles)
        {
            string content = file == "-" ? Console.In.ReadToEnd() : readFile(file);
            object? parsed;
            try
            {
                parsed = GoYaml.Parse(content);
            }
            catch (YamlDotNet.Core.YamlException e)
            {
                throw new ChartException($"failed to parse {file}: error converting YAML to JSON: yaml: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}", e);
            }

            values = ValueMaps.MergeMaps(values, parsed as Dictionary<string, object?> ?? (parsed is null ? new(StringComparer.Ordinal) : throw new ChartException($"failed to parse {file}: the values must be a map")));
        }

        foreach (string s in json)
        {
            ParseInto(s, values, SetKind.Json);
        }

        foreach (string s in set)
        {
            ParseInto(s, values);
        }

        foreach (string s in setString)
        {
            ParseInto(s, values, SetKind.String);
        }

        foreach (string s in setFile)
        {
            ParseInto(s, values, SetKind.File, readFile);
        }

        foreach (string s in setLiteral ?? [])
        {
            ParseInto(s, values, SetKind.Literal);
        }

        return values;
    }
}
