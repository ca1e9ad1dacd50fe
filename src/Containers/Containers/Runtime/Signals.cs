namespace Containers.Runtime;

/// <summary>Signal names and numbers (x86-64 Linux).</summary>
public static class Signals
{
    private static readonly string[] Names =
    [
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
        "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];

    /// <summary>Parses <c>SIGTERM</c>, <c>TERM</c> or <c>15</c>. Throws <see cref="InvalidContainerSpecException"/> when unknown.</summary>
    public static int Parse(string signal)
    {
        if (int.TryParse(signal, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and < 65)
        {
            return n;
        }

        var s = signal.ToUpperInvariant();
        if (s.StartsWith("SIG", StringComparison.Ordinal))
        {
            s = s[3..];
        }

        var i = Array.IndexOf(Names, s);
        return i > 0 ? i : throw new InvalidContainerSpecException($"invalid signal '{signal}'");
    }
}
