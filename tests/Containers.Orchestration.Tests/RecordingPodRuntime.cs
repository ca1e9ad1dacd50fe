using System.Collections.Concurrent;
using Containers.Orchestration.Nodes;

namespace Containers.Tests.Orchestration;

/// <summary>
/// A test and benchmark double of the container runtime: it only records. "Containers" start at once and run until
/// <see cref="Exit"/>; images whose name contains "missing" fail to pull. Used to test the control plane and to
/// measure it without the cost of real containers (the benchmarks project compiles this same file).
/// </summary>
public sealed class RecordingPodRuntime : IPodRuntime
{
    private readonly ConcurrentDictionary<string, Entry> containers = new(StringComparer.Ordinal);
    private int next;
    private int sandboxes;

    /// <summary>How many containers were started (pod sandboxes not counted).</summary>
    public int Started => Volatile.Read(ref next) - Volatile.Read(ref sandboxes);

    /// <summary>How many pod sandboxes were started.</summary>
    public int SandboxesStarted => Volatile.Read(ref sandboxes);

    /// <summary>The specs of the running containers.</summary>
    public IReadOnlyList<PodContainerSpec> Running => [.. containers.Values.Where(e => e.Running && !e.Spec.Sandbox).Select(e => e.Spec)];

    /// <summary>The users images run as (their config's User), for runAsNonRoot's check; unknown images run as root.</summary>
    public Dictionary<string, string> ImageUsers { get; } = [];

    public string? ImageUser(string image) => ImageUsers.GetValueOrDefault(image);

    public Task EnsureImageAsync(string image, string pullPolicy, CancellationToken cancellationToken) =>
        image.Contains("missing", StringComparison.Ordinal) ? Task.FromException(new ImagePullException($"pull {image}: manifest unknown")) : Task.CompletedTask;

    public Task<string> StartAsync(PodContainerSpec spec, CancellationToken cancellationToken)
    {
        if (spec.Sandbox)
        {
            Interlocked.Increment(ref sandboxes);
        }

        int n = Interlocked.Increment(ref next);
        string id = n.ToString("x64", System.Globalization.CultureInfo.InvariantCulture);
        containers[id] = new Entry(spec, $"10.250.{(n >> 8) & 255}.{n & 255}");
        return Task.FromResult(id);
    }

    public RuntimeContainerStatus? Inspect(string id) =>
        containers.TryGetValue(id, out var e)
            ? new RuntimeContainerStatus(id, e.Running, e.ExitCode, false, e.StartedAt, e.Running ? null : e.FinishedAt, e.Ip, e.Spec.Labels.Add(EnginePodRuntime.NodeLabel, e.Spec.NodeName))
            : null;

    public Task WaitAsync(string id, CancellationToken cancellationToken) =>
        containers.TryGetValue(id, out var e) ? e.Exited.Task.WaitAsync(cancellationToken) : Task.CompletedTask;

    public Task StopAsync(string id, TimeSpan grace, CancellationToken cancellationToken)
    {
        Exit(id, 143);
        return Task.CompletedTask;
    }

    public Task RemoveAsync(string id, CancellationToken cancellationToken)
    {
        Exit(id, 137);
        containers.TryRemove(id, out _);
        return Task.CompletedTask;
    }

    public Stream? AttachInput(string id) => null;

    public Task<ExecProcess> StartExecAsync(string id, ExecOptions options, CancellationToken cancellationToken) =>
        throw new ContainerException("the recording runtime double runs no processes: exec needs a real runtime");

    /// <summary>The exit code of an exec (a probe's) in a container, by its pod's and container's names and the command; 0 when not set.</summary>
    public Func<PodContainerSpec, IReadOnlyList<string>, int>? ExecExitCode { get; set; }

    /// <inheritdoc/>
    public Task<(int ExitCode, string Output)> ExecAsync(string id, IReadOnlyList<string> command, TimeSpan timeout, CancellationToken cancellationToken) =>
        Task.FromResult((ExecExitCode is { } exit && containers.TryGetValue(id, out var e) ? exit(e.Spec, command) : 0, ""));

