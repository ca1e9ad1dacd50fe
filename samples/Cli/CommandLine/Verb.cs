using System.CommandLine;

namespace Containers.Cli;

/// <summary>
/// A verb of the command line (<c>run</c>, <c>network create</c>, <c>compose up</c>), declared once: its usage, its
/// description, its options with their help and defaults, its sub-verbs and its handler. Each verb is a
/// System.CommandLine <see cref="System.CommandLine.Command"/>; <see cref="CommandLineApp"/> parses, prints docker-style
/// help and completions from these declarations, and hands the handler the values as <see cref="Args"/>.
/// </summary>
internal sealed class Verb
{
    private readonly List<VerbOption> options = [];
    private readonly List<Verb> subs = [];

    /// <summary>Declares a verb: <paramref name="arguments"/> is the usage after the verb's path, as docker prints it
    /// (<c>[OPTIONS] IMAGE [COMMAND] [ARG...]</c>), <paramref name="description"/> one sentence.</summary>
    public Verb(string name, string arguments, string description)
    {
        Command = new Command(name, description);
        Arguments = arguments;
        Rest = new Argument<string[]>("args") { Arity = ArgumentArity.ZeroOrMore, Hidden = true };
        Command.Arguments.Add(Rest);
    }

    /// <summary>The System.CommandLine command this verb is.</summary>
    public Command Command { get; }

    /// <summary>The verb's name.</summary>
    public string Name => Command.Name;

    /// <summary>The usage after the verb's path.</summary>
    public string Arguments { get; }

    /// <summary>The verb this one is a sub-verb of.</summary>
    public Verb? Parent { get; private set; }

    /// <summary>The verb's positional arguments.</summary>
    public Argument<string[]> Rest { get; }

    /// <summary>The options declared on this verb.</summary>
    public IReadOnlyList<VerbOption> Options => options;

    /// <summary>The sub-verbs.</summary>
    public IReadOnlyList<Verb> Subs => subs;

    /// <summary>False when options end at the first argument (<c>run IMAGE CMD -x</c>: <c>-x</c> is the command's).</summary>
    public bool Interspersed { get; private set; } = true;

    /// <summary>Runs the verb; null for a group of sub-verbs, which prints its help.</summary>
    public Func<CliContext, Args, Task<int>>? Handler { get; private set; }

    /// <summary>"containers network create".</summary>
    public string Path => Parent is null ? Name : Parent.Path + " " + Name;

    /// <summary>An option that takes a value (<c>-t|--tag</c>), repeatable; <paramref name="type"/> is the value's name in
    /// the help (<c>string</c>, <c>list</c>, <c>int</c>, <c>duration</c>); <paramref name="defaultValue"/> is shown
    /// in the help only (the handler applies it).</summary>
    public Verb Value(string spec, string type, string help, string? defaultValue = null) => Add(spec, hasValue: true, type, help, defaultValue, recursive: false);

    /// <summary>A boolean flag (<c>-d|--detach</c>).</summary>
    public Verb Flag(string spec, string help) => Add(spec, hasValue: false, null, help, null, recursive: false);

    /// <summary>An option of this verb that its sub-verbs accept too (the global <c>--root</c>).</summary>
    public Verb Global(string spec, string type, string help) => Add(spec, hasValue: true, type, help, null, recursive: true);

    /// <summary>Options end at the first argument, as <c>docker run</c> and <c>docker exec</c> parse.</summary>
    public Verb StopsAtFirstArgument()
    {
        Interspersed = false;
        return this;
    }

    /// <summary>Another name for the verb (<c>ls</c> and <c>list</c>).</summary>
    public Verb Alias(string alias)
    {
        Command.Aliases.Add(alias);
        return this;
    }

    /// <summary>Not listed in the help (the detached monitor, the completion helper).</summary>
    public Verb Hide()
    {
        Command.Hidden = true;
        return this;
    }

    /// <summary>The handler, given the CLI's context.</summary>
    public Verb Runs(Func<CliContext, Args, Task<int>> handler)
    {
        Handler = handler;
        return this;
    }

    /// <summary>The handler, given the engine (made when the verb runs, not for its help).</summary>
    public Verb Runs(Func<ContainerEngine, Args, Task<int>> handler) => Runs((c, a) => handler(c.Engine, a));

    /// <summary>A synchronous handler, given the engine.</summary>
    public Verb Runs(Func<ContainerEngine, Args, int> handler) => Runs((c, a) => Task.FromResult(handler(c.Engine, a)));

    /// <summary>Adds sub-verbs.</summary>
    public Verb With(params Verb[] verbs)
    {
        foreach (var v in verbs)
        {
            v.Parent = this;
            subs.Add(v);
            Command.Subcommands.Add(v.Command);
        }

        return this;
    }

    /// <summary>The sub-verb named <paramref name="name"/> (or by an alias).</summary>
    public Verb? Sub(string name) => subs.FirstOrDefault(s => s.Name == name || s.Command.Aliases.Contains(name));

    /// <summary>The option spelled <paramref name="spelling"/> (<c>-t</c>, <c>--tag</c>) that this verb accepts: its
    /// own, or a global one of a verb above it.</summary>
    public VerbOption? Find(string spelling)
    {
        for (var v = this; v is not null; v = v.Parent)
        {
            foreach (var o in v.options)
            {
                if ((v == this || o.Option.Recursive) && o.Spellings.Contains(spelling))
                {
                    return o;
                }
            }
        }

        return null;
    }

    private Verb Add(string spec, bool hasValue, string? type, string help, string? defaultValue, bool recursive)
    {
        var spellings = spec.Split('|');
        var name = spellings[^1];
        var aliases = spellings[..^1];
        Option option = hasValue
            ? new Option<string[]>(name, aliases) { Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false, HelpName = type }
            : new Option<bool>(name, aliases) { Arity = ArgumentArity.Zero };
        option.Description = help;
        option.Recursive = recursive;
        Command.Options.Add(option);
        options.Add(new VerbOption(name.TrimStart('-'), option, hasValue, type, help, defaultValue, spellings));
        return this;
    }
}

/// <summary>An option as declared: <see cref="Key"/> is its long name without dashes, as <see cref="Args"/> reads it.</summary>
internal sealed record VerbOption(string Key, Option Option, bool HasValue, string? Type, string Help, string? Default, string[] Spellings);

/// <summary>What a verb's handler runs with: the engine's options, and the engine, made at its first use.</summary>
internal sealed class CliContext(EngineOptions options) : IAsyncDisposable
{
    private ContainerEngine? engine;

    /// <summary>The engine's options (the root from <c>--root</c> or CONTAINERS_ROOT).</summary>
    public EngineOptions Options { get; } = options;

    /// <summary>The engine over <see cref="Options"/>, made at the first use.</summary>
    public ContainerEngine Engine => engine ??= new ContainerEngine(Options);

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (engine is not null)
        {
            await engine.DisposeAsync().ConfigureAwait(false);
        }
    }
}
