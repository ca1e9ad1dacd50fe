using System.Diagnostics;

namespace Containers.Networking;

/// <summary>
/// The <c>iptables</c> command (legacy or nft, whichever the machine's alternative is), run with <c>-w</c> so concurrent
/// callers wait for the xtables lock. Rules are only ever added to chains of ours; the parents' jumps are the exception.
/// </summary>
internal static class Iptables
{
    private static readonly string? Path = new[] { "/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables" }.FirstOrDefault(File.Exists);

    /// <summary>Whether the command is installed.</summary>
    public static bool Available => Path is not null;

    /// <summary>Runs <c>iptables -w -t TABLE ARGS</c>; returns its exit code.</summary>
    public static int Run(string table, IReadOnlyList<string> args) => Exec(table, args, out _);

    /// <summary>The output of <c>iptables -w -t TABLE ARGS</c>, or null when it failed.</summary>
    public static string? Output(string table, IReadOnlyList<string> args) => Exec(table, args, out var o) == 0 ? o : null;

    /// <summary>Runs <c>iptables -w -t TABLE ARGS</c>; throws <see cref="ContainerException"/> naming the rule when it fails.</summary>
    public static void Check(string table, IReadOnlyList<string> args)
    {
        var code = Exec(table, args, out _, out var error);
        if (code != 0)
        {
            throw new ContainerException($"iptables -t {table} {string.Join(' ', args)} failed ({code}): {error.Trim()}");
        }
    }

    /// <summary>Appends <paramref name="rule"/> (chain first) unless the chain has it already.</summary>
    public static void Ensure(string table, IReadOnlyList<string> rule, bool insertFirst = false)
    {
        if (Run(table, ["-C", .. rule]) != 0)
        {
            Check(table, insertFirst ? ["-I", rule[0], "1", .. rule.Skip(1)] : ["-A", .. rule]);
        }
    }

    /// <summary>Creates <paramref name="chain"/> when missing and makes sure <paramref name="jump"/> (its parent's rule) is there.</summary>
    public static void EnsureChain(string table, string chain, IReadOnlyList<string> jump, bool insertFirst = false)
    {
        _ = Run(table, ["-N", chain]); // exists already: fine
        Ensure(table, jump, insertFirst);
    }

    /// <summary>
    /// The rules of <paramref name="chain"/> as <c>iptables -S</c> prints them, each split into the arguments that
    /// delete it with <c>-D</c> (chain first; quotes removed), or empty when the chain does not exist.
    /// </summary>
    public static IReadOnlyList<string[]> Rules(string table, string chain) =>
        Output(table, ["-S", chain]) is { } text
            ? [.. text.Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).Select(l => l[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a => a.Trim('"')).ToArray())]
            : [];

    /// <summary>
    /// Applies <paramref name="input"/> with <c>iptables-restore -w --noflush</c>: every line of it or none. Throws
    /// <see cref="ContainerException"/> with iptables' message when it is refused.
    /// </summary>
    public static void Restore(string input)
    {
        var restore = Path is null ? null : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, "iptables-restore");
        if (restore is null || !File.Exists(restore))
        {
            throw new ContainerException("iptables-restore is not installed (apt-get install iptables)");
        }

        var psi = new ProcessStartInfo(restore, ["-w", "--noflush"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(input);
        p.StandardInput.Close();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new ContainerException($"iptables-restore refused the rules ({p.ExitCode}): {stderr.Result.Trim()} {stdout.Result.Trim()}".TrimEnd());
        }
    }

    private static int Exec(string table, IReadOnlyList<string> args, out string output) => Exec(table, args, out output, out _);

    private static int Exec(string table, IReadOnlyList<string> args, out string output, out string error)
    {
        if (Path is null)
        {
            throw new ContainerException("iptables is not installed (apt-get install iptables)");
        }

        var psi = new ProcessStartInfo(Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-w", "-t", table, .. args])
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        output = stdout.Result;
        return p.ExitCode;
    }
}
