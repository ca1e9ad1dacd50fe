using System.Text.RegularExpressions;

namespace Containers.Build;

/// <summary>
/// <c>.dockerignore</c> rules: one pattern a line (Go's filepath.Match plus <c>**</c>), <c>#</c> comments, <c>!</c>
/// exceptions; the last pattern that matches a path or one of its parents decides.
/// </summary>
public sealed class IgnoreMatcher
{
    private readonly List<(Regex Pattern, bool Exclude)> rules = [];

    /// <summary>Builds the matcher from the file's lines.</summary>
    public IgnoreMatcher(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var exclude = true;
            if (line.StartsWith('!'))
            {
                exclude = false;
                line = line[1..].Trim();
            }

            line = Clean(line);
            if (line.Length == 0)
            {
                continue;
            }

            rules.Add((new Regex("^" + ToRegex(line) + "$", RegexOptions.CultureInvariant), exclude));
        }
    }

    /// <summary>A matcher that keeps everything.</summary>
    public static IgnoreMatcher None { get; } = new([]);

    /// <summary>True when there are exception (<c>!</c>) rules: a directory that is excluded may still hold kept files.</summary>
    public bool HasExceptions => rules.Any(r => !r.Exclude);

    /// <summary>Loads <c>&lt;dockerfile&gt;.dockerignore</c> when it exists, else the context's <c>.dockerignore</c>.</summary>
    public static IgnoreMatcher ForContext(string context, string? dockerfile)
    {
        var specific = dockerfile is null ? null : dockerfile + ".dockerignore";
        var path = specific is not null && File.Exists(specific) ? specific : Path.Combine(context, ".dockerignore");
        return File.Exists(path) ? new IgnoreMatcher(File.ReadAllLines(path)) : None;
    }

    /// <summary>True when <paramref name="relativePath"/> (slash-separated, relative to the context) is ignored.</summary>
    public bool IsIgnored(string relativePath)
    {
        var path = Clean(relativePath);
        var ignored = false;
        foreach (var (pattern, exclude) in rules)
        {
            if (Matches(pattern, path))
            {
                ignored = exclude;
            }
        }

        return ignored;
    }

    private static bool Matches(Regex pattern, string path)
    {
        if (pattern.IsMatch(path))
        {
            return true;
        }

        // a pattern that matches a parent directory matches everything under it
        for (var slash = path.LastIndexOf('/'); slash > 0; slash = path.LastIndexOf('/', slash - 1))
        {
            if (pattern.IsMatch(path[..slash]))
            {
                return true;
            }
        }

        return false;
    }

    internal static string Clean(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == ".." && parts.Count > 0)
            {
                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }

    internal static string ToRegex(string pattern)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                i++;
                if (i + 1 < pattern.Length && pattern[i + 1] == '/')
                {
                    i++;
                    sb.Append("(?:.*/)?");
                }
                else
                {
                    sb.Append(".*");
                }
            }
            else if (c == '*')
            {
                sb.Append("[^/]*");
            }
            else if (c == '?')
            {
                sb.Append("[^/]");
            }
            else if (c == '[')
            {
                var end = pattern.IndexOf(']', i + 1);
                if (end < 0)
                {
                    sb.Append(@"\[");
                    continue;
                }

                var cls = pattern[(i + 1)..end];
                sb.Append('[').Append(cls.StartsWith('^') || cls.StartsWith('!') ? "^" + Regex.Escape(cls[1..]) : Regex.Escape(cls).Replace(@"\-", "-", StringComparison.Ordinal)).Append(']');
                i = end;
            }
            else if (c == '\\' && i + 1 < pattern.Length)
            {
                sb.Append(Regex.Escape(pattern[++i].ToString()));
            }
            else
            {
                sb.Append(Regex.Escape(c.ToString()));
            }
        }

        return sb.ToString();
    }
}
