using System.Diagnostics;
using System.Text.Json.Nodes;
using Containers.Orchestration;
using Containers.Orchestration.Api;
using Containers.Tests.Orchestration;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Benchmarks;

/// <summary>
/// <c>jobs-complete JOBS COMPLETIONS NODES [DIR]</c>: the control plane and NODES node agents on the recording runtime
/// double; creates JOBS Jobs of COMPLETIONS completions each (parallelism as many), makes every container the double
/// starts exit 0 at once, and times until every Job is Complete. Prints the time, CPU, and the live heap then.
/// </summary>
internal static class JobsComplete
{
    public static async Task<int> RunAsync(int jobs, int completions, int nodes, string? dir)
    {
        string root = Path.Combine(dir ?? "/dev/shm", "jobs-complete-" + Environment.ProcessId);
        var runtime = new RecordingPodRuntime();
        var jobType = ResourceType.Find("batch", "jobs")!;
        try
        {
            await using var cluster = await new ClusterBuilder(root).WithNodes(nodes).WithPort(0).WithRuntime(runtime)
                .WithNodeCapacity("640", "2560Gi").StartAsync().ConfigureAwait(false);
            var complete = new HashSet<string>(StringComparer.Ordinal);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var stop = new CancellationTokenSource();
            var watch = Task.Run(async () =>
            {
                await foreach (var (_, job) in cluster.WatchAsync(jobType, null, stop.Token).ConfigureAwait(false))
                {
                    if (KJson.Items(job, "status", "conditions").Any(c => KJson.Str(c, "type") == "Complete") && complete.Add(KJson.Uid(job)) && complete.Count == jobs)
                    {
                        done.TrySetResult();
                    }
                }
            });

            // the workloads: every container the double starts ends at once, successfully
            var exits = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    foreach (var spec in runtime.Running)
                    {
                        if (runtime.Find(spec.PodName, spec.ContainerName) is { } id)
                        {
                            runtime.Exit(id, 0);
                        }
                    }

                    await Task.Delay(10).ConfigureAwait(false);
                }
            });
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            for (int j = 0; j < jobs; j++)
            {
                const string Template = """
                    {"metadata":{"name":"job-J"},"spec":{"completions":C,"parallelism":C,
                     "template":{"spec":{"restartPolicy":"Never","automountServiceAccountToken":false,"containers":[{"name":"work","image":"worker:v1","resources":{"requests":{"cpu":"10m","memory":"16Mi"}}}]}}}}
                    """;
                string json = Template.Replace("job-J", $"job-{j}", StringComparison.Ordinal).Replace(":C", $":{completions}", StringComparison.Ordinal);
                cluster.Api.Create(jobType, "default", JsonNode.Parse(json)!.AsObject());
            }

            var created = sw.Elapsed;
            if (await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromMinutes(10))).ConfigureAwait(false) != done.Task)
            {
                Console.WriteLine($"timed out: {complete.Count} of {jobs} jobs complete after {sw.Elapsed.TotalSeconds:F1} s");
                return 1;
            }

            var elapsed = sw.Elapsed;
            var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            await stop.CancelAsync().ConfigureAwait(false);
            long live = GC.GetTotalMemory(forceFullCollection: true);
            var (items, _) = cluster.Api.List(jobType);
            long succeeded = items.Sum(j => KJson.Int(j, "status", "succeeded") ?? 0);
            Console.WriteLine($"{jobs} jobs of {completions} completions on {nodes} nodes: created in {created.TotalMilliseconds:F0} ms, all Complete after {elapsed.TotalMilliseconds:F0} ms; CPU {used.TotalSeconds:F1} s");
            Console.WriteLine($"containers started by the double: {runtime.Started}; succeeded counted: {succeeded}; store writes {cluster.Api.Revision}; live heap after a full collection {live / (1024 * 1024)} MiB; peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MiB");
            return succeeded == (long)jobs * completions ? 0 : 1;
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
