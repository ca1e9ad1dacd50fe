using System.CommandLine;
using System.Globalization;
using System.Text;

namespace Containers.Cli;

/// <summary>
/// Runs a command line against the verb tree: docker's parsing rules on top of System.CommandLine, docker-style help
/// (<c>--help</c> on every verb, <c>-h</c> where the verb has no <c>-h</c> of its own), errors that name the flag or
/// command with a suggestion, and completions for bash and zsh.
/// </summary>
internal static class CommandLineApp
{
    private static readonly ParserConfiguration Parsing = new() { ResponseFileTokenReplacer = null };

    /// <summary>Parses <paramref name="argv"/> and runs the verb it names; returns the exit code.</summary>
    public static async Task<int> InvokeAsync(Verb root, IReadOnlyList<string> argv, Func<Args, EngineOptions> engineOptions, Func<Exception, int?> failure)
    {
        Verb leaf;
        Args args;
        try
        {
            (leaf, var tokens) = Prepare(root, argv);
            if (HelpAsked(tokens) || leaf.Handler is null)
            {
                Console.Out.Write(Help(leaf));
                return 0;
            }

            var result = root.Command.Parse(tokens, Parsing);
            if (result.Errors.Count > 0)
            {
                throw new UsageException(Describe(result), leaf);
            }

            args = Args.From(result, leaf);
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync("containers: " + e.Message + (e.Verb is { } v ? $"\nSee '{v.Path} --help'." : "")).ConfigureAwait(false);
            return 125;
        }

        await using var context = new CliContext(engineOptions(args));
        try
        {
            return await leaf.Handler!(context, args).ConfigureAwait(false);
        }
        catch (Exception e) when (e is UsageException || failure(e) is not null)
        {
            await Console.Error.WriteLineAsync("containers: " + e.Message).ConfigureAwait(false);
            return e is UsageException ? 125 : failure(e)!.Value;
        }
    }

    /// <summary>
    /// Docker's rules, before System.CommandLine sees the tokens: finds the verb, refuses an unknown flag by name,
    /// ends a non-interspersed verb's options at its first argument (by inserting <c>--</c>), turns <c>-h</c> into
    /// <c>--help</c> where the verb has no <c>-h</c>, and reads <c>--flag=false</c> as the flag not given.
    /// </summary>
    internal static (Verb Leaf, List<string> Tokens) Prepare(Verb root, IReadOnlyList<string> argv)
    {
        var verb = root;
        var tokens = new List<string>(argv.Count + 1);
        var positional = false;
        for (var i = 0; i < argv.Count; i++)
        {
            var t = argv[i];
            if (t == "--")
            {
                tokens.AddRange(argv.Skip(i));
                break;
            }

            if (t.Length > 1 && t[0] == '-')
            {
                if (t is "--help" || (t == "-h" && verb.Find("-h") is null))
                {
                    tokens.Add("--help");
                    continue;
                }

                var eq = t.StartsWith("--", StringComparison.Ordinal) ? t.IndexOf('=', StringComparison.Ordinal) : -1;
                var name = eq > 0 ? t[..eq] : t;
                if (verb.Find(name) is { } option)
                {
                    if (!option.HasValue && eq > 0)
                    {
                        var value = t[(eq + 1)..];
                        if (!bool.TryParse(value, out var on))
                        {
                            throw new UsageException($"invalid argument \"{value}\" for \"{name}\" flag: expected true or false", verb);
                        }

                        if (on)
                        {
                            tokens.Add(name);
                        }

                        continue;
                    }

                    tokens.Add(t);
                    if (option.HasValue && eq < 0)
                    {
                        tokens.Add(i + 1 < argv.Count ? argv[++i] : throw new UsageException($"flag needs an argument: {t}", verb));
                    }

                    continue;
                }

                if (!t.StartsWith("--", StringComparison.Ordinal) && verb.Find(t[..2]) is { } first)
                {
                    // -it (flags bundled), -eK=V and -p8080:80 (a value attached)
                    if (first.HasValue || t.Skip(1).All(c => verb.Find("-" + c) is { HasValue: false }))
                    {
                        tokens.Add(t);
                        continue;
                    }
                }

                throw new UsageException(UnknownFlag(verb, name), verb);
            }

            if (!positional && verb.Sub(t) is { } sub)
            {
                verb = sub;
                tokens.Add(t);
                continue;
            }

            if (verb.Handler is null)
            {
                throw new UsageException(UnknownCommand(verb, t), verb);
            }

            if (!verb.Interspersed)
            {
                tokens.Add("--");
                tokens.AddRange(argv.Skip(i));
                break;
            }

            positional = true;
            tokens.Add(t);
        }

        return (verb, tokens);
    }

    private static bool HelpAsked(List<string> tokens)
    {
        var end = tokens.IndexOf("--");
        return (end < 0 ? tokens : tokens.Take(end)).Contains("--help");
    }

    private static string Describe(ParseResult result) =>
        result.Errors[0] switch
        {
            { SymbolResult: System.CommandLine.Parsing.OptionResult o } => $"flag needs an argument: {o.IdentifierToken?.Value ?? o.Option.Name}",
            var e => e.Message,
        };

    private static string UnknownFlag(Verb verb, string flag)
    {
        var near = Nearest(flag, AllOptions(verb).SelectMany(o => o.Spellings).Where(s => s.StartsWith("--", StringComparison.Ordinal)));
        return $"unknown flag: {flag}" + (near is null ? "" : $"\n\nDid you mean this?\n\t{near}");
    }

