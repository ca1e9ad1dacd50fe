namespace Containers.Cli;

/// <summary>How this CLI starts itself again (the detached monitor, the rootless re-exec).</summary>
internal static class SelfCommand
{
    /// <summary>
    /// The command line that starts this CLI: its apphost or NativeAOT binary, or, run as <c>dotnet containers-cli.dll</c>
    /// (the script the build writes), that same command.
    /// </summary>
    public static string[] Prefix { get; } = Environment.ProcessPath is not { } self
        ? ["containers"]
        : Path.GetFileName(self) == "dotnet" ? [self, Path.Combine(AppContext.BaseDirectory, "containers-cli.dll")] : [self];

    /// <summary>
    /// The command line of a detached container's monitor: this CLI, or, for the published full <c>containers-cli</c>
    /// (the cluster's node agents, the dashboard, the Docker API server start containers through it), the lite
    /// <c>containers</c> published beside it, which runs the same monitor and starts 2 ms sooner (less to page in).
    /// </summary>
    public static string[] Monitor { get; } = MonitorPrefix();

    private static string[] MonitorPrefix()
    {
#if !CONTAINERS_LITE
        if (Prefix is [var self] && Path.GetFileName(self) == "containers-cli" && Path.Combine(Path.GetDirectoryName(self) ?? ".", "containers") is var lite
            && File.Exists(lite) && (File.GetUnixFileMode(lite) & UnixFileMode.UserExecute) != 0)
        {
            return [lite, "__monitor"];
        }
#endif
        return [.. Prefix, "__monitor"];
    }
}
