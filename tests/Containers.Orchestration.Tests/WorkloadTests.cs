using System.Text.Json.Nodes;
using Containers.Orchestration;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>
/// DaemonSets, StatefulSets and PodDisruptionBudgets through the real kubectl, with the recording runtime double on
/// the nodes: nodes join, are tainted and drained, pods are deleted, sets are scaled, updated and rolled back.
/// </summary>
public sealed class WorkloadTests : ClusterTestRoot
{
    private readonly RecordingPodRuntime runtime = new();

    public WorkloadTests()
        : base("workloads")
    {
    }

    private Task<Cluster> StartAsync(int nodes) => new ClusterBuilder(Root).WithNodes(nodes).WithPort(0).WithRuntime(runtime).StartAsync(CancellationToken.None);

    /// <summary>The node of each pod of the DaemonSet (pod name → node), from the API.</summary>
    private static async Task<Dictionary<string, string>> DaemonsAsync(Kubectl k, string selector)
    {
        var list = JsonNode.Parse(await k.RunAsync("get", "pods", "-l", selector, "-o", "json"))!;
        return KJson.Items(list, "items").Where(p => !KJson.Has(p, "metadata", "deletionTimestamp"))
            .ToDictionary(p => KJson.Name(p), p => KJson.Str(p, "spec", "nodeName") ?? "");
    }

    private const string Agent = """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: agent
        spec:
          selector:
            matchLabels: {app: agent}
          template:
            metadata:
              labels: {app: agent}
            spec:
              containers:
              - name: agent
                image: agent:v1
        """;

    [Fact]
    public async Task A_daemonset_follows_a_node_that_joins_and_one_that_is_tainted()
    {
        await using var cluster = await StartAsync(2);
        var k = new Kubectl(cluster.KubeconfigPath);
        Assert.Contains("daemonset.apps/agent created", await k.RunAsync("apply", "-f", Manifest("agent", Agent)), StringComparison.Ordinal);
        await k.RunAsync("rollout", "status", "ds/agent", "--timeout=60s");
        Assert.Equal(["node-1", "node-2"], (await DaemonsAsync(k, "app=agent")).Values.Order(StringComparer.Ordinal));

        // a node joins: it gets its daemon
        await cluster.AddNodeAsync("node-3");
        await UntilAsync(async () => (await DaemonsAsync(k, "app=agent")).Values.Contains("node-3"), "a daemon on node-3");
        await k.WaitForAsync("3 3", TimeSpan.FromSeconds(30), "get", "ds", "agent", "-o", "jsonpath={.status.desiredNumberScheduled} {.status.numberReady}");

        // NoSchedule leaves the daemon where it runs; NoExecute takes it away; lifting the taint brings it back
        await k.RunAsync("taint", "nodes", "node-2", "dedicated=db:NoSchedule");
        await Task.Delay(500);
        Assert.Contains("node-2", (await DaemonsAsync(k, "app=agent")).Values);
        await k.RunAsync("taint", "nodes", "node-2", "dedicated=db:NoExecute");
        await UntilAsync(async () => !(await DaemonsAsync(k, "app=agent")).Values.Contains("node-2"), "the daemon to leave node-2");
        await k.WaitForAsync("2 2", TimeSpan.FromSeconds(30), "get", "ds", "agent", "-o", "jsonpath={.status.desiredNumberScheduled} {.status.currentNumberScheduled}");
        await k.RunAsync("taint", "nodes", "node-2", "dedicated-");
        await UntilAsync(async () => (await DaemonsAsync(k, "app=agent")).Values.Contains("node-2"), "the daemon back on node-2");

        // a nodeSelector narrows it to labelled nodes
        await k.RunAsync("label", "nodes", "node-3", "disk=ssd");
        await k.RunAsync("patch", "ds", "agent", "--type=merge", "-p", """{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}""");
        await UntilAsync(async () => (await DaemonsAsync(k, "app=agent")).Values.SequenceEqual(["node-3"]), "one daemon, on node-3");
        await k.RunAsync("rollout", "status", "ds/agent", "--timeout=60s");
        await k.WaitForAsync("1 1", TimeSpan.FromSeconds(30), "get", "ds", "agent", "-o", "jsonpath={.status.updatedNumberScheduled} {.status.numberAvailable}");
        string table = await k.RunAsync("get", "ds", "agent");
        Assert.Matches(@"agent\s+1\s+1\s+1\s+1\s+1\s+disk=ssd", table);
    }