    private static string UnknownCommand(Verb verb, string command)
    {
        var near = Nearest(command, verb.Subs.Where(s => !s.Command.Hidden).SelectMany(s => s.Command.Aliases.Prepend(s.Name)));
        return $"unknown command \"{command}\" for \"{verb.Path}\"" + (near is null ? "" : $"\n\nDid you mean this?\n\t{near}");
    }

    private static IEnumerable<VerbOption> AllOptions(Verb verb)
    {
        for (var v = verb; v is not null; v = v.Parent)
        {
            foreach (var o in v.Options.Where(o => v == verb || o.Option.Recursive))
            {
                yield return o;
            }
        }
    }

    /// <summary>The candidate within cobra's suggestion distance (2 edits), or one that starts with the typed word.</summary>
    internal static string? Nearest(string typed, IEnumerable<string> candidates)
    {
        var best = candidates.Select(c => (c, d: Distance(typed, c))).Where(x => x.d <= 2 || (typed.Length > 1 && x.c.StartsWith(typed, StringComparison.Ordinal)))
            .OrderBy(x => x.d).ThenBy(x => x.c, StringComparer.Ordinal).FirstOrDefault();
        return best.c;
    }

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }

        return row[b.Length];
    }

    /// <summary>The help of <paramref name="verb"/>, laid out as docker's.</summary>
    internal static string Help(Verb verb)
    {
        var s = new StringBuilder();
        var subs = verb.Subs.Where(v => !v.Command.Hidden).ToList();
        s.Append(CultureInfo.InvariantCulture, $"\nUsage:  {verb.Path} {verb.Arguments}\n\n{verb.Command.Description}\n");
        if (verb.Command.Aliases.Count > 0)
        {
            var parent = verb.Parent is null ? "" : verb.Parent.Path + " ";
            s.Append(CultureInfo.InvariantCulture, $"\nAliases:\n  {string.Join(", ", verb.Command.Aliases.Prepend(verb.Name).Select(a => parent + a))}\n");
        }

        if (subs.Count > 0)
        {
            s.Append("\nCommands:\n");
            var width = subs.Max(v => v.Name.Length) + 2;
            foreach (var v in subs)
            {
                s.Append(CultureInfo.InvariantCulture, $"  {v.Name.PadRight(width)}{v.Command.Description}\n");
            }
        }

        var options = verb.Options.Where(o => verb.Parent is null || !o.Option.Recursive).OrderBy(o => o.Key, StringComparer.OrdinalIgnoreCase).ToList();
        if (options.Count > 0)
        {
            var lines = options.Select(o => (
                Names: (o.Spellings.FirstOrDefault(x => x.Length == 2) is { } shortName ? shortName + ", " : "    ") + o.Spellings[^1] + (o.Type is null ? "" : " " + o.Type),
                Help: o.Help + (o.Default is null ? "" : $" (default {(o.Type == "string" ? "\"" + o.Default + "\"" : o.Default)})"))).ToList();
            var width = lines.Max(l => l.Names.Length) + 3;
            s.Append(verb.Parent is null ? "\nGlobal Options:\n" : "\nOptions:\n");
            foreach (var (names, help) in lines)
            {
                s.Append(CultureInfo.InvariantCulture, $"  {names.PadRight(width)}{help}\n");
            }

            s.Append(CultureInfo.InvariantCulture, $"  {"    --help".PadRight(width)}Print usage\n");
        }

        if (subs.Count > 0)
        {
            s.Append(CultureInfo.InvariantCulture, $"\nRun '{verb.Path} COMMAND --help' for more information on a command.\n");
        }

        return s.ToString();
    }

    /// <summary>The completions of the last word of <paramref name="words"/> (the command line after the program's
    /// name), one per line: sub-verbs, then the verb's options.</summary>
    internal static IEnumerable<string> Complete(Verb root, IReadOnlyList<string> words)
    {
        var typed = words.Count > 0 ? words[^1] : "";
        var before = words.Take(Math.Max(words.Count - 1, 0)).ToList();
        Verb verb;
        try
        {
            verb = Prepare(root, before).Leaf;
        }
        catch (UsageException)
        {
            return [];
        }

        var previous = before.Count > 0 ? verb.Find(before[^1]) : null;
        if (previous is { HasValue: true })
        {
            return []; // a value: the shell completes file names
        }

        IEnumerable<string> candidates = typed.StartsWith('-')
            ? AllOptions(verb).SelectMany(o => o.Spellings).Append("--help")
            : verb.Subs.Where(s => !s.Command.Hidden).SelectMany(s => s.Command.Aliases.Prepend(s.Name));
        return candidates.Where(c => c.StartsWith(typed, StringComparison.Ordinal)).Distinct().Order(StringComparer.Ordinal);
    }

    /// <summary>The completion script for <paramref name="shell"/> (bash or zsh): it asks <c>containers __complete</c>.</summary>
    internal static string CompletionScript(string shell) => shell switch
    {
        "bash" => """
            # bash completion for containers: source it, or put it in /etc/bash_completion.d/containers
            _containers() {
              local IFS=$'\n'
              COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
              [ ${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
            }
            complete -o filenames -F _containers containers

            """,
        "zsh" => """
            #compdef containers
            # zsh completion for containers: put it in a directory of $fpath as _containers
            _containers() {
              local -a items
              items=("${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
              if [[ -n "${items[1]}" ]]; then compadd -a items; else _files; fi
            }
            compdef _containers containers

            """,
        _ => throw new UsageException($"unknown shell '{shell}': bash or zsh"),
    };
}
