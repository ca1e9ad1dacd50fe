using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// A node's usage in the kubelet's Summary API shape (<c>GET /stats/summary</c> on the node endpoint): the node's cpu
/// and memory, and each pod's with its containers', as metrics-server scraped kubelets for it. Made from and read into
/// <see cref="ResourceMetrics"/>.
/// </summary>
internal static class NodeSummary
{
    /// <summary>The summary of node <paramref name="node"/> from what its agent published here, or null when it published nothing.</summary>
    public static JsonObject? Of(ResourceMetrics metrics, string node)
    {
        if (metrics.Node(node) is not { } total)
        {
            return null;
        }

        var pods = new JsonArray();
        foreach (var p in metrics.Pods().Where(p => p.Node == node))
        {
            pods.Add((JsonNode)new JsonObject
            {
                ["podRef"] = new JsonObject { ["name"] = p.Name, ["namespace"] = p.Namespace },
                ["startTime"] = Json.Time(p.Timestamp - p.Window),
                ["cpu"] = Usage(p.Timestamp, p.CpuNanoCores, null),
                ["memory"] = Usage(p.Timestamp, null, p.MemoryBytes),
                ["containers"] = new JsonArray([.. p.Containers.Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c.Name,
                    ["cpu"] = Usage(p.Timestamp, c.CpuNanoCores, null),
                    ["memory"] = Usage(p.Timestamp, null, c.MemoryBytes),
                })]),
                ["windowSeconds"] = p.Window.TotalSeconds,
            });
        }

        return new JsonObject
        {
            ["node"] = new JsonObject
            {
                ["nodeName"] = node,
                ["cpu"] = Usage(total.Timestamp, total.CpuNanoCores, null),
                ["memory"] = Usage(total.Timestamp, null, total.MemoryBytes),
                ["windowSeconds"] = total.Window.TotalSeconds,
            },
            ["pods"] = pods,
        };

        static JsonObject Usage(DateTimeOffset at, long? cpu, long? memory) => cpu is { } c
            ? new JsonObject { ["time"] = Json.Time(at), ["usageNanoCores"] = c }
            : new JsonObject { ["time"] = Json.Time(at), ["workingSetBytes"] = memory };
    }

    /// <summary>Publishes a summary another machine's node endpoint answered into <paramref name="metrics"/>, as that node's.</summary>
    public static void Publish(ResourceMetrics metrics, JsonNode summary)
    {
        string node = Json.Str(summary, "node", "nodeName") ?? throw new FormatException("a summary without node.nodeName");
        var nodeAt = Time(summary, "node");
        var window = TimeSpan.FromSeconds(Json.Read(summary, "node", "windowSeconds")?.GetValue<double>() ?? 15);
        var samples = new List<ResourceMetrics.PodSample>();
        foreach (var p in Json.ReadItems(summary, "pods"))
        {
            var containers = Json.ReadItems(p, "containers").Select(c => new ResourceMetrics.ContainerSample(
                Json.Str(c, "name") ?? "", Json.Int(c, "cpu", "usageNanoCores") ?? 0, Json.Int(c, "memory", "workingSetBytes") ?? 0)).ToList();
            samples.Add(new ResourceMetrics.PodSample(Json.Str(p, "podRef", "namespace") ?? "default", Json.Str(p, "podRef", "name") ?? "", node,
                Time(p, "cpu"), TimeSpan.FromSeconds(Json.Read(p, "windowSeconds")?.GetValue<double>() ?? window.TotalSeconds), containers));
        }

        metrics.Publish(node, samples, new ResourceMetrics.NodeSample(node, nodeAt, window, Json.Int(summary, "node", "cpu", "usageNanoCores") ?? 0, Json.Int(summary, "node", "memory", "workingSetBytes") ?? 0));

        static DateTimeOffset Time(JsonNode? at, string part) =>
            DateTimeOffset.TryParse(Json.Str(at, part, "time"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : DateTimeOffset.UtcNow;
    }
}

/// <summary>
/// metrics-server's part for nodes on other machines: every resolution period, an API server reads the Summary of each
/// node that no agent of this process runs from that node's endpoint (its InternalIP, the kubelet port) and publishes it
/// here, so <c>kubectl top</c> and the autoscaler see pods on machines that joined. A node that does not answer three
/// times in a row is forgotten until it answers again.
/// </summary>
internal sealed class MetricsScraper : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly Task running;

    private MetricsScraper(ObjectApi api, Func<string, bool> local, HttpMessageInvoker client, TimeSpan every, ILogger logger)
    {
        running = Task.Run(() => RunAsync(api, local, client, every, logger, stop.Token));
    }

    /// <summary>Starts scraping the nodes for which <paramref name="local"/> is false, every <paramref name="every"/>, with <paramref name="client"/> (the API server's kubelet client certificate).</summary>
    public static MetricsScraper Start(ObjectApi api, Func<string, bool> local, HttpMessageInvoker client, TimeSpan every, ILogger logger) => new(api, local, client, every, logger);

    private static async Task RunAsync(ObjectApi api, Func<string, bool> local, HttpMessageInvoker client, TimeSpan every, ILogger logger, CancellationToken token)
    {
        var failures = new Dictionary<string, int>(StringComparer.Ordinal);
        using var timer = new PeriodicTimer(every);
        do
        {
            foreach (var node in api.List(ResourceType.Nodes).Items)
            {
                string name = Json.Name(node);
                bool here;
                try
                {
                    here = local(name);
                }
                catch (InvalidOperationException)
                {
                    continue; // the machine's own nodes are being added: looked at next time
                }

                if (here || NodeServer.EndpointOf(node) is not { } endpoint)
                {
                    continue;
                }

                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint, $"/stats/summary?node={Uri.EscapeDataString(name)}"));
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5));
                    using var response = await client.SendAsync(request, timeout.Token).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        NodeSummary.Publish(api.Metrics, JsonNode.Parse(await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false))!);
                        failures.Remove(name);
                        continue;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or OperationCanceledException or FormatException or System.Text.Json.JsonException && !token.IsCancellationRequested)
                {
                    logger.LogDebug("metrics of node {Node} at {Address}: {Message}", name, endpoint, e.Message);
                }

                if ((failures[name] = failures.GetValueOrDefault(name) + 1) >= 3)
                {
                    api.Metrics.Forget(name);
                }
            }
        }
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false));
    }

    /// <inheritdoc/>
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

        stop.Dispose();
    }
}
