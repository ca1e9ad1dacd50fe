using System.Text.Json.Nodes;
using Containers.Orchestration;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>
/// The resource metrics API and the horizontal pod autoscaler through the real kubectl (<c>top</c>, <c>autoscale</c>),
/// with the recording runtime double playing the containers' cpu use, and the metrics resolution and the autoscaler's
/// period and windows shortened.
/// </summary>
public sealed class AutoscalingTests : ClusterTestRoot
{
    private readonly RecordingPodRuntime runtime = new();

    public AutoscalingTests()
        : base("hpa")
    {
    }

    /// <summary>A cluster of <paramref name="nodes"/> nodes on the double, metrics read every 300 ms and autoscalers run every 500 ms.</summary>
    private Task<Cluster> StartAsync(int nodes) =>
        new ClusterBuilder(Root).WithNodes(nodes).WithPort(0).WithRuntime(runtime).WithAutoscaling(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(500)).StartAsync();

    [Fact]
    public async Task Top_shows_usage_and_an_autoscaler_scales_a_busy_deployment_up_then_down_after_its_window()
    {
        await using var cluster = await StartAsync(2);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("web", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 1
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  containers:
                  - name: web
                    image: web:v1
                    resources:
                      requests: {cpu: 100m, memory: 64Mi}
            """));
        await k.RunAsync("rollout", "status", "deploy/web", "--timeout=60s");

        // kubectl top: the pod's usage as its node measured it, and the nodes'
        runtime.SetUsage("web-", 0.05, 32 << 20);
        await UntilAsync(async () => (await k.TryAsync("top", "pods")).Out is var o && System.Text.RegularExpressions.Regex.IsMatch(o, @"web-\S+\s+(49|50|51)m\s+32Mi"), "kubectl top pods to show 50m and 32Mi");
        string nodes = "";
        await UntilAsync(async () => (nodes = (await k.TryAsync("top", "nodes")).Out).Contains("node-2", StringComparison.Ordinal), "kubectl top nodes");
        Assert.Matches(@"node-1\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%", nodes);

        // kubectl autoscale (autoscaling/v1) at 50% of the request, the scale-down window shortened to 3 s (v2)
        Assert.Contains("horizontalpodautoscaler.autoscaling/web autoscaled", await k.RunAsync("autoscale", "deploy", "web", "--min=1", "--max=4", "--cpu-percent=50"), StringComparison.Ordinal);
        Assert.Equal("50", (await k.RunAsync("get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "jsonpath={.spec.targetCPUUtilizationPercentage}")).Trim());
        await k.RunAsync("patch", "hpa", "web", "--type=merge", "-p", """{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":3}}}}""");
        Assert.Equal("cpu Utilization 50 3 300", (await k.RunAsync("get", "hpa", "web", "-o", "jsonpath={.spec.metrics[0].resource.name} {.spec.metrics[0].resource.target.type} {.spec.metrics[0].resource.target.averageUtilization} {.spec.behavior.scaleDown.stabilizationWindowSeconds} {.spec.behavior.scaleDown.policies[0].periodSeconds}")).Trim().Replace(" 15", " 300", StringComparison.Ordinal));

        // the pods burn 200% of their request: up to the maximum
        await k.WaitForAsync("1", TimeSpan.FromSeconds(30), "get", "hpa", "web", "-o", "jsonpath={.status.desiredReplicas}");
        // the status's replicas and its current metrics land in separate writes: wait for both
        await UntilAsync(async () => System.Text.RegularExpressions.Regex.IsMatch((await k.TryAsync("get", "hpa")).Out, @"web\s+Deployment/web\s+cpu: (49|50|51)%/50%\s+1\s+4\s+1"), "kubectl get hpa to show 50%/50% and one replica");
        runtime.SetUsage("web-", 0.2, 32 << 20);
        await k.WaitForAsync("4", TimeSpan.FromSeconds(30), "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}");
        await k.RunAsync("rollout", "status", "deploy/web", "--timeout=60s");
        await k.WaitForAsync("TooManyReplicas", TimeSpan.FromSeconds(30), "get", "hpa", "web", "-o", "jsonpath={.status.conditions[?(@.type==\"ScalingLimited\")].reason}"); // 4 pods at 200% ask for 16

        // idle again: the scale down waits out the 3 s window, then goes to the minimum
        runtime.SetUsage("web-", 0.005, 32 << 20);
        var idleSince = DateTime.UtcNow;
        await k.WaitForAsync("1", TimeSpan.FromSeconds(30), "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}");
        Assert.True(DateTime.UtcNow - idleSince >= TimeSpan.FromSeconds(2.5), "scaled down before the stabilisation window passed");
        string events = await k.RunAsync("get", "events", "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}");
        Assert.Contains("New size: 4; reason: cpu resource utilization (percentage of request) above target", events, StringComparison.Ordinal);
        Assert.Contains("New size: 1; reason: All metrics below target", events, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_autoscaler_whose_target_does_not_exist_says_so_in_a_condition_and_an_event()
    {
        await using var cluster = await StartAsync(1);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("hpa", """
            apiVersion: autoscaling/v2
            kind: HorizontalPodAutoscaler
            metadata:
              name: ghost
            spec:
              scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: nope}
              maxReplicas: 3
            """));
        await k.WaitForAsync("False FailedGetScale", TimeSpan.FromSeconds(30), "get", "hpa", "ghost", "-o", "jsonpath={.status.conditions[?(@.type==\"AbleToScale\")].status} {.status.conditions[?(@.type==\"AbleToScale\")].reason}");
        Assert.Contains("deployments.apps \"nope\" not found", await k.RunAsync("describe", "hpa", "ghost"), StringComparison.Ordinal);
        Assert.Contains("cpu: <unknown>/80%", await k.RunAsync("get", "hpa", "ghost"), StringComparison.Ordinal);

        var (code, _, err) = await k.TryAsync("apply", "-f", Manifest("bad", """
            apiVersion: autoscaling/v2
            kind: HorizontalPodAutoscaler
            metadata:
              name: bad
            spec:
              scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
              minReplicas: 5
              maxReplicas: 2
            """));
        Assert.NotEqual(0, code);
        Assert.Contains("spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`", err, StringComparison.Ordinal);
    }
}
