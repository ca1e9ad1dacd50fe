using Containers.Shim;

namespace Containers;

/// <summary>What to run with <see cref="Container.StartExecAsync"/> (docker exec).</summary>
public sealed record ExecOptions
{
    /// <summary>The command and its arguments.</summary>
    public ImmutableArray<string> Command { get; init; } = [];

    /// <summary>Extra environment (<c>KEY=VALUE</c>), added to the container's.</summary>
    public ImmutableArray<string> Environment { get; init; } = [];

    /// <summary>User; the container's when null.</summary>
    public string? User { get; init; }

    /// <summary>Working directory; the container's when null.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Give the process a pseudo-terminal.</summary>
    public bool Tty { get; init; }

    /// <summary>Keep stdin open for <see cref="ExecProcess.StandardInput"/>.</summary>
    public bool OpenStdin { get; init; }

    /// <summary>Every capability the engine holds (<c>docker exec --privileged</c>); the container's seccomp profile still applies, as in Docker.</summary>
    public bool Privileged { get; init; }
}

/// <summary>A process started in a running container. Dispose kills it if it is still running.</summary>
public sealed class ExecProcess : IAsyncDisposable
{
    private readonly System.Diagnostics.Process process;
    private readonly FileStream? terminal;
    private readonly ISyscalls? sys;

    private ExecProcess(System.Diagnostics.Process process, FileStream? terminal, bool openStdin, ISyscalls? sys = null)
    {
        this.process = process;
        this.terminal = terminal;
        this.sys = sys;
        StandardInput = openStdin && terminal is null ? process.StandardInput.BaseStream : Stream.Null;
    }

    /// <summary>
    /// Sets the size of its terminal (docker exec resize, kubectl exec -t): the process gets SIGWINCH and sees the new
    /// size (<c>stty size</c>). Without a TTY it does nothing.
    /// </summary>
    public void ResizeTerminal(int rows, int columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        if (terminal is not null && sys is not null)
        {
            Pty.Resize(sys, terminal, rows, columns);
        }
    }

    /// <summary>Host pid of the process.</summary>
    public int Pid => process.Id;

    /// <summary>Its standard output (empty with a TTY: read <see cref="Terminal"/>).</summary>
    public Stream StandardOutput => process.StandardOutput.BaseStream;

    /// <summary>Its standard error (empty with a TTY).</summary>
    public Stream StandardError => process.StandardError.BaseStream;

    /// <summary>Its standard input when OpenStdin was set without a TTY; else <see cref="Stream.Null"/>.</summary>
    public Stream StandardInput { get; }

    /// <summary>The pty master when a TTY was asked for; else null.</summary>
    public Stream? Terminal => terminal;

    /// <summary>Waits for the process to exit and returns its exit code (128+signal when killed).</summary>
    public async Task<int> WaitAsync(CancellationToken cancellationToken = default)
    {
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return process.ExitCode;
    }

    /// <summary>Kills the process if it is still running and releases its resources.</summary>
    public ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
        }

        terminal?.Dispose();
        process.Dispose();
        return ValueTask.CompletedTask;
    }

    internal static async Task<ExecProcess> StartAsync(RuntimeContext ctx, ContainerState state, ExecOptions options, CancellationToken ct)
    {
        if (state.Status == ContainerStatus.Paused)
        {
            throw new ContainerConflictException($"container {state.Name} is paused; unpause it first");
        }

        if (state.Status != ContainerStatus.Running || !new ProcessIdentity(state.Pid, state.PidStartTime).IsAlive)
        {
            throw new ContainerConflictException($"container {state.Name} is not running");
        }

        if (options.Command.IsDefaultOrEmpty)
        {
            throw new InvalidContainerSpecException("exec: no command specified");
        }

        var spec = state.Spec;
        var layers = new List<string> { Path.Combine(ctx.Store.Dir(state.Id), "upper"), spec.Rootfs };
        layers.AddRange(spec.LowerLayers);
        var user = UserResolver.Resolve(options.User ?? spec.User, spec.GroupAdd, layers);
        var env = new List<string> { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", $"HOSTNAME={spec.Hostname ?? state.Id[..12]}", $"HOME={user.Home}" };
        if (options.Tty)
        {
            env.Add("TERM=xterm");
        }

        env.AddRange(spec.Environment);
        env.AddRange(options.Environment);
        env = env.GroupBy(e => e.Split('=')[0]).Select(g => g.Last()).ToList();

        int master = -1, slave = -1;
        if (options.Tty)
        {
            (master, slave) = ctx.Sys.OpenPty();
            ctx.Sys.SetWindowSize(master, 24, 80);
        }

        SpawnedShim? shim = null;
        try
        {
            var capabilities = options.Privileged ? Capabilities.Resolve(["ALL"], []) : Capabilities.Of(spec);
            shim = await ctx.Spawner.SpawnExecAsync(state.Pid, new StdioOptions(slave, options.OpenStdin && !options.Tty)).ConfigureAwait(false);
            ctx.Cgroups.Open(state.Spec.CgroupKey(state.Id)).AddProcess(shim.Pid);
            var failure = await shim.ReleaseAsync(new ShimConfig
            {
                Mode = ShimMode.Exec,
                TargetPid = state.Pid,
                UserNamespace = spec.HasUserNamespace ? $"/proc/{state.Pid}/ns/user" : null,
                UsernsHelper = spec.HasUserNamespace ? ctx.Spawner.UsernsHelperPath : null,
                Args = [.. options.Command],
                Env = env,
                Cwd = options.WorkingDirectory ?? spec.WorkingDirectory ?? "/",
                Uid = user.Uid,
                Gid = user.Gid,
                AdditionalGids = [.. user.AdditionalGids],
                Capabilities = [.. capabilities],
                NoNewPrivileges = spec.NoNewPrivileges,
                SeccompFilter = Security.SeccompFilters.For(spec, capabilities, ctx.Store.SeccompCache),
                Terminal = options.Tty,
                TerminalFd = slave,
                OpenStdin = options.OpenStdin,
            }).ConfigureAwait(false);
            if (failure is { } f)
            {
                var cmd = options.Command[0];
                throw f.Step == "exec"
                    ? new ContainerStartException(f.Errno == 2 ? $"exec: \"{cmd}\": executable file not found in $PATH" : $"exec: \"{cmd}\": {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(f.Errno)}", f.Step, f.Errno, f.Errno == 2 ? 127 : 126)
                    : new ContainerStartException($"exec setup failed at '{f.Step}': {f.Detail} {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(f.Errno)}", f.Step, f.Errno, 126);
            }

            if (slave >= 0)
            {
                ctx.Sys.Close(slave);
                slave = -1;
            }

            var term = master >= 0 ? new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(master, ownsHandle: true), FileAccess.ReadWrite, 1) : null;
            return new ExecProcess(shim.Process, term, options.OpenStdin, ctx.Sys);
        }
        catch
        {
            shim?.Abort();
            if (shim is not null)
            {
                await shim.Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                shim.Process.Dispose();
            }

            if (slave >= 0)
            {
                ctx.Sys.Close(slave);
            }

            if (master >= 0)
            {
                ctx.Sys.Close(master);
            }

            throw;
        }
    }
}
