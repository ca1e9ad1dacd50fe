using System.Runtime.InteropServices;

namespace Containers.Cli;

/// <summary>
/// The verbs that the published <c>containers</c> (the lite build, samples/Cli/Lite) hands to <c>containers-cli</c>
/// beside it: the cluster, Helm, the dashboard and the Docker API server. Their code (ASP.NET Core, the control plane,
/// gRPC for etcd, Helm) is most of the full binary, and a NativeAOT binary pays for all of its data at every start,
/// so the commands a shell or a script runs most (run, ps, exec, build) are compiled without them.
/// </summary>
internal static partial class FullCli
{
    /// <summary>The cluster verb's one-line help.</summary>
    public const string ClusterHelp = "Run a Kubernetes-compatible cluster for kubectl: a control plane and nodes in one process";

    /// <summary>The helm verb's one-line help.</summary>
    public const string HelmHelp = "The Kubernetes package manager, Helm 3, against this root's cluster: charts, releases, repositories and OCI";

    /// <summary>The dashboard verb's one-line help.</summary>
    public const string DashboardHelp = "Serve the web dashboard until Ctrl+C (containers, images, stacks, events; the cluster's workloads)";

    /// <summary>The system verb's one-line help.</summary>
    public const string SystemHelp = "Manage the engine";

#if CONTAINERS_LITE
    private static readonly string[] Handed = ["cluster", "helm", "dashboard", "system"];

    /// <summary>A top-level verb for the help and completions of this binary; running it runs the full CLI.</summary>
    public static Verb Verb(string name, string help) =>
        new Verb(name, "COMMAND", help).StopsAtFirstArgument().Runs((CliContext _, Args _) => Task.FromResult(Exec(Environment.GetCommandLineArgs()[1..])));

    /// <summary>
    /// Whether <paramref name="args"/> name a verb of the full CLI (<see cref="Verbs.FirstWord"/>), or, for
    /// <c>__complete</c>, the command line being completed once its first word is complete.
    /// </summary>
    public static bool Wants(string[] args)
    {
        if (Verbs.FirstWord(args) is not { } first)
        {
            return false;
        }

        if (first != "__complete")
        {
            return Handed.Contains(first);
        }

        // completing the verb's own name (the last word): this binary lists its verbs
        var line = args[(Array.IndexOf(args, first) + 1)..];
        return Verbs.FirstWord(line) is { } verb && Handed.Contains(verb) && Array.IndexOf(line, verb) < line.Length - 1;
    }

    /// <summary>Replaces this process with <c>containers-cli</c> beside it, with the same arguments and environment.</summary>
    public static int Exec(string[] args)
    {
        string full = Path.Combine(AppContext.BaseDirectory, "containers-cli");
        if (!File.Exists(full))
        {
            Console.Error.WriteLine($"containers: \"{args.FirstOrDefault(a => Handed.Contains(a))}\" is a command of the full CLI, and {full} is not there (publish samples/Cli: it writes both)");
            return 125;
        }

        var argv = new nint[args.Length + 2];
        argv[0] = Marshal.StringToCoTaskMemUTF8(full);
        for (int i = 0; i < args.Length; i++)
        {
            argv[i + 1] = Marshal.StringToCoTaskMemUTF8(args[i]);
        }

        unsafe
        {
            fixed (nint* a = argv)
            {
                execv(full, a); // the environment is the process's own (environ): nothing here changed it
            }
        }

        Console.Error.WriteLine($"containers: exec {full}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return 125;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int execv(string path, nint* argv);
#endif
}
