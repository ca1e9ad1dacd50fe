using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// The node's part of the resource metrics pipeline (the kubelet's resource metrics, scraped as metrics-server does):
/// every resolution period, reads each running container's cgroup usage through the runtime, turns the cpu time used
/// since the last reading into a rate, and publishes the pods' samples and the node's total to
/// <see cref="ResourceMetrics"/>. A container read for the first time has no rate yet; its pod is published from the
/// next period on.
/// </summary>
internal sealed class MetricsSampler(IPodRuntime runtime, ResourceMetrics metrics, string node, TimeProvider time, ILogger logger)
{
    private Dictionary<string, (long CpuNanoseconds, DateTimeOffset At)> previous = new(StringComparer.Ordinal);

    /// <summary>Samples every <paramref name="resolution"/> until cancelled; forgets the node's metrics then.</summary>
    public async Task RunAsync(Func<IEnumerable<(string Namespace, string Name, PodRecord Record)>> pods, TimeSpan resolution, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(resolution, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await SampleAsync(pods(), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "sampling resource metrics failed");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            metrics.Forget(node);
        }
    }

    /// <summary>Reads every running container once and publishes the pods whose every container has a rate.</summary>
    public async Task SampleAsync(IEnumerable<(string Namespace, string Name, PodRecord Record)> pods, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var seen = new Dictionary<string, (long, DateTimeOffset)>(StringComparer.Ordinal);
        var samples = new List<ResourceMetrics.PodSample>();
        TimeSpan window = TimeSpan.Zero;
        foreach (var (ns, name, rec) in pods)
        {
            List<ContainerRecord> containers;
            lock (rec.Containers)
            {
                containers = [.. rec.Containers.Where(kv => !kv.Key.StartsWith("init:", StringComparison.Ordinal) && kv.Value.Id is not null).Select(kv => kv.Value)];
            }

            var usage = new List<ResourceMetrics.ContainerSample>();
            bool complete = containers.Count > 0;
            foreach (var c in containers)
            {
                string id = c.Id!;
                if (await runtime.ReadUsageAsync(id, cancellationToken).ConfigureAwait(false) is not { } u)
                {
                    complete = false;
                    continue;
                }

                seen[id] = (u.CpuNanoseconds, now);
                if (previous.TryGetValue(id, out var before) && now > before.At)
                {
                    var elapsed = now - before.At;
                    window = elapsed > window ? elapsed : window;
                    long rate = (long)(Math.Max(0, u.CpuNanoseconds - before.CpuNanoseconds) / elapsed.TotalSeconds);
                    usage.Add(new ResourceMetrics.ContainerSample(c.Name, rate, u.MemoryBytes));
                }
                else
                {
                    complete = false;
                }
            }

            if (complete)
            {
                samples.Add(new ResourceMetrics.PodSample(ns, name, node, now, window, usage));
            }
        }

        previous = seen;
        metrics.Publish(node, samples, new ResourceMetrics.NodeSample(node, now, window, samples.Sum(s => s.CpuNanoCores), samples.Sum(s => s.MemoryBytes)));
    }
}
