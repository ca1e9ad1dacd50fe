using System.Collections.Concurrent;
using System.Collections.Immutable;
using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// The kubelet's job for one node: registers the Node (capacity, allocatable, addresses, nodeInfo) and posts its Ready
/// heartbeat; runs the pods bound to it through an <see cref="IPodRuntime"/> (init containers in order, then the
/// containers; env and volumes; restartPolicy with CrashLoopBackOff 10 s doubling to 5 min, reset after 10 min
/// running; startup, liveness and readiness probes with exec, httpGet and tcpSocket; ErrImagePull/ImagePullBackOff;
/// preStop and terminationGracePeriodSeconds on deletion) and writes their status. Containers outlive the agent and
/// are taken over again (by label) when it starts.
/// </summary>
public sealed partial class NodeAgent : IReconciler<string>, IAsyncDisposable
{
    private const string PodUidLabel = "io.kubernetes.pod.uid";
    private const string ContainerLabel = "io.kubernetes.container.name";
    private const string AttemptLabel = "io.kubernetes.container.restartCount";
    private const string SandboxName = "POD"; // the sandbox's container name label, as the kubelet's dockershim named it
    private readonly ObjectApi api;
    private readonly IPodRuntime runtime;
    private readonly ILogger logger;
    private readonly Informer pods;
    private readonly Informer services;
    private readonly ConcurrentDictionary<string, PodRecord> records = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stop = new();
    private readonly Prober prober;
    private readonly PodStatusWriter statusWriter;
    private readonly NodeStatusReporter nodeStatus;
    private readonly ImageManager images;
    private readonly NodeReader reader;
    private readonly ReplicatedVolumeManager replicated;
    private Task running = Task.CompletedTask;

    private NodeAgent(ObjectApi api, InformerSet informers, IPodRuntime runtime, NodeOptions options, ILogger logger)
    {
        this.api = api;
        this.runtime = runtime;
        this.logger = logger;
        Options = options;
        reader = new NodeReader(api, options.Name, options.Credentials, options.RequestToken);
        prober = new Prober(api, runtime, options.Name);
        statusWriter = new PodStatusWriter(api, runtime, options.LanAddress ?? options.InternalIP);
        nodeStatus = new NodeStatusReporter(api, options, logger);
        pods = informers.For(ResourceType.Pods).IndexByNode();
        services = informers.For(ResourceType.Services);
        Queue = new WorkQueue<string>(api.Time);
        images = new ImageManager(api, runtime, options.Name, Queue);
        replicated = new ReplicatedVolumeManager(api, informers, options, logger);
        pods.OnChange(PodState.NodeIndex, Name, (old, pod) =>
        {
            // as the kubelet, a change of the status alone (its own writes, mostly) needs no sync: the status is ours
            if (old is null || pod is null || !OnlyStatusChanged(old, pod))
            {
                Queue.Add(PodState.Key(pod ?? old!));
            }
        });
    }

