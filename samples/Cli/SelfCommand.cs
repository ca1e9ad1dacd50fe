namespace Containers.Cli;

/// <summary>How this CLI runs itself again (a container's monitor, a detached cluster).</summary>
internal static class SelfCommand
{
    /// <summary>
    /// The command line that starts this CLI: its apphost or NativeAOT binary, or, run as <c>dotnet containers-cli.dll</c>
    /// (the script the build writes), that same command.
    /// </summary>
    public static string[] Prefix { get; } = Environment.ProcessPath is not { } self
        ? ["containers"]
        : Path.GetFileName(self) == "dotnet" ? [self, Path.Combine(AppContext.BaseDirectory, "containers-cli.dll")] : [self];
}
