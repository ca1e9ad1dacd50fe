using System.Globalization;

namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// The resource metrics API (metrics.k8s.io/v1beta1, as metrics-server serves it): PodMetrics and NodeMetrics, read
/// only (get, list), made from <see cref="ResourceMetrics"/> on each request and never stored: cpu in nanocores,
/// memory in Ki, the sample's timestamp and window. <c>kubectl top pods|nodes</c> reads them.
/// </summary>
internal abstract class MetricsStrategy : KindStrategy
{
    private const string Group = "metrics.k8s.io";

    /// <summary>PodMetrics.</summary>
    public static ResourceType Pods { get; } = new(Group, "v1beta1", "PodMetrics", "pods", true) { Strategy = new PodMetricsStrategy() };

    /// <summary>NodeMetrics.</summary>
    public static ResourceType Nodes { get; } = new(Group, "v1beta1", "NodeMetrics", "nodes", false) { Strategy = new NodeMetricsStrategy() };

    /// <inheritdoc/>
    public override bool Virtual => true;

    /// <inheritdoc/>
    public override bool DeleteCollection => false;

    /// <inheritdoc/>
    public override IReadOnlyList<string>? Verbs => ["get", "list"];

    /// <summary>The PodMetrics of a sample (labels from <paramref name="pod"/>, when it is known).</summary>
    public static JsonObject Of(ResourceMetrics.PodSample s, JsonObject? pod) => new()
    {
        ["kind"] = "PodMetrics",
        ["apiVersion"] = Group + "/v1beta1",
        ["metadata"] = Meta(s.Name, s.Namespace, s.Timestamp, pod),
        ["timestamp"] = Json.Time(s.Timestamp),
        ["window"] = Window(s.Window),
        ["containers"] = new JsonArray([.. s.Containers.Select(c => (JsonNode)new JsonObject
        {
            ["name"] = c.Name,
            ["usage"] = Usage(c.CpuNanoCores, c.MemoryBytes),
        })]),
    };

    /// <summary>The NodeMetrics of a sample (labels from <paramref name="node"/>, when it is known).</summary>
    public static JsonObject Of(ResourceMetrics.NodeSample s, JsonObject? node) => new()
    {
        ["kind"] = "NodeMetrics",
        ["apiVersion"] = Group + "/v1beta1",
        ["metadata"] = Meta(s.Name, null, s.Timestamp, node),
        ["timestamp"] = Json.Time(s.Timestamp),
        ["window"] = Window(s.Window),
        ["usage"] = Usage(s.CpuNanoCores, s.MemoryBytes),
    };

    /// <summary>A list of metrics (PodMetricsList, NodeMetricsList).</summary>
    public static JsonObject List(ResourceType type, IEnumerable<JsonObject> items) => new()
    {
        ["kind"] = type.Kind + "List",
        ["apiVersion"] = Group + "/v1beta1",
        ["metadata"] = new JsonObject(),
        ["items"] = new JsonArray([.. items]),
    };

    private static JsonObject Meta(string name, string? ns, DateTimeOffset at, JsonObject? source)
    {
        var meta = new JsonObject { ["name"] = name };
        if (ns is not null)
        {
            meta["namespace"] = ns;
        }

        meta["creationTimestamp"] = Json.Time(at);
        if (Json.At(source, "metadata", "labels") is JsonObject labels)
        {
            meta["labels"] = labels.DeepClone();
        }

        return meta;
    }

    private static JsonObject Usage(long cpuNanoCores, long memoryBytes) => new()
    {
        ["cpu"] = cpuNanoCores.ToString(CultureInfo.InvariantCulture) + "n",
        ["memory"] = (memoryBytes / 1024).ToString(CultureInfo.InvariantCulture) + "Ki",
    };

    private static string Window(TimeSpan window) =>
        window.TotalSeconds >= 1 ? $"{window.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)}s" : $"{(long)window.TotalMilliseconds}ms";
}

/// <summary>PodMetrics: see <see cref="MetricsStrategy"/>.</summary>
internal sealed class PodMetricsStrategy : MetricsStrategy;

/// <summary>NodeMetrics: see <see cref="MetricsStrategy"/>.</summary>
internal sealed class NodeMetricsStrategy : MetricsStrategy;
