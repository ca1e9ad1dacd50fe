using System.Collections.Immutable;

namespace Containers.Orchestration.Nodes;

/// <summary>One container of a pod, as the node agent asks the runtime to run it.</summary>
public sealed record PodContainerSpec
{
    /// <summary>The pod's uid.</summary>
    public required string PodUid { get; init; }

    /// <summary>The pod's namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The pod's name (also its hostname unless <see cref="Hostname"/> says otherwise).</summary>
    public required string PodName { get; init; }

    /// <summary>The container's name in the pod.</summary>
    public required string ContainerName { get; init; }

    /// <summary>The node running it.</summary>
    public required string NodeName { get; init; }

    /// <summary>How many times it ran before (part of its runtime name).</summary>
    public int Attempt { get; init; }

    /// <summary>The image (ignored for the <see cref="Sandbox"/>).</summary>
    public required string Image { get; init; }

    /// <summary>
    /// Whether this is the pod's sandbox (Kubernetes' pause container), started before the pod's containers: it holds
    /// the pod's network, ipc and uts namespaces (so the pod keeps its IP, hostname and localhost when a container
    /// restarts) and runs no image, only a process that waits. The pod's containers name it as <see cref="JoinContainer"/>.
    /// </summary>
    public bool Sandbox { get; init; }

    /// <summary>Kubernetes' command (replaces the image's entrypoint), or null.</summary>
    public ImmutableArray<string>? Command { get; init; }

    /// <summary>Kubernetes' args (replace the image's cmd), or null.</summary>
    public ImmutableArray<string>? Args { get; init; }

    /// <summary>Environment variables, in order.</summary>
    public ImmutableArray<KeyValuePair<string, string>> Environment { get; init; } = [];

    /// <summary>The working directory, or null for the image's.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>The user (uid[:gid]) or null for the image's.</summary>
    public string? User { get; init; }

    /// <summary>Host paths mounted into the container.</summary>
    public ImmutableArray<(string HostPath, string ContainerPath, bool ReadOnly)> Mounts { get; init; } = [];

    /// <summary>The memory limit in bytes, or null.</summary>
    public long? MemoryLimit { get; init; }

    /// <summary>The cpu limit in cores, or null.</summary>
    public double? CpuLimit { get; init; }

    /// <summary>The pod's hostname.</summary>
    public required string Hostname { get; init; }

    /// <summary>The network pods are on.</summary>
    public required string Network { get; init; }

    /// <summary>Keep the container's stdin open for attaching (Kubernetes' <c>stdin: true</c>, as <c>kubectl run -i</c> asks).</summary>
    public bool Stdin { get; init; }

    /// <summary>Give the container a terminal (Kubernetes' <c>tty: true</c>).</summary>
    public bool Tty { get; init; }

    /// <summary>The seccomp profile, as <see cref="Containers.Runtime.ContainerSpec.SeccompProfile"/>: null for the runtime's default, "unconfined", or a profile's JSON.</summary>
    public string? SeccompProfile { get; init; } = Containers.Runtime.ContainerSpec.SeccompUnconfined;

    /// <summary>Close its stdin when the first attach session's input ends (Kubernetes' <c>stdinOnce</c>, as <c>kubectl run -i</c> sets).</summary>
    public bool StdinOnce { get; init; }

    /// <summary>The runtime id of the container whose network, ipc and uts namespaces this one joins (the pod's sandbox), or null to get its own.</summary>
    public string? JoinContainer { get; init; }

    /// <summary>securityContext.privileged: every capability and host device, no seccomp filter (<c>--privileged</c>).</summary>
    public bool Privileged { get; init; }

    /// <summary>securityContext.capabilities.add, as capability names.</summary>
    public ImmutableArray<string> CapAdd { get; init; } = [];

    /// <summary>securityContext.capabilities.drop, as capability names (ALL drops them all).</summary>
    public ImmutableArray<string> CapDrop { get; init; } = [];

    /// <summary>securityContext.readOnlyRootFilesystem.</summary>
    public bool ReadOnlyRootfs { get; init; }

    /// <summary>securityContext.allowPrivilegeEscalation false: no_new_privs.</summary>
    public bool NoNewPrivileges { get; init; }

    /// <summary>The pid namespace: "" for the container's own, <c>host</c> (hostPID), or <c>container:ID</c> (the sandbox's, with shareProcessNamespace).</summary>
    public string PidMode { get; init; } = "";

    /// <summary>The IPC namespace of the sandbox: "" for its own, <c>host</c> (hostIPC).</summary>
    public string IpcMode { get; init; } = "";

    /// <summary>
    /// The user namespace (<c>hostUsers: false</c>): "" for the host's, <c>auto</c> for the sandbox (a range of its
    /// own), <c>container:ID</c> for the pod's containers (the sandbox's). In one, the pod's volumes are idmapped.
    /// </summary>
    public string UsernsMode { get; init; } = "";

    /// <summary>The image pull policy (Always, IfNotPresent, Never).</summary>
    public string PullPolicy { get; init; } = "IfNotPresent";

    /// <summary>Labels put on the runtime container (pod uid, names), used to find it again.</summary>
    public ImmutableDictionary<string, string> Labels { get; init; } = ImmutableDictionary<string, string>.Empty;
}

