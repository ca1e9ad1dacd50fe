using System.Diagnostics;
using System.Text.Json.Nodes;
using Containers.Orchestration;
using Containers.Orchestration.Api;
using Containers.Tests.Orchestration;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Benchmarks;

/// <summary>
/// <c>statefulset-up REPLICAS NODES [DIR]</c> and <c>daemonset-up NODES [DIR]</c>: the control plane and NODES node
/// agents on the recording runtime double; creates one StatefulSet of REPLICAS pods in Parallel mode, each with a
/// claim of its own, or one DaemonSet, and times until every pod is Running and Ready (readyReplicas, numberReady).
/// Prints the time, CPU, store writes and the live heap then.
/// </summary>
internal static class WorkloadsUp
{
    public static async Task<int> RunAsync(string kind, int replicas, int nodes, string? dir)
    {
        string root = Path.Combine(dir ?? "/dev/shm", "workloads-up-" + Environment.ProcessId);
        var runtime = new RecordingPodRuntime();
        bool stateful = kind == "statefulset";
        var type = ResourceType.Find("apps", stateful ? "statefulsets" : "daemonsets")!;
        int want = stateful ? replicas : nodes;
        try
        {
            await using var cluster = await new ClusterBuilder(root).WithNodes(nodes).WithPort(0).WithRuntime(runtime)
                .WithNodeCapacity("640", "2560Gi").StartAsync().ConfigureAwait(false);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var stop = new CancellationTokenSource();
            var watch = Task.Run(async () =>
            {
                await foreach (var (_, set) in cluster.WatchAsync(type, null, stop.Token).ConfigureAwait(false))
                {
                    if ((KJson.Int(set, "status", stateful ? "readyReplicas" : "numberReady") ?? 0) == want)
                    {
                        done.TrySetResult();
                    }
                }
            });
            string json = stateful
                ? """
                  {"metadata":{"name":"db"},"spec":{"replicas":R,"podManagementPolicy":"Parallel","serviceName":"db","selector":{"matchLabels":{"app":"db"}},
                   "template":{"metadata":{"labels":{"app":"db"}},"spec":{"automountServiceAccountToken":false,"containers":[{"name":"db","image":"db:v1","resources":{"requests":{"cpu":"10m","memory":"16Mi"}},"volumeMounts":[{"name":"data","mountPath":"/data"}]}]}},
                   "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}
                  """.Replace(":R,", $":{replicas},", StringComparison.Ordinal)
                : """
                  {"metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"agent"}},
                   "template":{"metadata":{"labels":{"app":"agent"}},"spec":{"automountServiceAccountToken":false,"containers":[{"name":"agent","image":"agent:v1","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}}}
                  """;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            long writes = cluster.Api.Revision;
            var sw = Stopwatch.StartNew();
            cluster.Api.Create(type, "default", JsonNode.Parse(json)!.AsObject());
            if (await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromMinutes(10))).ConfigureAwait(false) != done.Task)
            {
                Console.WriteLine($"timed out after {sw.Elapsed.TotalSeconds:F1} s");
                return 1;
            }

            var elapsed = sw.Elapsed;
            var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            await stop.CancelAsync().ConfigureAwait(false);
            long live = GC.GetTotalMemory(forceFullCollection: true);
            Console.WriteLine($"one {type.Kind} of {want} pods on {nodes} nodes: all Ready after {elapsed.TotalMilliseconds:F0} ms; CPU {used.TotalSeconds:F1} s; store writes {cluster.Api.Revision - writes} ({(double)(cluster.Api.Revision - writes) / want:F1} per pod)");
            Console.WriteLine($"containers started by the double: {runtime.Started}; live heap after a full collection {live / (1024 * 1024)} MiB; peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB");
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
