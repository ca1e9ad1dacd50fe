namespace Containers.Cli;

/// <summary>
/// Docker-style argument parsing: options (<c>-e K=V</c>, <c>--name=N</c>, <c>-it</c>) up to the first
/// positional argument; everything after it belongs to the container's command, as with <c>docker run</c>.
/// </summary>
internal sealed class Args
{
    private readonly Dictionary<string, List<string>> values = [];
    private readonly HashSet<string> flags = [];

    public List<string> Positionals { get; } = [];

    /// <summary>Parses <paramref name="args"/>; <paramref name="valued"/> lists options that take a value, <paramref name="boolean"/> those that do not
    /// (each as "-x|--long"). Throws <see cref="UsageException"/> for an unknown option.</summary>
    public static Args Parse(IReadOnlyList<string> args, string[] valued, string[] boolean)
    {
        var result = new Args();
        var names = new Dictionary<string, (string Key, bool HasValue)>();
        foreach (var (spec, hasValue) in valued.Select(v => (v, true)).Concat(boolean.Select(b => (b, false))))
        {
            var key = spec.Split('|').Last().TrimStart('-');
            foreach (var n in spec.Split('|'))
            {
                names[n] = (key, hasValue);
            }
        }

        for (var i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (result.Positionals.Count > 0 || a == "-" || !a.StartsWith('-'))
            {
                result.Positionals.Add(a);
                continue;
            }

            if (a == "--")
            {
                result.Positionals.AddRange(args.Skip(i + 1));
                break;
            }

            string name = a;
            string? inline = null;
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal))
            {
                name = a[..a.IndexOf('=', StringComparison.Ordinal)];
                inline = a[(a.IndexOf('=', StringComparison.Ordinal) + 1)..];
            }

            if (!names.TryGetValue(name, out var opt))
            {
                // combined short flags: -it, -d
                if (!a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2 && a.Skip(1).All(c => names.TryGetValue("-" + c, out var f) && !f.HasValue))
                {
                    foreach (var c in a.Skip(1))
                    {
                        result.flags.Add(names["-" + c].Key);
                    }

                    continue;
                }

                if (!a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2 && names.TryGetValue(a[..2], out var sv) && sv.HasValue)
                {
                    result.Add(sv.Key, a[2..]);
                    continue;
                }

                throw new UsageException($"unknown flag: {a}");
            }

            if (!opt.HasValue)
            {
                result.flags.Add(opt.Key);
                continue;
            }

            var value = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"flag needs an argument: {a}"));
            result.Add(opt.Key, value);
        }

        return result;
    }

    public bool Has(string key) => flags.Contains(key);

    public string? Get(string key) => values.TryGetValue(key, out var v) ? v[^1] : null;

    public IReadOnlyList<string> All(string key) => values.TryGetValue(key, out var v) ? v : [];

    private void Add(string key, string value)
    {
        if (!values.TryGetValue(key, out var list))
        {
            values[key] = list = [];
        }

        list.Add(value);
    }
}

/// <summary>A command line that cannot be understood; exits 125 like docker.</summary>
internal sealed class UsageException(string message) : Exception(message);
