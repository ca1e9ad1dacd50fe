using Containers.Orchestration;
using Containers.Tests;

namespace Containers.Tests.Orchestration;

/// <summary>NetworkPolicies, StatefulSet pod names and the metrics API on real pods (engine containers on the pod network), through the real kubectl.</summary>
public sealed class NetworkPolicyTests
{
    private const string Pods = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: server
          labels: {app: server}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: web
            image: web:v1
            command: ["sh", "-c", "echo open > /tmp/index.html && httpd -p 9090 -h /tmp && exec httpd -f -p 8080 -h /tmp"]
            ports:
            - {containerPort: 8080, name: http}
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: client
          labels: {role: client}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: sh
            image: web:v1
            command: ["sleep", "3600"]
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: stranger
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: sh
            image: web:v1
            command: ["sleep", "3600"]
        """;

    [Fact]
    public async Task A_default_deny_policy_blocks_and_an_allow_rule_opens_one_port_to_one_peer()
    {
        await using var te = new TestEngine();
        var cluster = await StartAsync(te, "10.206.0.0/16", "10.207.0.0/16");
        try
        {
            var k = new Kubectl(cluster.KubeconfigPath);
            string dir = Path.Combine(te.Root, "manifests");
            Directory.CreateDirectory(dir);
            await File.WriteAllTextAsync(Path.Combine(dir, "pods.yaml"), Pods);
            await k.RunAsync("apply", "-f", Path.Combine(dir, "pods.yaml"));
            await k.RunAsync("wait", "--for=condition=Ready", "pod/server", "pod/client", "pod/stranger", "--timeout=60s");
            string ip = (await k.RunAsync("get", "pod", "server", "-o", "jsonpath={.status.podIP}")).Trim();

            async Task<bool> ReachesAsync(string from, int port)
            {
                // busybox's wget -T crashes (SIGSEGV) in this build: timeout bounds it instead
                var (code, output, _) = await k.TryAsync("exec", from, "--", "timeout", "3", "wget", "-qO-", $"http://{ip}:{port}/");
                return code == 0 && output.Trim() == "open";
            }

            Assert.True(await ReachesAsync("client", 8080));
            Assert.True(await ReachesAsync("stranger", 9090));

            // default deny: nothing reaches the server
            await File.WriteAllTextAsync(Path.Combine(dir, "deny.yaml"), """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata:
                  name: default-deny
                spec:
                  podSelector: {}
                  policyTypes: [Ingress]
                """);
            await k.RunAsync("apply", "-f", Path.Combine(dir, "deny.yaml"));
            await UntilAsync(async () => !await ReachesAsync("client", 8080), "the default deny to block the client");
            Assert.False(await ReachesAsync("stranger", 9090));

            // allow: the client, on the named port http (8080) only
            await File.WriteAllTextAsync(Path.Combine(dir, "allow.yaml"), """
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata:
                  name: clients-to-http
                spec:
                  podSelector:
                    matchLabels: {app: server}
                  ingress:
                  - from:
                    - podSelector:
                        matchLabels: {role: client}
                    ports:
                    - port: http
                """);
            await k.RunAsync("apply", "-f", Path.Combine(dir, "allow.yaml"));
            await UntilAsync(() => ReachesAsync("client", 8080), "the allow rule to open port 8080 to the client");
            Assert.False(await ReachesAsync("client", 9090));
            Assert.False(await ReachesAsync("stranger", 8080));
            Assert.Matches(@"clients-to-http\s+app=server", await k.RunAsync("get", "netpol"));

            // the policies deleted: open again
            await k.RunAsync("delete", "netpol", "--all");
            await UntilAsync(() => ReachesAsync("stranger", 9090), "the server open again");
        }
        finally
        {
            await ClusterAcceptanceTests.RemoveAsync(cluster, te);
        }
    }

    [Fact]
    public async Task A_statefulset_pod_is_found_by_its_dns_name_and_kubectl_top_reads_its_cgroup()
    {
        await using var te = new TestEngine();
        var cluster = await StartAsync(te, "10.208.0.0/16", "10.209.0.0/16");
        try
        {
            var k = new Kubectl(cluster.KubeconfigPath);
            string path = Path.Combine(te.Root, "db.yaml");
            await File.WriteAllTextAsync(path, """
                apiVersion: v1
                kind: Service
                metadata:
                  name: db
                spec:
                  clusterIP: None
                  selector: {app: db}
                  ports:
                  - port: 8080
                ---
                apiVersion: apps/v1
                kind: StatefulSet
                metadata:
                  name: db
                spec:
                  serviceName: db
                  replicas: 2
                  selector:
                    matchLabels: {app: db}
                  template:
                    metadata:
                      labels: {app: db}
                    spec:
                      terminationGracePeriodSeconds: 1
                      containers:
                      - name: db
                        image: web:v1
                        command: ["sh", "-c", "hostname > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
                        resources:
                          requests: {cpu: 100m, memory: 32Mi}
                """);
            await k.RunAsync("apply", "-f", path);
            await k.WaitForAsync("2", TimeSpan.FromSeconds(60), "get", "sts", "db", "-o", "jsonpath={.status.readyReplicas}");

            // db-0 asks for db-1 by its stable name, and reaches it
            string ip = (await k.RunAsync("get", "pod", "db-1", "-o", "jsonpath={.status.podIP}")).Trim();
            await k.WaitForAsync("db-1", TimeSpan.FromSeconds(30), "exec", "db-0", "--", "timeout", "3", "wget", "-qO-", "http://db-1.db.default.svc.cluster.local:8080/");
            Assert.Contains(ip, (await k.RunAsync("exec", "db-0", "--", "nslookup", "db-1.db.default.svc.cluster.local")), StringComparison.Ordinal);

            // kubectl top: the pods' usage as read from their cgroups (a running httpd's memory is never zero, if under 1 MiB)
            string top = "";
            await UntilAsync(async () => (top = (await k.TryAsync("top", "pods")).Out).Contains("db-1", StringComparison.Ordinal), "kubectl top pods to list db-1");
            Assert.Matches(@"db-0\s+\d+m\s+\d+Mi", top);
            var raw = System.Text.Json.Nodes.JsonNode.Parse(await k.RunAsync("get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/db-0"))!;
            Assert.Matches(@"^[1-9]\d*Ki$", Containers.Orchestration.Api.Json.Str(Containers.Orchestration.Api.Json.Items(raw, "containers").Single(), "usage", "memory"));
        }
        finally
        {
            await ClusterAcceptanceTests.RemoveAsync(cluster, te);
        }
    }

    /// <summary>A one-node cluster of real containers on <paramref name="te"/>, with the test images and its own networks (metrics read every second).</summary>
    private static async Task<Cluster> StartAsync(TestEngine te, string podSubnet, string serviceCidr)
    {
        await ClusterAcceptanceTests.ImportImagesAsync(te);
        return await Cluster.StartAsync(new ClusterOptions
        {
            Root = te.Root,
            Engine = te.Options with { MonitorCommand = ClusterAcceptanceTests.MonitorCommand() },
            Nodes = 1,
            Port = 0,
            PodSubnet = podSubnet,
            ServiceCidr = serviceCidr,
            MetricsResolution = TimeSpan.FromSeconds(1),
        });
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !await condition(); await Task.Delay(200))
        {
            Assert.True(DateTime.UtcNow < deadline, "waited for " + what);
        }
    }
}
