using System.Globalization;
using System.Text.RegularExpressions;
using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

/// <summary>
/// Masterminds/semver v3 as Sprig and Helm use it: lenient versions ("v1.2", "1"), and constraints with
/// comparison operators, ~, ^, wildcards, hyphen ranges, "," or space for and, "||" for or, and its rule that a
/// prerelease version only satisfies constraints that name a prerelease.
/// </summary>
internal sealed partial record GoSemver(ulong Major, ulong Minor, ulong Patch, string Prerelease, string Metadata, string Original) : ITemplateObject, IComparable<GoSemver>
{
    [GeneratedRegex(@"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$")]
    private static partial Regex VersionPattern();

    /// <summary>Parses a version; null when it is not one.</summary>
    public static GoSemver? Parse(string text)
    {
        var m = VersionPattern().Match(text);
        if (!m.Success)
        {
            return null;
        }

        static ulong Part(Group g) => g.Success ? ulong.Parse(g.Value.TrimStart('.'), CultureInfo.InvariantCulture) : 0;
        return new GoSemver(Part(m.Groups[1]), Part(m.Groups[2]), Part(m.Groups[3]), m.Groups[5].Value, m.Groups[8].Value, text);
    }

    /// <summary>semverCompare: whether <paramref name="version"/> satisfies <paramref name="constraint"/>.</summary>
    /// <exception cref="TemplateFunctionException">The constraint or the version does not parse.</exception>
    public static bool Satisfies(string constraint, string version)
    {
        var v = Parse(version) ?? throw new TemplateFunctionException("Invalid Semantic Version");
        foreach (string alternative in constraint.Split("||"))
        {
            if (AndGroup(alternative).All(c => c(v)))
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"\s*(\d[^\s,]*|[xX*][^\s,]*)\s+-\s+(\S+)\s*")]
    private static partial Regex HyphenPattern();

    [GeneratedRegex(@"^(!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*(v?[0-9xX*][0-9A-Za-z\-\.+*]*)$")]
    private static partial Regex ConstraintPattern();

    private static List<Func<GoSemver, bool>> AndGroup(string text)
    {
        text = HyphenPattern().Replace(text, m => $" >={m.Groups[1].Value} <={m.Groups[2].Value} ");
        var result = new List<Func<GoSemver, bool>>();
        text = Regex.Replace(text.Replace(',', ' '), @"(!=|>=|=>|<=|=<|~>|>|<|=|~|\^)\s+", "$1");
        var tokens = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (tokens.Count == 0)
        {
            throw new TemplateFunctionException($"improper constraint: {text}");
        }

        foreach (string token in tokens)
        {
            var m = ConstraintPattern().Match(token);
            if (!m.Success)
            {
                throw new TemplateFunctionException($"improper constraint: {token}");
            }

            result.Add(One(m.Groups[1].Value, m.Groups[2].Value));
        }

        return result;
    }

