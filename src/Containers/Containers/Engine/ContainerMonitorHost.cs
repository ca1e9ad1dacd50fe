namespace Containers;

/// <summary>
/// The entry point of the detached monitor process (<c>containers-monitor</c>): it starts one container, reports
/// "ok" or the error on stdout, detaches from the launching process and supervises the container until it is done.
/// </summary>
public static class ContainerMonitorHost
{
    /// <summary>Runs the monitor: <c>--root R --machine-state M --bridge B --subnet S --shim P ID</c>. Returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? Opt(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var id = args.Length > 0 ? args[^1] : "";
        ContainerEngine engine;
        ContainerSupervisor supervisor;
        try
        {
            var sys = Linux.LinuxSyscalls.Instance;
            sys.SetSid();
            var root = Opt("--root") ?? throw new ContainerException("--root is required");
            engine = new ContainerEngine(new EngineOptions
            {
                Root = root,
                MachineStateDirectory = Opt("--machine-state") ?? "/run/containers-dotnet",
                BridgeName = Opt("--bridge") ?? "cdnet0",
                BridgeSubnet = Opt("--subnet") ?? "10.213.0.0/16",
                ShimPath = Opt("--shim"),
                DnsUpstreams = Opt("--dns-upstream") is { } dns ? [.. dns.Split(',', StringSplitOptions.RemoveEmptyEntries)] : [],
                PrespawnShim = false,
                SweepAtStart = false, // its starter has just swept
                FirstStart = new Runtime.ContainerStore(root, sys).Read(id)?.Spec, // its one start: the shim is spawned while the engine is made
            });
            supervisor = new ContainerSupervisor(engine.Context, id, null, HealthMonitor.Companion(engine.Context));
            await supervisor.StartAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await Console.Out.WriteLineAsync(MonitorError.Format(e)).ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);
            return 125;
        }

        // other processes reach a container's stdin and terminal through the monitor that holds them
        AttachServer? attach = null;
        try
        {
            if (engine.Context.Store.Read(id) is { } state)
            {
                attach = AttachServer.Start(engine.Context, supervisor, state.Spec, id);
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"containers-monitor: no attach socket: {e.Message}").ConfigureAwait(false);
        }

        await Console.Out.WriteLineAsync("ok").ConfigureAwait(false);
        await Console.Out.FlushAsync().ConfigureAwait(false);
        Linux.LinuxSyscalls.Instance.RedirectStdioToNull();
        await supervisor.Completion.ConfigureAwait(false);
        if (attach is not null)
        {
            await attach.DisposeAsync().ConfigureAwait(false);
        }

        return 0;
    }
}