    /// <summary>Whether two versions of a pod differ in their status (and resourceVersion) only (a spec change bumps metadata.generation).</summary>
    private static bool OnlyStatusChanged(JsonObject old, JsonObject pod)
    {
        if (Json.SameIgnoringVersion(old, pod, "metadata") is { } same)
        {
            return same; // both still as parsed: compared as JSON, no nodes built
        }

        if (old["metadata"] is not JsonObject a || pod["metadata"] is not JsonObject b || a.Count != b.Count)
        {
            return false;
        }

        foreach (var (name, value) in a)
        {
            if (name != "resourceVersion" && !JsonNode.DeepEquals(value, b[name]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The pods this agent runs, with their records (for the metrics sampler).</summary>
    private IEnumerable<(string Namespace, string Name, PodRecord Record)> RunningPods() =>
        records.Select(kv => (PodState.Split(kv.Key), kv.Value)).Select(x => (x.Item1.Ns, x.Item1.Name, x.Value));

    /// <summary>The node's options.</summary>
    public NodeOptions Options { get; }

    /// <summary>The node's name.</summary>
    public string Name => Options.Name;

    /// <summary>The pod work queue.</summary>
    internal WorkQueue<string> Queue { get; }

    /// <summary>Registers the node, takes over its running containers and starts serving its pods.</summary>
    public static async Task<NodeAgent> StartAsync(ObjectApi api, InformerSet informers, IPodRuntime runtime, NodeOptions options, ILogger logger, CancellationToken cancellationToken = default)
    {
        var agent = new NodeAgent(api, informers, runtime, options, logger);
        agent.replicated.Start();
        agent.nodeStatus.ReplicaAddress = agent.replicated.Address;
        agent.nodeStatus.Register();
        await informers.For(ResourceType.Pods).Synced.WaitAsync(cancellationToken).ConfigureAwait(false);
        agent.Adopt();
        var token = agent.stop.Token;
        var sampler = new MetricsSampler(runtime, api.Metrics, options.Name, api.Time, logger);
        agent.running = Task.WhenAll(
            agent.Queue.RunAsync(agent, options.Workers, logger, token),
            Task.Run(() => agent.nodeStatus.HeartbeatAsync(token), CancellationToken.None),
            Task.Run(() => sampler.RunAsync(agent.RunningPods, options.MetricsResolution, token), CancellationToken.None),
            Task.Run(() => new NetworkPolicyAgent(runtime, informers, options.InternalIP, logger).RunAsync(agent.RunningPods, token), CancellationToken.None));
        foreach (var pod in agent.pods.ByIndex(PodState.NodeIndex, options.Name))
        {
            agent.Queue.Add(PodState.Key(pod));
        }

        return agent;
    }

    /// <summary>Writes a container's log (for pods/log).</summary>
    public Task WriteLogAsync(JsonObject pod, string container, bool follow, long? tailLines, bool timestamps, bool previous, Stream output, CancellationToken cancellationToken)
    {
        if (!records.TryGetValue(PodState.Key(pod), out var rec) || rec.Uid != Json.Uid(pod) || !rec.Containers.TryGetValue(container, out var c))
        {
            throw ApiException.BadRequest($"container \"{container}\" in pod \"{Json.Name(pod)}\" is waiting to start: ContainerCreating");
        }

        string? id;
        lock (c.Runs)
        {
            id = previous ? (c.Runs.Count > 1 ? c.Runs[^2] : null) : c.Runs.LastOrDefault();
        }

        if (id is null)
        {
            throw ApiException.BadRequest(previous ? $"previous terminated container \"{container}\" in pod \"{Json.Name(pod)}\" not found" : $"container \"{container}\" in pod \"{Json.Name(pod)}\" is waiting to start: {c.WaitingReason ?? "ContainerCreating"}");
        }

        return runtime.WriteLogAsync(id, follow && !previous, tailLines, timestamps, output, cancellationToken);
    }

    /// <summary>
    /// Attaches to a running container of a pod (kubectl attach, run -i): its output from now on goes to
    /// <paramref name="output"/> until it stops; returns its stdin (or terminal) when it was started with stdin, else null.
    /// </summary>
    public (Stream? Input, Task Output) Attach(JsonObject pod, string container, Stream output, CancellationToken cancellationToken)
    {
        if (!records.TryGetValue(PodState.Key(pod), out var rec) || rec.Uid != Json.Uid(pod) || !rec.Containers.TryGetValue(container, out var c)
            || c.Id is not { } id || runtime.Inspect(id) is not { Running: true })
        {
            throw ApiException.BadRequest($"unable to upgrade connection: container {container} not found in pod {Json.Name(pod)}");
        }

        return (runtime.AttachInput(id), runtime.WriteLogAsync(id, follow: true, tailLines: 0, timestamps: false, output, cancellationToken));
    }

    /// <summary>Sets the terminal size of a pod's container started with tty (kubectl attach -t).</summary>
    public void ResizeTerminal(JsonObject pod, string container, int rows, int columns)
    {
        if (records.TryGetValue(PodState.Key(pod), out var rec) && rec.Uid == Json.Uid(pod) && rec.Containers.TryGetValue(container, out var c) && c.Id is { } id)
        {
            runtime.ResizeTerminal(id, rows, columns);
        }
    }

    /// <summary>Starts a process in a running container of a pod (kubectl exec).</summary>
    public Task<ExecProcess> StartExecAsync(JsonObject pod, string container, ExecOptions options, CancellationToken cancellationToken)
    {
        if (!records.TryGetValue(PodState.Key(pod), out var rec) || rec.Uid != Json.Uid(pod) || !rec.Containers.TryGetValue(container, out var c)
            || c.Id is not { } id || runtime.Inspect(id) is not { Running: true })
        {
            throw ApiException.BadRequest($"unable to upgrade connection: container not found (\"{container}\")");
        }

        return runtime.StartExecAsync(id, options, cancellationToken);
    }

    /// <summary>Opens a TCP connection to <paramref name="port"/> on the pod's own localhost, in its sandbox's network namespace (pods/portforward, as the kubelet does).</summary>
    public Task<System.Net.Sockets.Socket> ConnectAsync(JsonObject pod, int port, CancellationToken cancellationToken)
    {
        if (!records.TryGetValue(PodState.Key(pod), out var rec) || rec.Uid != Json.Uid(pod) || rec.SandboxId is not { } sandbox)
        {
            throw ApiException.BadRequest($"unable to forward ports to pod {Json.Name(pod)}: its sandbox is not running");
        }

        return runtime.ConnectAsync(sandbox, port, cancellationToken);
    }

    /// <summary>Stops posting status and serving pods; the pods' containers keep running (as when a kubelet stops).</summary>
    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await replicated.DisposeAsync().ConfigureAwait(false);
        prober.Dispose();
        stop.Dispose();
    }

    /// <summary>Stops and removes every container this node runs (a test's or a cluster's teardown).</summary>
    public async Task RemoveAllContainersAsync(CancellationToken cancellationToken = default)
    {
        foreach (var c in runtime.List(Name))
        {
            await runtime.RemoveAsync(c.Id, cancellationToken).ConfigureAwait(false);
        }

        records.Clear();
    }

    /// <inheritdoc/>
    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var pod = pods.Get(ns, name);
        records.TryGetValue(key, out var rec);
        if (pod is null || Json.Str(pod, "spec", "nodeName") != Name || (rec is not null && rec.Uid != Json.Uid(pod)))
        {
            if (rec is not null)
            {
                await KillAsync(rec, null, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                await replicated.ReleaseAsync(key).ConfigureAwait(false);
                records.TryRemove(key, out _);
            }

            if (pod is null || Json.Str(pod, "spec", "nodeName") != Name)
            {
                return default;
            }

            rec = null;
        }

        rec ??= records.GetOrAdd(key, _ => new PodRecord(Json.Uid(pod), PodsDirectory));
        var now = api.Time.GetUtcNow();
        if (Json.Has(pod, "metadata", "deletionTimestamp"))
        {
            long grace = Json.Int(pod, "metadata", "deletionGracePeriodSeconds") ?? 30;
            await KillAsync(rec, pod, TimeSpan.FromSeconds(grace), cancellationToken).ConfigureAwait(false);
            await replicated.ReleaseAsync(key).ConfigureAwait(false);
            records.TryRemove(key, out _);
            try
            {
                api.Delete(ResourceType.Pods, ns, name, new DeleteOptions(GracePeriodSeconds: 0, ExpectedUid: rec.Uid));
            }
            catch (ApiException e) when (e.Code is 404 or 409)
            {
            }

            return default;
        }

        if (Json.Str(pod, "status", "phase") is "Succeeded" or "Failed" && rec.Containers.Values.All(c => c.Id is null || runtime.Inspect(c.Id) is not { Running: true }))
        {
            if (rec.SandboxId is { } sandbox)
            {
                rec.SandboxId = null; // a finished pod's namespaces go (its containers stay for logs until the pod is deleted)
                await runtime.RemoveAsync(sandbox, cancellationToken).ConfigureAwait(false);
            }

            return default;
        }

        rec.StartTime ??= now;
        TimeSpan next = TimeSpan.FromSeconds(10);
        Dictionary<string, string>? volumes = null;
        string? podError = null;
        try
        {
            // replicated volumes are attached (and looked at again) as often as the other volumes are made, not on every sync
            if (rec.PreparedVolumes is null || now - rec.VolumesRefreshedAt >= PodVolumes.RefreshPeriod)
            {
                rec.ReplicatedPaths = await replicated.PrepareAsync(pod, key, reader, cancellationToken).ConfigureAwait(false);
            }

            volumes = PodVolumes.Prepare(pod, rec, api, reader);
        }
        catch (VolumeAttachException e)
        {
            podError = e.Message;
            next = TimeSpan.FromSeconds(2);
            if (rec.LastMountError != e.Message)
            {
                rec.LastMountError = e.Message;
                api.RecordEvent(pod, "Warning", "FailedAttachVolume", e.Message, "attachdetach-controller", Name);
            }
        }
        catch (Exception e) when (e is PodVolumeException or IOException or UnauthorizedAccessException)
        {
            podError = e.Message;
            if (rec.LastMountError != e.Message)
            {
                rec.LastMountError = e.Message;
                api.RecordEvent(pod, "Warning", "FailedMount", e.Message, "kubelet", Name);
            }
        }

        string policy = Json.Str(pod, "spec", "restartPolicy") ?? "Always";
        bool initialized = true;
        if (volumes is not null && podError is null)
        {
            try
            {
                await EnsureSandboxAsync(key, pod, rec, cancellationToken).ConfigureAwait(false);
            }
            catch (ContainerException e)
            {
                podError = $"Failed to create pod sandbox: {e.Message}";
                api.RecordEvent(pod, "Warning", "FailedCreatePodSandBox", podError, "kubelet", Name);
                volumes = null;
                next = TimeSpan.FromSeconds(5);
            }
        }

        if (volumes is not null)
        {
            var sync = new PodSync(PodState.Key(pod), pod, rec, volumes, policy, now);
            foreach (var c in Json.ReadItems(pod, "spec", "initContainers"))
            {
                var cr = rec.Get(Json.Str(c, "name")!, init: true);
                if (cr.Succeeded)
                {
                    continue;
                }

                initialized = false;
                var step = await SyncContainerAsync(sync, cr, c, init: true, cancellationToken).ConfigureAwait(false);
                next = Min(next, step);
                break;
            }

            if (initialized)
            {
                foreach (var c in Json.ReadItems(pod, "spec", "containers"))
                {
                    var cr = rec.Get(Json.Str(c, "name")!, init: false);
                    var step = await SyncContainerAsync(sync, cr, c, init: false, cancellationToken).ConfigureAwait(false);
                    next = Min(next, step);
                }
            }
        }

        statusWriter.Write(pod, rec, initialized && volumes is not null, podError, now);
        return new ReconcileResult(next);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private void Adopt()
    {
        foreach (var c in runtime.List(Name))
        {
            if (!c.Labels.TryGetValue(PodUidLabel, out string? uid) || !c.Labels.TryGetValue(ContainerLabel, out string? name))
            {
                continue;
            }

            var pod = pods.ByIndex(PodState.NodeIndex, Name).FirstOrDefault(p => Json.Uid(p) == uid);
            if (pod is null)
            {
                _ = runtime.RemoveAsync(c.Id, CancellationToken.None); // its pod is gone
                continue;
            }

            var rec = records.GetOrAdd(PodState.Key(pod), _ => new PodRecord(uid, PodsDirectory));
            if (name == SandboxName)
            {
                int sandboxAttempt = int.TryParse(c.Labels.GetValueOrDefault(AttemptLabel), out int sa) ? sa : 0;
                rec.SandboxAttempt = Math.Max(rec.SandboxAttempt, sandboxAttempt + 1);
                if (c.Running)
                {
                    rec.SandboxId = c.Id;
                    rec.PodIP = c.IPAddress;
                    WatchSandbox(PodState.Key(pod), rec, c.Id);
                }
                else
                {
                    _ = runtime.RemoveAsync(c.Id, CancellationToken.None);
                }

                continue;
            }

            bool init = Json.ReadItems(pod, "spec", "initContainers").Any(i => Json.Str(i, "name") == name);
            var cr = rec.Get(name, init);
            int attempt = int.TryParse(c.Labels.GetValueOrDefault(AttemptLabel), out int a) ? a : 0;
            if (cr.Id is null || attempt >= cr.RestartCount)
            {
                cr.Id = c.Id;
                lock (cr.Runs)
                {
                    cr.Runs.Add(c.Id);
                }

                cr.RestartCount = attempt;
                cr.StartedAt = c.StartedAt;
                cr.Started = true;
                cr.Ready = c.Running && Json.At(FindContainer(pod, name), "readinessProbe") is null;
                if (init && !c.Running && c.ExitCode == 0)
                {
                    cr.Succeeded = true;
                }
            }

            if (c.Running)
            {
                Watch(PodState.Key(pod), cr, c.Id);
            }
        }
    }

    private static JsonObject? FindContainer(JsonObject pod, string name) =>
        Json.ReadItems(pod, "spec", "containers").Concat(Json.ReadItems(pod, "spec", "initContainers")).FirstOrDefault(c => Json.Str(c, "name") == name);

    /// <summary>
    /// Starts the pod's sandbox unless it runs. One that died took the pod's namespaces with it: its containers are
    /// stopped, its init containers run again in the new one and then its containers restart (as after a crash), as
    /// the kubelet does when a pod sandbox changed.
    /// </summary>
    private async Task EnsureSandboxAsync(string key, JsonObject pod, PodRecord rec, CancellationToken cancellationToken)
    {
        if (rec.SandboxId is { } current && runtime.Inspect(current) is { Running: true })
        {
            return;
        }

        var running = rec.Containers.Values.Where(c => c.Id is not null && runtime.Inspect(c.Id) is { Running: true }).ToList();
        if (rec.SandboxId is not null || running.Count > 0)
        {
            api.RecordEvent(pod, "Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.", "kubelet", Name);
            foreach (var c in running)
            {
                await runtime.StopAsync(c.Id!, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            }

            lock (rec.Containers)
            {
                foreach (var (name, c) in rec.Containers)
                {
                    if (name.StartsWith("init:", StringComparison.Ordinal))
                    {
                        c.Succeeded = false; // a new sandbox is initialized again, as the kubelet runs init containers again
                    }
                }
            }

            if (rec.SandboxId is { } dead)
            {
                await runtime.RemoveAsync(dead, cancellationToken).ConfigureAwait(false);
            }
        }

        rec.SandboxId = null;
        rec.PodIP = null;
        int attempt = rec.SandboxAttempt++;
        var spec = new PodContainerSpec
        {
            PodUid = rec.Uid,
            Namespace = Json.Namespace(pod) ?? "default",
            PodName = Json.Name(pod),
            ContainerName = SandboxName,
            NodeName = Name,
            Attempt = attempt,
            Image = "",
            Sandbox = true,
            IpcMode = Json.Bool(pod, "spec", "hostIPC") == true ? "host" : "",
            UsernsMode = Json.Bool(pod, "spec", "hostUsers") == false ? "auto" : "",
            Hostname = Json.Str(pod, "spec", "hostname") ?? Json.Name(pod),
            Network = Options.Network,
            Labels = ImmutableDictionary<string, string>.Empty
                .Add(PodUidLabel, rec.Uid)
                .Add(ContainerLabel, SandboxName)
                .Add(AttemptLabel, attempt.ToString(CultureInfo.InvariantCulture))
                .Add("io.kubernetes.pod.name", Json.Name(pod))
                .Add("io.kubernetes.pod.namespace", Json.Namespace(pod) ?? "default"),
        };
        string id = await runtime.StartAsync(spec, cancellationToken).ConfigureAwait(false);
        rec.SandboxId = id;
        rec.PodIP = runtime.Inspect(id)?.IPAddress;
        WatchSandbox(key, rec, id);
    }

    /// <summary>Where the pods' directories are (one string for every record: each pod's is made when asked for).</summary>
    private string PodsDirectory => podsDirectory ??= Path.Combine(Options.DataDirectory, "pods");

    private string? podsDirectory;

    private void WatchSandbox(string podKey, PodRecord rec, string id) => SyncWhenExits(podKey, id, () => rec.SandboxId == id);

    private void Watch(string podKey, ContainerRecord cr, string id) => SyncWhenExits(podKey, id, () => cr.Id == id);

    /// <summary>Queues the pod's sync when container <paramref name="id"/> exits, if it is still the one <paramref name="current"/> says.</summary>
    /// <remarks>A continuation, not an async lambda's state machine: one of these waits for every container of the node.</remarks>
    private void SyncWhenExits(string podKey, string id, Func<bool> current)
    {
        // on the pool: a runtime's wait may look the container up first (the engine reads its state), not on this sync's thread
        _ = Task.Run(() => runtime.WaitAsync(id, stop.Token)).ContinueWith(
            static (t, state) =>
            {
                var (agent, podKey, current) = ((NodeAgent, string, Func<bool>))state!;
                if (t.IsCompletedSuccessfully && current())
                {
                    agent.Queue.Add(podKey);
                }

                _ = t.Exception; // observed: an agent stopping or a runtime failing to wait is not an unobserved task exception
            },
            (this, podKey, current),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }
}