    private static Func<GoSemver, bool> One(string op, string versionText)
    {
        string[] parts = versionText.TrimStart('v').Split('-', 2)[0].Split('+')[0].Split('.');
        bool Wild(int i) => i >= parts.Length || parts[i] is "x" or "X" or "*";
        string clean = string.Join('.', parts.Select(p => p is "x" or "X" or "*" ? "0" : p)) + (versionText.Contains('-', StringComparison.Ordinal) ? "-" + versionText.Split('-', 2)[1] : "");
        var c = Parse(clean) ?? throw new TemplateFunctionException($"improper constraint: {op}{versionText}");
        bool minorWild = Wild(1), patchWild = Wild(2), majorWild = Wild(0);
        bool Pre(GoSemver v) => v.Prerelease.Length == 0 || c.Prerelease.Length > 0;
        switch (op)
        {
            case "" or "=":
                if (majorWild)
                {
                    return v => Pre(v);
                }

                if (minorWild || patchWild)
                {
                    var upper = minorWild ? c with { Major = c.Major + 1, Minor = 0, Patch = 0, Prerelease = "" } : c with { Minor = c.Minor + 1, Patch = 0, Prerelease = "" };
                    return v => Pre(v) && v.CompareTo(c) >= 0 && v.CompareTo(upper) < 0;
                }

                return v => v.CompareTo(c) == 0;
            case "!=":
                return v => v.CompareTo(c) != 0;
            case ">":
                if (minorWild || patchWild)
                {
                    var floor = minorWild ? c with { Major = c.Major + 1, Minor = 0, Patch = 0 } : c with { Minor = c.Minor + 1, Patch = 0 };
                    return v => Pre(v) && v.CompareTo(floor) >= 0;
                }

                return v => Pre(v) && v.CompareTo(c) > 0;
            case ">=" or "=>":
                return v => Pre(v) && v.CompareTo(c) >= 0;
            case "<":
                return v => Pre(v) && v.CompareTo(c) < 0;
            case "<=" or "=<":
                if (minorWild || patchWild)
                {
                    var ceiling = minorWild ? c with { Major = c.Major + 1, Minor = 0, Patch = 0 } : c with { Minor = c.Minor + 1, Patch = 0 };
                    return v => Pre(v) && v.CompareTo(ceiling) < 0;
                }

                return v => Pre(v) && v.CompareTo(c) <= 0;
            case "~" or "~>":
                var tildeUpper = minorWild && !majorWild ? c with { Major = c.Major + 1, Minor = 0, Patch = 0, Prerelease = "" } : c with { Minor = c.Minor + 1, Patch = 0, Prerelease = "" };
                return v => Pre(v) && v.CompareTo(c) >= 0 && (majorWild || v.CompareTo(tildeUpper) < 0);
            default: // ^
                var caretUpper = c.Major > 0 || minorWild ? c with { Major = c.Major + 1, Minor = 0, Patch = 0, Prerelease = "" }
                    : c.Minor > 0 || patchWild ? c with { Minor = c.Minor + 1, Patch = 0, Prerelease = "" }
                    : c with { Patch = c.Patch + 1, Prerelease = "" };
                return v => Pre(v) && v.CompareTo(c) >= 0 && (majorWild || v.CompareTo(caretUpper) < 0);
        }
    }

    /// <summary>Orders by major, minor, patch, then prerelease (none is highest) as semver 2.0 orders identifiers.</summary>
    public int CompareTo(GoSemver? other)
    {
        if (other is null)
        {
            return 1;
        }

        int c = Major.CompareTo(other.Major);
        c = c != 0 ? c : Minor.CompareTo(other.Minor);
        c = c != 0 ? c : Patch.CompareTo(other.Patch);
        if (c != 0)
        {
            return c;
        }

        if (Prerelease.Length == 0 || other.Prerelease.Length == 0)
        {
            return Prerelease.Length == other.Prerelease.Length ? 0 : Prerelease.Length == 0 ? 1 : -1;
        }

        string[] a = Prerelease.Split('.'), b = other.Prerelease.Split('.');
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            bool an = ulong.TryParse(a[i], CultureInfo.InvariantCulture, out ulong ai), bn = ulong.TryParse(b[i], CultureInfo.InvariantCulture, out ulong bi);
            int r = an && bn ? ai.CompareTo(bi) : an ? -1 : bn ? 1 : string.CompareOrdinal(a[i], b[i]);
            if (r != 0)
            {
                return Math.Sign(r);
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    /// <summary>The version as Masterminds prints it: MAJOR.MINOR.PATCH[-PRE][+META].</summary>
    public override string ToString() =>
        $"{Major}.{Minor}.{Patch}" + (Prerelease.Length > 0 ? "-" + Prerelease : "") + (Metadata.Length > 0 ? "+" + Metadata : "");

    /// <inheritdoc/>
    public string GoTypeName => "*semver.Version";

    /// <inheritdoc/>
    public bool TryGetField(string name, out object? value)
    {
        value = null;
        return false;
    }

    /// <inheritdoc/>
    public TemplateFunction? GetMethod(string name) => name switch
    {
        "Major" => new(name, [], false, _ => (long)Major),
        "Minor" => new(name, [], false, _ => (long)Minor),
        "Patch" => new(name, [], false, _ => (long)Patch),
        "Prerelease" => new(name, [], false, _ => Prerelease),
        "Metadata" => new(name, [], false, _ => Metadata),
        "Original" => new(name, [], false, _ => Original),
        "String" => new(name, [], false, _ => ToString()),
        "Compare" => new(name, [GoType.Any], false, a => (long)CompareTo(a[0] as GoSemver)),
        "LessThan" => new(name, [GoType.Any], false, a => CompareTo(a[0] as GoSemver) < 0),
        "GreaterThan" => new(name, [GoType.Any], false, a => CompareTo(a[0] as GoSemver) > 0),
        "Equal" => new(name, [GoType.Any], false, a => CompareTo(a[0] as GoSemver) == 0),
        _ => null,
    };
}
