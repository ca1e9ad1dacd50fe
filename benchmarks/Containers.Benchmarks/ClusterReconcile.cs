using System.Diagnostics;
using System.Runtime;
using System.Text.Json.Nodes;
using Containers.Orchestration;
using Containers.Orchestration.Api;
using KJson = Containers.Orchestration.Api.Json;
using Containers.Tests.Orchestration;

namespace Containers.Benchmarks;

/// <summary>
/// <c>cluster-reconcile PODS NODES [DIR]</c>: the control plane (store, API, controllers, scheduler) and NODES node
/// agents on <see cref="RecordingPodRuntime"/>, the benchmark double of the container runtime (it only records), apply
/// Deployments totalling PODS replicas (100 per Deployment) and time until every pod reports Running. Prints the time,
/// the pods' stored size, and the process's peak working set.
/// </summary>
internal static class ClusterReconcile
{
    public static async Task<int> RunAsync(int pods, int nodes, string? dir)
    {
        string root = Path.Combine(dir ?? "/dev/shm", "cluster-reconcile-" + Environment.ProcessId);
        var runtime = new RecordingPodRuntime();
        // CLUSTER_RECONCILE_NO_TOKEN=1: pods without the service-account token volume (what that volume costs)
        bool noToken = Environment.GetEnvironmentVariable("CLUSTER_RECONCILE_NO_TOKEN") is "1";
        using var sampler = Environment.GetEnvironmentVariable("CLUSTER_RECONCILE_ALLOCATIONS") is not null ? new AllocationSampler() : null;
        try
        {
            var builder = new ClusterBuilder(root).WithNodes(nodes).WithPort(0).WithRuntime(runtime).WithNodeCapacity("64", "256Gi");
            if (Environment.GetEnvironmentVariable("CLUSTER_RECONCILE_ETCD") is { Length: > 0 } etcd)
            {
                builder = Containers.Orchestration.Storage.EtcdCluster.WithEtcd(builder, etcd.Split(','), $"/bench-{Environment.ProcessId}/registry", minimumThreadPoolThreads: 128); // CLUSTER_RECONCILE_ETCD=URLS: the objects in etcd
            }

            await using var cluster = await builder.StartAsync().ConfigureAwait(false);
            int running = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var created = new HashSet<string>(StringComparer.Ordinal);
            var bound = new HashSet<string>(StringComparer.Ordinal);
            TimeSpan allCreated = default, allBound = default;
            var sw = new Stopwatch();
            using var stop = new CancellationTokenSource();
            var watch = Task.Run(async () =>
            {
                await foreach (var (_, pod) in cluster.WatchAsync(ResourceType.Pods, null, stop.Token).ConfigureAwait(false))
                {
                    string uid = KJson.Uid(pod);
                    if (created.Add(uid) && created.Count == pods)
                    {
                        allCreated = sw.Elapsed;
                    }

                    if (KJson.Str(pod, "spec", "nodeName") is not null && bound.Add(uid) && bound.Count == pods)
                    {
                        allBound = sw.Elapsed;
                    }

                    if (KJson.Str(pod, "status", "phase") == "Running" && seen.Add(uid) && ++running == pods)
                    {
                        done.TrySetResult();
                    }
                }
            });
            sw.Start();
            int perDeployment = Math.Min(100, pods);
            for (int d = 0; d * perDeployment < pods; d++)
            {
                int replicas = Math.Min(perDeployment, pods - (d * perDeployment));
                const string Template = """
                    {"metadata":{"name":"app-D"},"spec":{"replicas":R,"selector":{"matchLabels":{"app":"app-D"}},
                     "template":{"metadata":{"labels":{"app":"app-D"}},"spec":{"containers":[{"name":"app","image":"web:v1","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}}}
                    """;
                string json = Template.Replace("app-D", $"app-{d}", StringComparison.Ordinal).Replace("\"replicas\":R", $"\"replicas\":{replicas}", StringComparison.Ordinal);
                if (noToken)
                {
                    json = json.Replace("\"spec\":{\"containers\"", "\"spec\":{\"automountServiceAccountToken\":false,\"containers\"", StringComparison.Ordinal);
                }

                cluster.Api.Create(ResourceType.Deployments, "default", JsonNode.Parse(json)!.AsObject());
            }

            var applied = sw.Elapsed;
            if (await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromMinutes(5))).ConfigureAwait(false) != done.Task)
            {
                Console.WriteLine($"timed out: {running} of {pods} pods running after {sw.Elapsed.TotalSeconds:F1} s");
                return 1;
            }