/// <summary>What the runtime says about a container.</summary>
/// <param name="Id">The runtime id.</param>
/// <param name="Running">Whether it runs.</param>
/// <param name="ExitCode">Its exit code once exited.</param>
/// <param name="OomKilled">Whether the memory limit killed it.</param>
/// <param name="StartedAt">When it started.</param>
/// <param name="FinishedAt">When it exited.</param>
/// <param name="IPAddress">Its address on the pod network.</param>
/// <param name="Labels">Its labels.</param>
public sealed record RuntimeContainerStatus(string Id, bool Running, int ExitCode, bool OomKilled, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? IPAddress, IReadOnlyDictionary<string, string> Labels)
{
    /// <summary>The id (config digest, <c>sha256:...</c>) of the image it runs, when the runtime knows it: the pod's containerStatuses[].imageID.</summary>
    public string? ImageId { get; init; }
}

/// <summary>A pull that failed (the node agent shows ErrImagePull, then ImagePullBackOff).</summary>
public sealed class ImagePullException(string message, Exception? inner = null) : ContainerException(message, inner);

/// <summary>
/// The node agent's seam to a container runtime: the engine (<see cref="EnginePodRuntime"/>) in a cluster, a double
/// that only records in benchmarks.
/// </summary>
public interface IPodRuntime
{
    /// <summary>Makes the image present per the pull policy. Throws <see cref="ImagePullException"/>.</summary>
    Task EnsureImageAsync(string image, string pullPolicy, CancellationToken cancellationToken);

    /// <summary>The user an image runs as (its config's User), or null when the runtime cannot tell (runAsNonRoot's check).</summary>
    string? ImageUser(string image) => null;

    /// <summary>Creates and starts a container; returns its id. It keeps running when the hosting process ends.</summary>
    Task<string> StartAsync(PodContainerSpec spec, CancellationToken cancellationToken);

    /// <summary>The container's status, or null when it no longer exists.</summary>
    RuntimeContainerStatus? Inspect(string id);

    /// <summary>Completes when the container exits (or no longer exists).</summary>
    Task WaitAsync(string id, CancellationToken cancellationToken);

    /// <summary>Stops it: SIGTERM, then SIGKILL after <paramref name="grace"/>.</summary>
    Task StopAsync(string id, TimeSpan grace, CancellationToken cancellationToken);

    /// <summary>Removes it (stopped or not).</summary>
    Task RemoveAsync(string id, CancellationToken cancellationToken);

    /// <summary>Runs a command in it (exec probes, preStop hooks); returns the exit code and output.</summary>
    Task<(int ExitCode, string Output)> ExecAsync(string id, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>
    /// The stdin (or terminal) of a running container started with <see cref="PodContainerSpec.Stdin"/>, for kubectl
    /// attach (dispose it when the session ends: that closes the container's stdin under stdinOnce); null otherwise.
    /// </summary>
    Stream? AttachInput(string id);

    /// <summary>Sets the terminal size of a running container started with <see cref="PodContainerSpec.Tty"/> (kubectl attach -t); by default nothing.</summary>
    void ResizeTerminal(string id, int rows, int columns)
    {
    }

    /// <summary>Starts an interactive process in a running container (kubectl exec); its streams are the caller's to pump.</summary>
    Task<ExecProcess> StartExecAsync(string id, ExecOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a TCP connection to <paramref name="port"/> on the loopback of container <paramref name="id"/>'s network
    /// namespace (pods/portforward). A runtime that cannot fails with <see cref="ContainerException"/>.
    /// </summary>
    Task<System.Net.Sockets.Socket> ConnectAsync(string id, int port, CancellationToken cancellationToken) =>
        Task.FromException<System.Net.Sockets.Socket>(new ContainerException("this container runtime cannot reach a container's loopback"));

    /// <summary>The containers labelled as run for <paramref name="nodeName"/> (to take them over after a restart).</summary>
    IReadOnlyList<RuntimeContainerStatus> List(string nodeName);

    /// <summary>Writes a container's log (stdout and stderr, in order).</summary>
    Task WriteLogAsync(string id, bool follow, long? tailLines, bool timestamps, Stream output, CancellationToken cancellationToken);

    /// <summary>
    /// What a running container has used, from its cgroup: its cpu time so far and its memory now (what the kubelet's
    /// resource metrics report, and metrics-server serves). Null when the runtime cannot tell or the container is not running.
    /// </summary>
    Task<ContainerUsage?> ReadUsageAsync(string id, CancellationToken cancellationToken) => Task.FromResult<ContainerUsage?>(null);

    /// <summary>
    /// The path of the network namespace of a running pod sandbox (<c>/proc/PID/ns/net</c>), where the node enforces
    /// the pod's NetworkPolicies; null when the runtime has none (a test double) or the sandbox is not running.
    /// </summary>
    string? NetworkNamespacePath(string sandboxId) => null;
}

/// <summary>A container's usage: the cpu time it has used in all (nanoseconds) and its memory working set (bytes).</summary>
public readonly record struct ContainerUsage(long CpuNanoseconds, long MemoryBytes);
