using System.Text.Json.Nodes;
using Containers.Orchestration;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>
/// Placements through the real kubectl on three nodes run by the recording runtime double: a controller's pods are
/// spread over the nodes by how many of its own pods each runs (not by other controllers' pods), and pods with a node
/// selector or nodes with a taint take the full filters.
/// </summary>
public sealed class SchedulerTests : ClusterTestRoot
{
    public SchedulerTests()
        : base("scheduler")
    {
    }

    private static string ReplicaSet(string name, int replicas, string extra = "") => $$"""
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata:
          name: {{name}}
        spec:
          replicas: {{replicas}}
          selector:
            matchLabels: {app: {{name}}}
          template:
            metadata:
              labels: {app: {{name}}}
            spec:
              {{extra}}containers:
              - name: c
                image: {{name}}:v1
        """;

    /// <summary>How many pods of app <paramref name="app"/> each node runs (node → count), once all are placed.</summary>
    private static async Task<Dictionary<string, int>> PlacedAsync(Kubectl k, string app, int expected)
    {
        Dictionary<string, int> counts = [];
        await UntilAsync(async () =>
        {
            var list = JsonNode.Parse(await k.RunAsync("get", "pods", "-l", $"app={app}", "-o", "json"))!;
            var nodes = KJson.Items(list, "items").Select(p => KJson.Str(p, "spec", "nodeName")).ToList();
            counts = nodes.OfType<string>().GroupBy(n => n).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            return nodes.Count == expected && nodes.All(n => n is not null);
        }, $"{expected} pods of {app} placed");
        return counts;
    }

    [Fact]
    public async Task A_controllers_pods_spread_by_its_own_count_per_node_and_selectors_and_taints_still_filter()
    {
        await using var cluster = await new ClusterBuilder(Root).WithNodes(3).WithPort(0).WithRuntime(new RecordingPodRuntime()).StartAsync(CancellationToken.None);
        var k = new Kubectl(cluster.KubeconfigPath);

        // three pods of another controller crowd node-1 (a node selector: the full filters)
        await k.RunAsync("apply", "-f", Manifest("crowd", ReplicaSet("crowd", 3, "nodeSelector: {kubernetes.io/hostname: node-1}\n      ")));
        Assert.Equal(new Dictionary<string, int> { ["node-1"] = 3 }, await PlacedAsync(k, "crowd", 3));

        // no requests: only the spreading tells the nodes apart; one of web's pods per node, node-1 included, as
        // kube-scheduler spreads a controller's pods by its own pods on each node
        await k.RunAsync("apply", "-f", Manifest("web", ReplicaSet("web", 3)));
        Assert.Equal(new Dictionary<string, int> { ["node-1"] = 1, ["node-2"] = 1, ["node-3"] = 1 }, await PlacedAsync(k, "web", 3));
        await k.RunAsync("scale", "rs", "web", "--replicas=6");
        Assert.Equal(new Dictionary<string, int> { ["node-1"] = 2, ["node-2"] = 2, ["node-3"] = 2 }, await PlacedAsync(k, "web", 6));

        // a NoSchedule taint keeps new pods off node-3
        await k.RunAsync("taint", "nodes", "node-3", "dedicated=db:NoSchedule");
        await Task.Delay(1000); // the scheduler sees the node change (a watch event)
        await k.RunAsync("scale", "rs", "web", "--replicas=9");
        var after = await PlacedAsync(k, "web", 9);
        Assert.Equal(2, after["node-3"]);
        Assert.Equal(7, after["node-1"] + after["node-2"]);
        Assert.InRange(after["node-1"], 3, 4);
    }
}