    [Fact]
    public async Task A_daemonset_rolls_out_node_by_node_and_back_and_drain_ignores_its_pods_only_when_told()
    {
        await using var cluster = await StartAsync(3);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("agent", Agent));
        await k.RunAsync("rollout", "status", "ds/agent", "--timeout=60s");
        var first = await DaemonsAsync(k, "app=agent");

        // v2 replaces the pods one node at a time (maxUnavailable 1): never two nodes without a daemon
        await k.RunAsync("set", "image", "ds/agent", "agent=agent:v2");
        int worst = 0;
        while (true)
        {
            var pods = JsonNode.Parse(await k.RunAsync("get", "pods", "-l", "app=agent", "-o", "json"))!;
            var live = KJson.Items(pods, "items").Where(p => !KJson.Has(p, "metadata", "deletionTimestamp")).ToList();
            worst = Math.Max(worst, 3 - live.Count);
            if (live.Count == 3 && live.All(p => KJson.Str(KJson.Items(p, "spec", "containers").First(), "image") == "agent:v2")
                && live.All(p => KJson.Items(p, "status", "conditions").Any(c => KJson.Str(c, "type") == "Ready" && KJson.Str(c, "status") == "True")))
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.InRange(worst, 0, 1);
        Assert.Contains("successfully rolled out", await k.RunAsync("rollout", "status", "ds/agent", "--timeout=60s"), StringComparison.Ordinal);
        Assert.Empty((await DaemonsAsync(k, "app=agent")).Keys.Intersect(first.Keys));
        string history = await k.RunAsync("rollout", "history", "ds/agent");
        Assert.Matches(@"(?m)^1\s+<none>\s*$", history);
        Assert.Matches(@"(?m)^2\s+<none>\s*$", history);

        // undo: back to v1, as revision 3
        Assert.Contains("rolled back", await k.RunAsync("rollout", "undo", "ds/agent"), StringComparison.Ordinal);
        await UntilAsync(async () =>
        {
            var images = await k.RunAsync("get", "pods", "-l", "app=agent", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}");
            return images.Split('\n', StringSplitOptions.RemoveEmptyEntries) is { Length: 3 } all && all.All(i => i == "agent:v1");
        }, "the pods back on v1");
        await k.RunAsync("rollout", "status", "ds/agent", "--timeout=60s");
        history = await k.RunAsync("rollout", "history", "ds/agent");
        Assert.Matches(@"(?m)^2\s+<none>\s*$", history);
        Assert.Matches(@"(?m)^3\s+<none>\s*$", history);
        Assert.DoesNotMatch(@"(?m)^1\s", history);
        Assert.Matches(@"Image:\s+agent:v2", await k.RunAsync("rollout", "history", "ds/agent", "--revision=2"));

        // drain: refused while daemon pods are there, unless told to leave them
        var (code, _, err) = await k.TryAsync("drain", "node-1", "--timeout=30s");
        Assert.NotEqual(0, code);
        Assert.Contains("cannot delete DaemonSet-managed Pods", err, StringComparison.Ordinal);
        string drained = await k.RunAsync("drain", "node-1", "--ignore-daemonsets", "--timeout=60s");
        Assert.Contains("node/node-1 drained", drained, StringComparison.Ordinal);
        Assert.Contains("node-1", (await DaemonsAsync(k, "app=agent")).Values); // the daemon tolerates the cordon
    }

