using System.Text.RegularExpressions;

namespace Containers.Build;

/// <summary>
/// Parses a Dockerfile: parser directives (<c>escape</c>; <c>syntax</c> and <c>check</c> accepted), comments, line
/// continuations, heredocs (<c>&lt;&lt;EOF</c>, <c>&lt;&lt;-EOF</c>, quoted delimiters, several per line), JSON and shell
/// forms, case-insensitive keywords. Errors are <see cref="DockerfileException"/>s naming file, line and column.
/// </summary>
public static partial class DockerfileParser
{
    private static readonly HashSet<string> Keywords =
        ["FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"];

    private static readonly HashSet<string> WithFlags = ["FROM", "RUN", "COPY", "ADD", "HEALTHCHECK"];

    private static readonly HashSet<string> WithHeredocs = ["RUN", "COPY", "ADD"];

    /// <summary>Parses <paramref name="text"/>; <paramref name="file"/> names it in errors.</summary>
    public static Dockerfile Parse(string text, string file = "Dockerfile")
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var escape = '\\';
        var i = 0;
        var warnings = ImmutableArray.CreateBuilder<string>();

        // Parser directives: only at the very top, before any comment that is not one, blank line or instruction.
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (; i < lines.Length; i++)
        {
            var m = DirectivePattern().Match(lines[i]);
            if (!m.Success)
            {
                break;
            }

            var key = m.Groups[1].Value.ToLowerInvariant();
            if (!seen.Add(key))
            {
                throw new DockerfileException(file, i + 1, 1, $"only one {key} parser directive can be used");
            }

            if (key == "escape")
            {
                var value = m.Groups[2].Value.Trim();
                escape = value switch
                {
                    "\\" => '\\',
                    "`" => '`',
                    _ => throw new DockerfileException(file, i + 1, m.Groups[2].Index + 1, $"invalid escape token '{value}' does not match ` or \\"),
                };
            }
            else if (key is not ("syntax" or "check"))
            {
                break; // an unknown directive is a comment
            }
        }

        var instructions = ImmutableArray.CreateBuilder<Instruction>();
        while (i < lines.Length)
        {
            var trimmed = lines[i].TrimStart();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                i++;
                continue;
            }

            var startLine = i + 1;
            var logical = new StringBuilder();
            var original = new StringBuilder();
            while (true)
            {
                if (i >= lines.Length)
                {
                    break;
                }

                var line = lines[i];
                original.Append(line).Append('\n');
                i++;
                var content = line.TrimEnd();
                if (logical.Length > 0 && content.TrimStart().StartsWith('#'))
                {
                    continue; // comments inside a continuation are dropped
                }

                if (content.EndsWith(escape))
                {
                    logical.Append(content[..^1]);
                    if (i >= lines.Length)
                    {
                        break;
                    }

                    continue;
                }

                logical.Append(content);
                break;
            }

            instructions.Add(ParseInstruction(file, startLine, logical.ToString(), escape, lines, ref i, original, warnings));
        }

        return new Dockerfile(file, instructions.ToImmutable(), escape, warnings.ToImmutable());
    }

    private static Instruction ParseInstruction(string file, int line, string text, char escape, string[] lines, ref int next, StringBuilder original, ImmutableArray<string>.Builder warnings)
    {
        var body = text.TrimStart();
        var column = text.Length - body.Length + 1;
        var space = body.IndexOfAny([' ', '\t']);
        var keyword = (space < 0 ? body : body[..space]).ToUpperInvariant();
        var rest = space < 0 ? "" : body[(space + 1)..].Trim();
        if (!Keywords.Contains(keyword))
        {
            throw new DockerfileException(file, line, column, $"unknown instruction: {(space < 0 ? body : body[..space])}");
        }

        var flags = ImmutableArray.CreateBuilder<KeyValuePair<string, string>>();
        if (WithFlags.Contains(keyword))
        {
            while (rest.StartsWith("--", StringComparison.Ordinal))
            {
                var end = rest.IndexOfAny([' ', '\t']);
                var flag = end < 0 ? rest : rest[..end];
                rest = end < 0 ? "" : rest[(end + 1)..].TrimStart();
                var eq = flag.IndexOf('=', StringComparison.Ordinal);
                flags.Add(eq < 0 ? KeyValuePair.Create(flag[2..], "true") : KeyValuePair.Create(flag[2..eq], flag[(eq + 1)..]));
            }
        }

        var heredocs = ImmutableArray.CreateBuilder<Heredoc>();
        if (WithHeredocs.Contains(keyword))
        {
            foreach (Match m in HeredocPattern().Matches(rest))
            {
                var strip = m.Groups[1].Value == "-";
                var quoted = m.Groups[2].Value.Length > 0;
                var name = m.Groups[3].Value;
                var content = new StringBuilder();
                var terminated = false;
                while (next < lines.Length)
                {
                    var l = lines[next++];
                    original.Append(l).Append('\n');
                    var candidate = strip ? l.TrimStart('\t') : l;
                    if (candidate == name)
                    {
                        terminated = true;
                        break;
                    }

                    content.Append(candidate).Append('\n');
                }

                if (!terminated)
                {
                    throw new DockerfileException(file, line, text.IndexOf(m.Value, StringComparison.Ordinal) + 1, $"unterminated heredoc: no line '{name}' ends the here-document started here");
                }

                heredocs.Add(new Heredoc(name, content.ToString(), !quoted));
            }
        }

        var isJson = false;
        ImmutableArray<string> args;
        if (rest.StartsWith('[') && TryJsonArray(rest, out var json))
        {
            isJson = true;
            args = json;
        }
        else
        {
            args = [.. rest.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)];
        }

        if (keyword == "MAINTAINER")
        {
            warnings.Add($"{file}:{line}: MAINTAINER is deprecated; use LABEL maintainer=...");
        }
        else if (keyword == "ENV" && !isJson && args.Length > 0 && !args[0].Contains('=', StringComparison.Ordinal))
        {
            warnings.Add($"{file}:{line}: legacy 'ENV key value' form; use 'ENV key=value'");
        }

        return new Instruction(keyword, flags.ToImmutable(), args, rest, isJson, heredocs.ToImmutable(), line, original.ToString().TrimEnd('\n'));
    }

    private static bool TryJsonArray(string text, out ImmutableArray<string> values)
    {
        values = [];
        try
        {
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.ValueKind != JsonValueKind.Array || doc.RootElement.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
            {
                return false;
            }

            values = [.. doc.RootElement.EnumerateArray().Select(e => e.GetString()!)];
            return true;
        }
        catch (JsonException)
        {
            return false; // not JSON: the shell form, as docker reads it
        }
    }

    [GeneratedRegex(@"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.*?)\s*$")]
    private static partial Regex DirectivePattern();

    [GeneratedRegex(@"<<(-?)(['""]?)([A-Za-z_][A-Za-z0-9_]*)\2")]
    private static partial Regex HeredocPattern();
}
