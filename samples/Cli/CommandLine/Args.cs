using System.CommandLine;

namespace Containers.Cli;

/// <summary>
/// The values of a parsed command line, as a verb's handler reads them: options by their long name without dashes
/// (<c>Get("tag")</c> is the last <c>-t</c>/<c>--tag</c>, <c>All("env")</c> every <c>-e</c>), flags by
/// <see cref="Has"/>, and the positional arguments. Options of the verbs above it (<c>compose -f</c> for
/// <c>compose up</c>) are read the same way.
/// </summary>
internal sealed class Args
{
    private readonly Dictionary<string, List<string>> values = [];
    private readonly HashSet<string> flags = [];

    private Args(Verb verb, List<string> positionals)
    {
        Verb = verb;
        Positionals = positionals;
    }

    /// <summary>The verb parsed (for <c>compose up</c>, <c>up</c>).</summary>
    public Verb Verb { get; }

    /// <summary>The verb's name.</summary>
    public string Name => Verb.Name;

    /// <summary>The positional arguments, in order (the handler may consume them).</summary>
    public List<string> Positionals { get; }

    /// <summary>Whether the flag <paramref name="key"/> was given.</summary>
    public bool Has(string key) => flags.Contains(key);

    /// <summary>The last value of the option <paramref name="key"/>, or null.</summary>
    public string? Get(string key) => values.TryGetValue(key, out var v) ? v[^1] : null;

    /// <summary>Every value of the option <paramref name="key"/>, in order.</summary>
    public IReadOnlyList<string> All(string key) => values.TryGetValue(key, out var v) ? v : [];

    /// <summary>The values <paramref name="result"/> holds for <paramref name="verb"/> and the verbs above it.</summary>
    public static Args From(ParseResult result, Verb verb)
    {
        var args = new Args(verb, [.. result.GetValue(verb.Rest) ?? []]);
        for (var v = verb; v is not null; v = v.Parent)
        {
            foreach (var o in v.Options)
            {
                if (o.HasValue && result.GetValue((Option<string[]>)o.Option) is { Length: > 0 } given && !args.values.ContainsKey(o.Key))
                {
                    args.values[o.Key] = [.. given];
                }
                else if (!o.HasValue && result.GetResult(o.Option) is { Implicit: false })
                {
                    args.flags.Add(o.Key);
                }
            }
        }

        return args;
    }
}

/// <summary>A command line that cannot be understood; exits 125 like docker. <see cref="Verb"/> names the verb
/// whose help the message points to.</summary>
internal sealed class UsageException(string message, Verb? verb = null) : Exception(message)
{
    /// <summary>The verb whose <c>--help</c> the message points to.</summary>
    public Verb? Verb { get; } = verb;
}