    public IReadOnlyList<RuntimeContainerStatus> List(string nodeName) =>
        [.. containers.Where(kv => kv.Value.Spec.NodeName == nodeName).Select(kv => Inspect(kv.Key)!)];

    public Task WriteLogAsync(string id, bool follow, long? tailLines, bool timestamps, Stream output, CancellationToken cancellationToken) =>
        output.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"log of {id[^8..]}\n"), cancellationToken).AsTask();

    /// <summary>Makes a container exit with <paramref name="exitCode"/> (a crash, or a kill).</summary>
    public void Exit(string id, int exitCode)
    {
        if (containers.TryGetValue(id, out var e) && e.Running)
        {
            e.ExitCode = exitCode;
            e.FinishedAt = DateTimeOffset.UtcNow;
            e.Running = false;
            e.Exited.TrySetResult();
        }
    }

    /// <summary>
    /// Makes the containers of pods whose names start with <paramref name="podPrefix"/> use <paramref name="cores"/>
    /// of cpu from now on, and <paramref name="memoryBytes"/> of memory (every container uses none and 8 MiB until told).
    /// </summary>
    public void SetUsage(string podPrefix, double cores, long memoryBytes)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var e in containers.Values.Where(e => e.Running && e.Spec.PodName.StartsWith(podPrefix, StringComparison.Ordinal)))
        {
            lock (e)
            {
                e.CpuNanoseconds += (long)((now - e.RateSince).TotalSeconds * e.Cores * 1e9);
                (e.Cores, e.RateSince, e.MemoryBytes, e.UsageSet) = (cores, now, memoryBytes, true);
            }
        }

        lock (usage)
        {
            usage[podPrefix] = (cores, memoryBytes); // for containers started later
        }
    }

    private readonly Dictionary<string, (double Cores, long Memory)> usage = new(StringComparer.Ordinal);

    public Task<ContainerUsage?> ReadUsageAsync(string id, CancellationToken cancellationToken)
    {
        if (!containers.TryGetValue(id, out var e) || !e.Running)
        {
            return Task.FromResult<ContainerUsage?>(null);
        }

        lock (e)
        {
            if (!e.UsageSet)
            {
                lock (usage)
                {
                    foreach (var (prefix, u) in usage.Where(kv => e.Spec.PodName.StartsWith(kv.Key, StringComparison.Ordinal)))
                    {
                        (e.Cores, e.MemoryBytes, e.RateSince) = (u.Cores, u.Memory, e.StartedAt);
                    }
                }

                e.UsageSet = true;
            }

            var now = DateTimeOffset.UtcNow;
            return Task.FromResult<ContainerUsage?>(new ContainerUsage(e.CpuNanoseconds + (long)((now - e.RateSince).TotalSeconds * e.Cores * 1e9), e.MemoryBytes));
        }
    }

    /// <summary>What container <paramref name="id"/> was started with, or null.</summary>
    public PodContainerSpec? SpecOf(string id) => containers.TryGetValue(id, out var e) ? e.Spec : null;

    /// <summary>The id of the running container named <paramref name="container"/> of pod <paramref name="pod"/>.</summary>
    public string? Find(string pod, string container) =>
        containers.FirstOrDefault(kv => kv.Value.Running && kv.Value.Spec.PodName == pod && kv.Value.Spec.ContainerName == container).Key;

    private sealed class Entry(PodContainerSpec spec, string ip)
    {
        public PodContainerSpec Spec { get; } = spec;

        public string Ip { get; } = ip;

        public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

        public DateTimeOffset FinishedAt { get; set; }

        public bool Running { get; set; } = true;

        public int ExitCode { get; set; }

        public TaskCompletionSource Exited { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public double Cores { get; set; }

        public DateTimeOffset RateSince { get; set; } = DateTimeOffset.UtcNow;

        public long CpuNanoseconds { get; set; }

        public long MemoryBytes { get; set; } = 8 << 20;

        public bool UsageSet { get; set; }
    }
}
