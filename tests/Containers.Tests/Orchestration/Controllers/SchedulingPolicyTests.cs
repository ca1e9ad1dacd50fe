using System.Text.Json.Nodes;
using Containers.Orchestration.Controllers;

namespace Containers.Tests.Orchestration.Controllers;

/// <summary>The scheduler's filters and scores as kube-scheduler's plugins: tables of node, pod, verdict.</summary>
public sealed class SchedulingPolicyTests
{
    private static SchedulingNode Node(string extra = "", string allocatable = "{\"cpu\":\"2\",\"memory\":\"4Gi\",\"pods\":\"110\"}", bool ready = true) =>
        SchedulingNode.Of(JsonNode.Parse(
            "{\"metadata\":{\"name\":\"n\",\"labels\":{\"disk\":\"ssd\"}},\"spec\":{" + extra + "},\"status\":{\"allocatable\":" + allocatable
            + ",\"conditions\":[{\"type\":\"Ready\",\"status\":\"" + (ready ? "True" : "False") + "\"}]}}")!.AsObject());

    private static SchedulingPod Pod(string spec = "") =>
        SchedulingPod.Of(JsonNode.Parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"" + spec + "}]}}")!.AsObject());

    private static SchedulingPod PodWith(string podSpec) =>
        SchedulingPod.Of(JsonNode.Parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]," + podSpec + "}}")!.AsObject());

    [Fact]
    public void A_pod_fits_a_ready_node_with_room() => Assert.Null(SchedulingPolicy.Filter(Pod(), Node(), new NodeUsage()));

    [Fact]
    public void A_node_that_is_not_ready_is_filtered() =>
        Assert.Equal("node(s) were not ready", SchedulingPolicy.Filter(Pod(), Node(ready: false), new NodeUsage()));

    [Theory]
    [InlineData("", "node(s) were unschedulable")]
    [InlineData(""" "tolerations":[{"key":"node.kubernetes.io/unschedulable","operator":"Exists","effect":"NoSchedule"}] """, null)]
    public void A_cordoned_node_takes_only_pods_that_tolerate_it(string podSpec, string? verdict) =>
        Assert.Equal(verdict, SchedulingPolicy.Filter(podSpec.Length == 0 ? Pod() : PodWith(podSpec), Node(""" "unschedulable":true """), new NodeUsage()));

    [Theory]
    [InlineData("", "node(s) had untolerated taint {gpu: yes}")]
    [InlineData(""" "tolerations":[{"key":"gpu","operator":"Equal","value":"yes","effect":"NoSchedule"}] """, null)]
    [InlineData(""" "tolerations":[{"key":"gpu","operator":"Exists"}] """, null)]
    [InlineData(""" "tolerations":[{"operator":"Exists"}] """, null)]
    [InlineData(""" "tolerations":[{"key":"gpu","operator":"Equal","value":"no","effect":"NoSchedule"}] """, "node(s) had untolerated taint {gpu: yes}")]
    [InlineData(""" "tolerations":[{"key":"gpu","operator":"Exists","effect":"NoExecute"}] """, "node(s) had untolerated taint {gpu: yes}")]
    public void Taints_are_tolerated_as_kubernetes_matches_them(string podSpec, string? verdict) =>
        Assert.Equal(verdict, SchedulingPolicy.Filter(podSpec.Length == 0 ? Pod() : PodWith(podSpec), Node(""" "taints":[{"key":"gpu","value":"yes","effect":"NoSchedule"}] """), new NodeUsage()));

    [Theory]
    [InlineData(""" "nodeSelector":{"disk":"ssd"} """, null)]
    [InlineData(""" "nodeSelector":{"disk":"hdd"} """, "node(s) didn't match Pod's node affinity/selector")]
    [InlineData(""" "nodeSelector":{"zone":"a"} """, "node(s) didn't match Pod's node affinity/selector")]
    public void A_node_selector_must_match_the_nodes_labels(string podSpec, string? verdict) =>
        Assert.Equal(verdict, SchedulingPolicy.Filter(PodWith(podSpec), Node(), new NodeUsage()));

    [Theory]
    [InlineData(""","resources":{"requests":{"cpu":"500m"}}""", 1500, 0, null)]
    [InlineData(""","resources":{"requests":{"cpu":"501m"}}""", 1500, 0, "Insufficient cpu")]
    [InlineData(""","resources":{"limits":{"cpu":"3"}}""", 0, 0, "Insufficient cpu")] // requests default to limits
    [InlineData(""","resources":{"requests":{"memory":"1Gi"}}""", 0, 3221225472L, null)]
    [InlineData(""","resources":{"requests":{"memory":"1Gi"}}""", 0, 3221225473L, "Insufficient memory")]
    [InlineData("", 2000, 4294967296L, null)] // a pod without requests fits a full node
    public void Requests_must_fit_what_is_left(string containerSpec, long usedCpu, long usedMemory, string? verdict) =>
        Assert.Equal(verdict, SchedulingPolicy.Filter(Pod(containerSpec), Node(), new NodeUsage { Cpu = usedCpu, Memory = usedMemory }));

    [Fact]
    public void A_node_holds_at_most_its_pod_count() =>
        Assert.Equal("Too many pods", SchedulingPolicy.Filter(Pod(), Node(allocatable: """{"cpu":"2","memory":"4Gi","pods":"3"}"""), new NodeUsage { Pods = 3 }));

    [Fact]
    public void The_score_prefers_the_least_allocated_node_then_spreads_a_controllers_pods()
    {
        var pod = Pod(""","resources":{"requests":{"cpu":"100m","memory":"128Mi"}}""");
        var node = Node();
        double Score(long usedCpu, long usedMemory, int pods, int siblings) =>
            SchedulingPolicy.Score(pod.Cpu, pod.Memory, node.ScoreCpu, node.ScoreMemory, usedCpu, usedMemory, pods, siblings);
        Assert.True(Score(0, 0, 0, 0) > Score(1000, 2L << 30, 5, 0));
        Assert.True(Score(0, 0, 0, 0) > Score(0, 0, 0, 1)); // a node without the controller's pods first
        Assert.True(Score(100, 128L << 20, 1, 0) > Score(0, 0, 0, 1)); // spreading outweighs one more small pod's load
    }

    [Theory]
    [InlineData(3, 3)]
    [InlineData(99, 99)]
    [InlineData(100, 100)]
    [InlineData(200, 100)] // 49% is 98: at least 100
    [InlineData(1000, 420)] // 50% less 8%
    [InlineData(5000, 500)] // 10%, kube-scheduler's documented example
    [InlineData(20000, 1000)] // at least 5%
    public void A_placement_scores_as_many_feasible_nodes_as_kube_schedulers_adaptive_percentage(int nodes, int scored) =>
        Assert.Equal(scored, Scheduler.FeasibleNodesToFind(nodes));
}
