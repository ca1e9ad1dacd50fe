namespace Containers.Build;

/// <summary>
/// One Dockerfile instruction as written: keyword (upper case), its <c>--flags</c>, and its arguments either as a
/// JSON array (<see cref="IsJson"/>) or as the raw rest of the line; heredoc bodies in order.
/// </summary>
/// <param name="Keyword">FROM, RUN, COPY, ... in upper case.</param>
/// <param name="Flags">Flags before the arguments (<c>--from=build</c> as from → build), in order.</param>
/// <param name="Args">JSON-form arguments, or the whitespace-split words of the shell form.</param>
/// <param name="Raw">The arguments as written after the flags (shell form), continuations joined.</param>
/// <param name="IsJson">True when the arguments are a JSON array (exec form).</param>
/// <param name="Heredocs">Here-documents started on this line, in order.</param>
/// <param name="Line">1-based line of the keyword.</param>
/// <param name="Original">The instruction's full text as written (for history and errors).</param>
public sealed record Instruction(
    string Keyword,
    ImmutableArray<KeyValuePair<string, string>> Flags,
    ImmutableArray<string> Args,
    string Raw,
    bool IsJson,
    ImmutableArray<Heredoc> Heredocs,
    int Line,
    string Original)
{
    /// <summary>The last value of a flag, or null.</summary>
    public string? Flag(string name) => Flags.LastOrDefault(f => f.Key == name).Value;

    /// <summary>Every value of a flag (for repeatable ones such as --mount).</summary>
    public IEnumerable<string> FlagValues(string name) => Flags.Where(f => f.Key == name).Select(f => f.Value);
}

/// <summary>A here-document: <c>&lt;&lt;EOF</c> (expanded), <c>&lt;&lt;'EOF'</c> or <c>&lt;&lt;"EOF"</c> (not expanded), <c>&lt;&lt;-EOF</c> (leading tabs stripped).</summary>
/// <param name="Name">The delimiter word.</param>
/// <param name="Content">The body, ending with a newline.</param>
/// <param name="Expand">False when the delimiter was quoted.</param>
public sealed record Heredoc(string Name, string Content, bool Expand);

/// <summary>A parsed Dockerfile: its directives, the ARGs before the first FROM, and its instructions.</summary>
/// <param name="File">The file name errors use.</param>
/// <param name="Instructions">Every instruction in order.</param>
/// <param name="EscapeChar">The escape character (<c>\</c> or <c>`</c>).</param>
/// <param name="Warnings">Warnings for legacy forms (file:line: text).</param>
public sealed record Dockerfile(string File, ImmutableArray<Instruction> Instructions, char EscapeChar, ImmutableArray<string> Warnings);
