using System.Collections.Immutable;
using System.Text;
using Containers.Runtime;

namespace Containers.Orchestration.Nodes;

/// <summary>The node agent's runtime on a <see cref="ContainerEngine"/>: pods' containers are detached engine containers (they outlive the hosting process and are found again by label).</summary>
public sealed class EnginePodRuntime : IPodRuntime
{
    /// <summary>The label naming the node that runs a container.</summary>
    public const string NodeLabel = "io.kubernetes.node";

    private readonly ContainerEngine engine;

    /// <summary>Creates the runtime over <paramref name="engine"/>.</summary>
    public EnginePodRuntime(ContainerEngine engine) => this.engine = engine;

    /// <summary>Called when an Always pull failed and the local copy of the image is used.</summary>
    public Action<string>? LocalCopyUsed { get; set; }

    /// <inheritdoc/>
    public async Task EnsureImageAsync(string image, string pullPolicy, CancellationToken cancellationToken)
    {
        try
        {
            if (pullPolicy == "Never")
            {
                _ = engine.Images.Find(image) ?? throw new ImagePullException($"Container image \"{image}\" is not present with pull policy of Never");
                return;
            }

            try
            {
                await engine.Images.EnsureAsync(image, pullPolicy == "Always" ? Images.PullPolicy.Always : Images.PullPolicy.Missing, null, cancellationToken).ConfigureAwait(false);
            }
            catch (ContainerException) when (pullPolicy == "Always" && engine.Images.Find(image) is not null)
            {
                // offline with the image at hand (built or loaded here): run it rather than fail as the kubelet would
                LocalCopyUsed?.Invoke(image);
            }
        }
        catch (ContainerException e) when (e is not ImagePullException)
        {
            throw new ImagePullException($"failed to pull image \"{image}\": {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public string? ImageUser(string image) => engine.Images.Find(image)?.Config.Config?.User;

    /// <inheritdoc/>
    public async Task<string> StartAsync(PodContainerSpec spec, CancellationToken cancellationToken)
    {
        string name = $"k8s_{spec.ContainerName}_{spec.PodName}_{spec.Namespace}_{spec.PodUid[..8]}_{spec.Attempt}";
        var builder = spec.Sandbox
            ? engine.FromRootfs(SandboxRootfs()).WithCommand(["/pause"]).WithReadOnlyRootfs().WithName(name).WithHostname(spec.Hostname)
            : engine.FromImage(spec.Image).WithName(name).WithHostname(spec.Hostname);
        builder = spec.JoinContainer is { } join ? builder.WithNetwork("container:" + join) : builder.WithNetwork(spec.Network);
        if (spec.Command is { } command)
        {
            builder = builder.WithEntrypoint([.. command]);
        }

        if (spec.Args is { } args)
        {
            builder = builder.WithCommand([.. args]);
        }

        foreach (var (k, v) in spec.Environment)
        {
            builder = builder.WithEnvironment(k, v);
        }

        if (spec.WorkingDirectory is { } wd)
        {
            builder = builder.WithWorkingDirectory(wd);
        }

        if (spec.User is { } user)
        {
            builder = builder.WithUser(user);
        }

        foreach (var (host, path, ro) in spec.Mounts)
        {
            builder = builder.WithBindMount(host, path, ro, idMap: spec.UsernsMode.Length > 0);
        }

        if (spec.UsernsMode.Length > 0)
        {
            builder = builder.WithUserNamespace(spec.UsernsMode);
        }

        builder = spec.Sandbox || spec.SeccompProfile == Containers.Runtime.ContainerSpec.SeccompUnconfined ? builder.WithSeccompUnconfined()
            : spec.SeccompProfile is { } profile ? builder.WithSeccompProfile(profile) : builder;
        builder = builder.WithPrivileged(spec.Privileged).WithCapAdd([.. spec.CapAdd]).WithCapDrop([.. spec.CapDrop]).WithNoNewPrivileges(spec.NoNewPrivileges);
        if (spec.ReadOnlyRootfs)
        {
            builder = builder.WithReadOnlyRootfs();
        }

        if (spec.PidMode.Length > 0)
        {
            builder = builder.WithPidMode(spec.PidMode);
        }

        if (spec.IpcMode.Length > 0)
        {
            builder = builder.WithIpcMode(spec.IpcMode);
        }

        if (spec.MemoryLimit is { } memory)
        {
            builder = builder.WithMemoryLimit(memory);
        }

        if (spec.CpuLimit is { } cpu)
        {
            builder = builder.WithCpus(cpu);
        }

        foreach (var (k, v) in spec.Labels)
        {
            builder = builder.WithLabel(k, v);
        }

        builder = builder.WithLabel(NodeLabel, spec.NodeName).WithStop(spec.Sandbox ? "SIGKILL" : "SIGTERM", spec.Sandbox ? TimeSpan.Zero : TimeSpan.FromSeconds(30));
        var existing = engine.List(all: true).FirstOrDefault(s => s.Name == name);
        if (existing is not null)
        {
            await engine.Get(existing.Id).RemoveAsync(force: true, cancellationToken).ConfigureAwait(false);
        }

        if (spec.Stdin || spec.Tty)
        {
            // its monitor holds stdin and the terminal and serves them to attaching processes: it survives this one
            builder = builder.WithOpenStdin(spec.Stdin).WithTty(spec.Tty).WithStdinOnce(spec.StdinOnce);
        }

        var container = await builder.StartDetachedAsync(cancellationToken).ConfigureAwait(false);
        return container.Id;
    }

    /// <summary>
    /// The sandbox's root filesystem: one static x86-64 program, <c>/pause</c>, that calls pause(2) forever (no libc, no
    /// image to pull; as PID 1 of its pid namespace it ignores every signal but SIGKILL, which is how sandboxes end).
    /// </summary>
    private string SandboxRootfs()
    {
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            throw new ContainerException($"pod sandboxes run a static x86-64 pause program; {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture} is not supported");
        }

        string dir = Path.Combine(engine.Root, "pod-sandbox");
        string pause = Path.Combine(dir, "pause");
        if (!File.Exists(pause) || new FileInfo(pause).Length != PauseProgram.Length)
        {
            Directory.CreateDirectory(dir);
            string tmp = pause + "." + Environment.ProcessId;
            File.WriteAllBytes(tmp, PauseProgram);
            File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            File.Move(tmp, pause, overwrite: true);
        }

        return dir;
    }

    /// <summary>An ELF64 executable: its header, one PT_LOAD program header (r-x, the whole 129 bytes at 0x400000), then <c>loop: mov eax, 34 (pause); syscall; jmp loop</c>.</summary>
    private static readonly byte[] PauseProgram = Convert.FromHexString(
        "7f454c46020101000000000000000000" + "02003e00010000007800400000000000" + "40000000000000000000000000000000" + "00000000400038000100000000000000"
        + "01000000050000000000000000000000" + "00004000000000000000400000000000" + "81000000000000008100000000000000" + "0010000000000000"
        + "b8220000000f05ebf7");

    /// <inheritdoc/>
    public Task<System.Net.Sockets.Socket> ConnectAsync(string id, int port, CancellationToken cancellationToken) =>
        engine.Get(id).ConnectAsync(port, cancellationToken);

    /// <inheritdoc/>
    public void ResizeTerminal(string id, int rows, int columns)
    {
        try
        {
            engine.Get(id).ResizeTerminal(rows, columns);
        }
        catch (ContainerNotFoundException)
        {
        }
    }

    /// <inheritdoc/>
    public Stream? AttachInput(string id)
    {
        try
        {
            return engine.Get(id).OpenInput();
        }
        catch (ContainerNotFoundException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public string? NetworkNamespacePath(string sandboxId)
    {
        try
        {
            return engine.Get(sandboxId).State is { Pid: > 0 } s && s.Status == ContainerStatus.Running ? $"/proc/{s.Pid}/ns/net" : null;
        }
        catch (ContainerException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async Task<ContainerUsage?> ReadUsageAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            var stats = await engine.Get(id).GetStatsAsync(cancellationToken).ConfigureAwait(false);
            return new ContainerUsage(stats.CpuUsageNanoseconds, stats.MemoryUsageBytes);
        }
        catch (ContainerException)
        {
            return null; // gone, or not running
        }
    }

    /// <inheritdoc/>
    public RuntimeContainerStatus? Inspect(string id)
    {
        var s = engine.List(all: true).FirstOrDefault(c => c.Id == id);
        return s is null ? null : ToStatus(s);
    }

    /// <inheritdoc/>
    public async Task WaitAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await engine.Get(id).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerNotFoundException)
        {
        }
    }

    /// <inheritdoc/>
    public async Task StopAsync(string id, TimeSpan grace, CancellationToken cancellationToken)
    {
        try
        {
            await engine.Get(id).StopAsync(grace, cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerNotFoundException)
        {
        }
    }

    /// <inheritdoc/>
    public async Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await engine.Get(id).RemoveAsync(force: true, cancellationToken).ConfigureAwait(false);
        }
        catch (ContainerNotFoundException)
        {
        }

    }

    /// <inheritdoc/>
    public async Task<(int ExitCode, string Output)> ExecAsync(string id, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var result = await engine.Get(id).ExecAsync(command, cts.Token).ConfigureAwait(false);
        return (result.ExitCode, result.Stdout + result.Stderr);
    }

    /// <inheritdoc/>
    public Task<ExecProcess> StartExecAsync(string id, ExecOptions options, CancellationToken cancellationToken) =>
        engine.Get(id).StartExecAsync(options, cancellationToken);

    /// <inheritdoc/>
    public IReadOnlyList<RuntimeContainerStatus> List(string nodeName) =>
        [.. engine.List(all: true).Where(s => s.Spec.Labels.GetValueOrDefault(NodeLabel) == nodeName).Select(ToStatus)];

    /// <inheritdoc/>
    public async Task WriteLogAsync(string id, bool follow, long? tailLines, bool timestamps, Stream output, CancellationToken cancellationToken)
    {
        Container container;
        try
        {
            container = engine.Get(id);
        }
        catch (ContainerNotFoundException)
        {
            return;
        }

        await foreach (var entry in container.GetLogsAsync(follow, tailLines is { } t ? (int)t : null, cancellationToken).ConfigureAwait(false))
        {
            string line = timestamps ? entry.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z' ", CultureInfo.InvariantCulture) + entry.Text : entry.Text;
            await output.WriteAsync(Encoding.UTF8.GetBytes(line), cancellationToken).ConfigureAwait(false);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static RuntimeContainerStatus ToStatus(ContainerState s) =>
        new(s.Id, s.IsActive, s.ExitCode, s.OomKilled, s.StartedAt, s.FinishedAt, s.IPAddress, s.Spec.Labels) { ImageId = s.Spec.ImageId };
}