    [Fact]
    public async Task A_daemonset_with_a_bad_update_strategy_or_template_is_refused_naming_the_field()
    {
        await using var cluster = await StartAsync(1);
        var k = new Kubectl(cluster.KubeconfigPath);
        var (code, _, err) = await k.TryAsync("apply", "-f", Manifest("bad", Agent.Replace("  template:", "  updateStrategy:\n    rollingUpdate: {maxUnavailable: 0, maxSurge: 0}\n  template:", StringComparison.Ordinal)));
        Assert.NotEqual(0, code);
        Assert.Contains("spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0", err, StringComparison.Ordinal);
        (code, _, err) = await k.TryAsync("apply", "-f", Manifest("bad2", Agent.Replace("labels: {app: agent}", "labels: {app: other}", StringComparison.Ordinal)));
        Assert.NotEqual(0, code);
        Assert.Contains("`selector` does not match template `labels`", err, StringComparison.Ordinal);
        Assert.Contains("No resources found", (await k.TryAsync("get", "ds")).Err, StringComparison.Ordinal);
    }

    private const string Web = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          clusterIP: None
          selector: {app: web}
          ports:
          - port: 80
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: web
        spec:
          serviceName: web
          replicas: 3
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: nginx
                image: web:v1
                volumeMounts:
                - name: data
                  mountPath: /data
          volumeClaimTemplates:
          - metadata:
              name: data
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: 1Gi
        """;

    [Fact]
    public async Task A_statefulset_comes_up_in_order_and_web_1_keeps_its_name_address_and_claim()
    {
        await using var cluster = await StartAsync(2);
        var k = new Kubectl(cluster.KubeconfigPath);

        // the pods as they are created, in order
        var created = new List<string>();
        var deleting = new List<string>();
        using var stop = new CancellationTokenSource();
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var (type, obj) in cluster.WatchAsync(Containers.Orchestration.Api.ResourceType.Pods, "default", stop.Token))
                {
                    lock (created)
                    {
                        if (type == "ADDED")
                        {
                            created.Add(KJson.Name(obj));
                        }
                        else if (KJson.Has(obj, "metadata", "deletionTimestamp") && (deleting.Count == 0 || deleting[^1] != KJson.Name(obj)))
                        {
                            deleting.Add(KJson.Name(obj));
                        }
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        await k.RunAsync("apply", "-f", Manifest("web", Web));
        Assert.Contains("roll out complete: 3 new pods have been updated", await k.RunAsync("rollout", "status", "sts/web", "--timeout=60s"), StringComparison.Ordinal);
        await k.WaitForAsync("3/3", TimeSpan.FromSeconds(30), "get", "sts", "web", "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas}");
        lock (created)
        {
            Assert.Equal(["web-0", "web-1", "web-2"], created.Take(3));
        }

        // one claim per pod, bound, each pod mounting its own
        Assert.Equal("data-web-0 data-web-1 data-web-2", (await k.RunAsync("get", "pvc", "-o", "jsonpath={.items[*].metadata.name}")).Trim());
        await k.WaitForAsync("Bound Bound Bound", TimeSpan.FromSeconds(30), "get", "pvc", "-o", "jsonpath={.items[*].status.phase}");
        Assert.Equal("data-web-1", (await k.RunAsync("get", "pod", "web-1", "-o", "jsonpath={.spec.volumes[?(@.name==\"data\")].persistentVolumeClaim.claimName}")).Trim());
        Assert.Equal("web-1 web", (await k.RunAsync("get", "pod", "web-1", "-o", "jsonpath={.spec.hostname} {.spec.subdomain}")).Trim());
        string volume = (await k.RunAsync("get", "pvc", "data-web-1", "-o", "jsonpath={.spec.volumeName}")).Trim();

        // the headless Service names each pod: web-1.web.default.svc.cluster.local
        await k.WaitForAsync("web-0 web-1 web-2", TimeSpan.FromSeconds(30), "get", "endpoints", "web", "-o", "jsonpath={.subsets[0].addresses[*].hostname}");
        Assert.Equal("web-1", runtime.Running.First(s => s.PodName == "web-1").Hostname);

        // web-1 deleted: made again under its name, on its claim
        string uid = (await k.RunAsync("get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}")).Trim();
        await k.RunAsync("delete", "pod", "web-1", "--wait=false"); // the double stops containers at once: web-1 may be back before kubectl's wait starts watching
        await UntilAsync(async () => (await k.TryAsync("get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}")).Out.Trim() is { Length: > 0 } u && u != uid, "web-1 again");
        await k.WaitForAsync("3/3", TimeSpan.FromSeconds(30), "get", "sts", "web", "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas}");
        Assert.Equal("data-web-1", (await k.RunAsync("get", "pod", "web-1", "-o", "jsonpath={.spec.volumes[?(@.name==\"data\")].persistentVolumeClaim.claimName}")).Trim());
        Assert.Equal(volume, (await k.RunAsync("get", "pvc", "data-web-1", "-o", "jsonpath={.spec.volumeName}")).Trim());

        // scale to 1: web-2 goes before web-1, and the claims stay
        await k.RunAsync("scale", "sts", "web", "--replicas=1");
        await UntilAsync(async () => (await k.RunAsync("get", "pods", "-l", "app=web", "-o", "name")).Trim() == "pod/web-0", "only web-0");
        Assert.Equal("data-web-0 data-web-1 data-web-2", (await k.RunAsync("get", "pvc", "-o", "jsonpath={.items[*].metadata.name}")).Trim());
        lock (created)
        {
            Assert.Equal(["web-1", "web-2", "web-1"], deleting); // the test's delete, then the scale down from the top
        }

        Assert.Contains("delete Pod web-2 in StatefulSet web successful", await k.RunAsync("get", "events", "--field-selector", "involvedObject.name=web"), StringComparison.Ordinal);

        await stop.CancelAsync();
        await watching;
    }

    [Fact]
    public async Task A_statefulset_rolls_from_the_highest_ordinal_down_to_its_partition_and_its_claims_go_with_it_when_told()
    {
        await using var cluster = await StartAsync(1);
        var k = new Kubectl(cluster.KubeconfigPath);
        string manifest = Web.Replace("  replicas: 3", "  replicas: 3\n  podManagementPolicy: Parallel\n  persistentVolumeClaimRetentionPolicy: {whenDeleted: Delete, whenScaled: Delete}\n  updateStrategy:\n    rollingUpdate: {partition: 1}", StringComparison.Ordinal);
        await k.RunAsync("apply", "-f", Manifest("web", manifest));
        await k.WaitForAsync("3/3", TimeSpan.FromSeconds(30), "get", "sts", "web", "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas}");

        await k.RunAsync("set", "image", "sts/web", "nginx=web:v2");
        await k.RunAsync("rollout", "status", "sts/web", "--timeout=60s");
        await k.WaitForAsync("web:v1 web:v2 web:v2", TimeSpan.FromSeconds(30), "get", "pods", "web-0", "web-1", "web-2", "-o", "jsonpath={.items[*].spec.containers[0].image}");
        Assert.Equal("2", (await k.RunAsync("get", "sts", "web", "-o", "jsonpath={.status.updatedReplicas}")).Trim());

        // the partition lowered to 0: web-0 too
        await k.RunAsync("patch", "sts", "web", "-p", """{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}""");
        await k.WaitForAsync("web:v2 web:v2 web:v2", TimeSpan.FromSeconds(30), "get", "pods", "web-0", "web-1", "web-2", "-o", "jsonpath={.items[*].spec.containers[0].image}");
        await k.RunAsync("rollout", "status", "sts/web", "--timeout=60s");
        var status = JsonNode.Parse(await k.RunAsync("get", "sts", "web", "-o", "json"))!;
        Assert.Equal(KJson.Str(status, "status", "updateRevision"), KJson.Str(status, "status", "currentRevision"));

        // whenScaled: Delete: web-2's claim goes with it; whenDeleted: Delete: the rest go with the set
        await k.RunAsync("scale", "sts", "web", "--replicas=2");
        await k.WaitForAsync("data-web-0 data-web-1", TimeSpan.FromSeconds(30), "get", "pvc", "-o", "jsonpath={.items[*].metadata.name}");
        await k.RunAsync("delete", "sts", "web", "--wait=true");
        await k.WaitForAsync("", TimeSpan.FromSeconds(30), "get", "pvc,pods", "-o", "name");
    }

    [Fact]
    public async Task A_statefulset_whose_selector_does_not_match_its_template_or_that_changes_a_fixed_field_is_refused()
    {
        await using var cluster = await StartAsync(1);
        var k = new Kubectl(cluster.KubeconfigPath);
        var (code, _, err) = await k.TryAsync("apply", "-f", Manifest("bad", Web.Replace("matchLabels: {app: web}", "matchLabels: {app: db}", StringComparison.Ordinal)));
        Assert.NotEqual(0, code);
        Assert.Contains("spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`", err, StringComparison.Ordinal);
        Assert.Contains("No resources found", (await k.TryAsync("get", "sts,pvc,pods")).Err, StringComparison.Ordinal);

        await k.RunAsync("apply", "-f", Manifest("web", Web));
        (code, _, err) = await k.TryAsync("patch", "sts", "web", "-p", """{"spec":{"serviceName":"other"}}""");
        Assert.NotEqual(0, code);
        Assert.Contains("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drain_waits_on_a_disruption_budget_and_succeeds_once_replicas_are_added()
    {
        await using var cluster = await StartAsync(2);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("web", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web
            spec:
              replicas: 2
              selector:
                matchLabels: {app: web}
              template:
                metadata:
                  labels: {app: web}
                spec:
                  containers:
                  - name: web
                    image: web:v1
            ---
            apiVersion: policy/v1
            kind: PodDisruptionBudget
            metadata:
              name: web
            spec:
              minAvailable: 2
              selector:
                matchLabels: {app: web}
            """));
        await k.RunAsync("rollout", "status", "deploy/web", "--timeout=60s");
        await k.WaitForAsync("0 2 2 2", TimeSpan.FromSeconds(30), "get", "pdb", "web", "-o", "jsonpath={.status.disruptionsAllowed} {.status.currentHealthy} {.status.desiredHealthy} {.status.expectedPods}");
        Assert.Matches(@"web\s+2\s+N/A\s+0", await k.RunAsync("get", "pdb"));
        var pods = JsonNode.Parse(await k.RunAsync("get", "pods", "-l", "app=web", "-o", "json"))!;
        var first = KJson.Items(pods, "items").First();
        string node = KJson.Str(first, "spec", "nodeName")!;

        // the eviction subresource refuses while the budget allows no disruption
        var refused = Assert.Throws<Containers.Orchestration.Api.ApiException>(() => cluster.Api.Evict("default", KJson.Name(first)));
        Assert.Equal(429, refused.Code);
        Assert.Equal("Cannot evict pod as it would violate the pod's disruption budget.", refused.Message);
        Assert.Equal("The disruption budget web needs 2 healthy pods and has 2 currently", KJson.Str(KJson.Items(refused.ToStatus(), "details", "causes").Single(), "message"));

        // drain retries the eviction until a third replica makes room
        var drain = k.TryAsync("drain", node, "--timeout=90s");
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(drain.IsCompleted, "drain finished while the budget allowed no disruption");
        await k.RunAsync("scale", "deploy", "web", "--replicas=3");
        var (code, output, error) = await drain;
        Assert.True(code == 0, error + output);
        Assert.Contains("Cannot evict pod as it would violate the pod's disruption budget.", error, StringComparison.Ordinal);
        Assert.Contains($"node/{node} drained", output, StringComparison.Ordinal);
        await k.WaitForAsync("3", TimeSpan.FromSeconds(30), "get", "deploy", "web", "-o", "jsonpath={.status.availableReplicas}");
        Assert.DoesNotContain(node, await k.RunAsync("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}"), StringComparison.Ordinal);

        // a budget with both bounds is refused, naming them
        var (bad, _, err) = await k.TryAsync("apply", "-f", Manifest("bad", """
            apiVersion: policy/v1
            kind: PodDisruptionBudget
            metadata:
              name: both
            spec:
              minAvailable: 1
              maxUnavailable: 50%
              selector:
                matchLabels: {app: web}
            """));
        Assert.NotEqual(0, bad);
        Assert.Contains("minAvailable and maxUnavailable cannot be both set", err, StringComparison.Ordinal);
    }
}