            var elapsed = sw.Elapsed;
            await stop.CancelAsync().ConfigureAwait(false);

            // as of all Running: before the listing below adds its own 10,000 parsed pods
            string gcLine = $"GC: {GC.CollectionCount(0)} gen0, {GC.CollectionCount(1)} gen1, {GC.CollectionCount(2)} gen2, paused {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms, allocated {GC.GetTotalAllocatedBytes() / (1024 * 1024)} MiB; CPU {Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds:F1} s ({(GCSettings.IsServerGC ? "server" : "workstation")} GC)";
            long live = GC.GetTotalMemory(forceFullCollection: true);

            // and at rest: the parses of objects no longer in use are let go after a period or two (StoredObject.RecentParses)
            await Task.Delay(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
            long rest = GC.GetTotalMemory(forceFullCollection: true);
            if (Environment.GetEnvironmentVariable("CLUSTER_RECONCILE_HOLD") is not null)
            {
                Console.WriteLine($"holding for a heap dump (pid {Environment.ProcessId}): press Enter");
                Console.ReadLine();
            }

            var (items, _) = cluster.Api.List(ResourceType.Pods);
            if (Environment.GetEnvironmentVariable("CLUSTER_RECONCILE_SHOW_POD") is not null)
            {
                Console.WriteLine(items[0].ToJsonString());
            }

            long bytes = items.Sum(p => (long)KJson.Bytes(p).Length);
            var perNode = items.GroupBy(p => KJson.Str(p, "spec", "nodeName")).Select(g => g.Count()).ToList();
            if (Environment.GetEnvironmentVariable("CLUSTER_RECONCILE_SHOW_POD") is not null)
            {
                Console.WriteLine(string.Join(" ", items.GroupBy(p => KJson.Str(p, "spec", "nodeName")).Select(g => $"{g.Key}={g.Count()}")));
                Console.WriteLine(string.Join(" ", items.GroupBy(p => (KJson.At(p, "metadata", "ownerReferences") as System.Text.Json.Nodes.JsonArray)?[0]?["name"]?.ToString()).Select(g => $"owner:{g.Key}={g.Count()}")));
            }

            Console.WriteLine($"{pods} pods on {nodes} nodes: applied in {applied.TotalMilliseconds:F0} ms, all created after {allCreated.TotalMilliseconds:F0} ms, all scheduled after {allBound.TotalMilliseconds:F0} ms, all Running after {elapsed.TotalMilliseconds:F0} ms");
            Console.WriteLine($"pod object: {bytes / Math.Max(1, items.Count)} bytes on average (JSON as stored, with status); pods per node {perNode.Min()}-{perNode.Max()}");
            Console.WriteLine($"store writes: {cluster.Api.Revision} ({(double)cluster.Api.Revision / pods:F1} per pod)");
            Console.WriteLine($"pods created in all: {created.Count}; containers started by the double: {runtime.Started}, running {runtime.Running.Count}; peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB");
            Console.WriteLine(gcLine);
            Console.WriteLine($"live heap when all were Running, after a full collection: {live / (1024 * 1024)} MiB ({live / pods} bytes per pod; the store, the informers' parsed objects, the node agents and this benchmark's own sets of uids)");
            Console.WriteLine($"live heap 3 s later, at rest: {rest / (1024 * 1024)} MiB ({rest / pods} bytes per pod)");
            if (sampler is not null)
            {
                foreach (var (type, sampled) in sampler.Top(30))
                {
                    Console.WriteLine($"  allocated {sampled / (1024 * 1024),6} MiB  {type}");
                }
            }

            if (created.Count != pods || runtime.Started != pods)
            {
                Console.WriteLine($"FAILED: {created.Count} pods created and {runtime.Started} containers started for {pods} replicas (a controller acted twice)");
                return 1;
            }

            return 0;
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }
}
