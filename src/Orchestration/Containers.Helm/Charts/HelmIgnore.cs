using System.Text.RegularExpressions;

namespace Containers.Helm.Charts;

/// <summary>
/// .helmignore (Helm's pkg/ignore): one pattern per line, # comments, ! negates, a trailing / matches directories
/// only, a pattern with a / matches the whole path, otherwise the base name; templates/.* is always ignored.
/// </summary>
internal sealed class HelmIgnore
{
    private readonly List<(Regex Pattern, bool Negate, bool DirectoryOnly, bool FullPath)> rules = [];

    public static HelmIgnore Load(string path)
    {
        var ignore = new HelmIgnore();
        ignore.Add("templates/.?*");
        if (File.Exists(path))
        {
            foreach (string line in File.ReadAllLines(path))
            {
                ignore.Add(line);
            }
        }

        return ignore;
    }

    private void Add(string line)
    {
        string p = line.Trim();
        if (p.Length == 0 || p.StartsWith('#'))
        {
            return;
        }

        bool negate = p.StartsWith('!');
        if (negate)
        {
            p = p[1..];
        }

        bool dirOnly = p.EndsWith('/');
        p = p.TrimEnd('/').TrimStart('/');
        bool full = p.Contains('/', StringComparison.Ordinal);
        string regex = "^" + Regex.Escape(p).Replace(@"\*", "[^/]*", StringComparison.Ordinal).Replace(@"\?", "[^/]", StringComparison.Ordinal).Replace(@"\[", "[", StringComparison.Ordinal).Replace(@"\]", "]", StringComparison.Ordinal) + "$";
        rules.Add((new Regex(regex, RegexOptions.CultureInvariant), negate, dirOnly, full));
    }

    /// <summary>Whether <paramref name="path"/> (relative, slash-separated) is ignored; the last matching rule decides.</summary>
    public bool Ignored(string path, bool isDirectory)
    {
        bool ignored = false;
        string name = path[(path.LastIndexOf('/') + 1)..];
        foreach (var (pattern, negate, dirOnly, full) in rules)
        {
            if (dirOnly && !isDirectory)
            {
                continue;
            }

            if (pattern.IsMatch(full ? path : name))
            {
                ignored = !negate;
            }
        }

        return ignored;
    }
}
