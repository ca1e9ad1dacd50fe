using System.Net;
using System.Text;
using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>
/// The control plane through the real kubectl, with the recording runtime double on the nodes (no containers): apply,
/// get, describe, scale, rollouts and rollbacks, drain, node loss, errors in Kubernetes' format, restarts.
/// </summary>
public sealed class ControlPlaneTests : IAsyncLifetime
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "containers-k8s-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly RecordingPodRuntime runtime = new();

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(root);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(root, recursive: true);
        return Task.CompletedTask;
    }

    private Task<Cluster> StartAsync(int nodes = 2, Func<ClusterBuilder, ClusterBuilder>? configure = null)
    {
        var builder = new ClusterBuilder(root).WithNodes(nodes).WithPort(0).WithRuntime(runtime);
        return (configure?.Invoke(builder) ?? builder).StartAsync(CancellationToken.None);
    }

    private string Manifests(string name, string yaml)
    {
        var dir = Path.Combine(root, "manifests-" + name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, name + ".yaml"), yaml);
        return dir;
    }

    private const string Webapp = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: webapp-config
        data:
          db-url: mongo-service
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: mongo-secret
        type: Opaque
        data:
          mongo-user: bW9uZ291c2Vy
          mongo-password: bW9uZ29wYXNzd29yZA==
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: webapp
          labels:
            app: webapp
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: webapp
          template:
            metadata:
              labels:
                app: webapp
            spec:
              containers:
              - name: webapp
                image: web:v1
                ports:
                - containerPort: 3000
                env:
                - name: USER_NAME
                  valueFrom:
                    secretKeyRef:
                      name: mongo-secret
                      key: mongo-user
                - name: DB_URL
                  valueFrom:
                    configMapKeyRef:
                      name: webapp-config
                      key: db-url
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: webapp-service
        spec:
          type: NodePort
          selector:
            app: webapp
          ports:
          - protocol: TCP
            port: 3000
            targetPort: 3000
            nodePort: 30100
        """;

    private static string Deployment(string name, int replicas) => $"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          replicas: {replicas}
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              containers:
              - name: {name}
                image: web:v1
        """;

    /// <summary><c>kubectl rollout status</c>, watching the rollout until it prints its verdict.</summary>
    private static async Task<string> RolloutStatusAsync(Kubectl k, string name, int replicas)
    {
        var status = await k.RunAsync("rollout", "status", "deployment/" + name, "--timeout=60s"); // it must end by itself
        Assert.Contains("successfully rolled out", status, StringComparison.Ordinal);

        // again, finished: its watch sees no change, and kubectl still ends (the watch's headers come at once)
        Assert.Contains("successfully rolled out", await k.RunAsync("rollout", "status", "deployment/" + name, "--timeout=60s"), StringComparison.Ordinal);
        Assert.Equal($"{replicas} {replicas} {replicas}", (await k.RunAsync("get", "deploy", name, "-o", "jsonpath={.status.replicas} {.status.updatedReplicas} {.status.availableReplicas}")).Trim());
        return status;
    }

    [Fact]
    public async Task A_port_in_use_is_an_error_naming_it_and_leaves_the_store_free()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var e = await Assert.ThrowsAsync<ContainerConflictException>(() => new ClusterBuilder(root).WithNodes(1).WithPort(port).WithRuntime(runtime).StartAsync(CancellationToken.None));
        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.Contains("already in use", e.Message, StringComparison.Ordinal);

        // nothing was left holding the store: the same root starts on a free port
        await using var cluster = await StartAsync(nodes: 1);
        Assert.Equal("node-1", (await new Kubectl(cluster.KubeconfigPath).RunAsync("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")).Trim());
    }

    [Fact]
    public async Task A_readiness_probe_is_tried_again_at_once_while_the_container_warms_up_and_counted_after_its_first_period()
    {
        int warmTries = 0, coldTries = 0;
        runtime.ExecExitCode = (spec, _) => spec.PodName switch
        {
            "warm" => Interlocked.Increment(ref warmTries) <= 3 ? 1 : 0, // listens a moment after it starts
            _ => Interlocked.Increment(ref coldTries) > 0 ? 1 : 0, // never ready
        };
        await using var cluster = await StartAsync(nodes: 1);
        var k = new Kubectl(cluster.KubeconfigPath);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await k.RunAsync("apply", "-f", Manifests("probes", """
            apiVersion: v1
            kind: Pod
            metadata: {name: warm}
            spec:
              containers: [{name: app, image: web:v1, readinessProbe: {exec: {command: [check]}, periodSeconds: 10}}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: cold}
            spec:
              containers: [{name: app, image: web:v1, readinessProbe: {exec: {command: [check]}, periodSeconds: 1}}]
            """));
        await k.WaitForAsync("True", TimeSpan.FromSeconds(5), "get", "pod", "warm", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"warm was Ready after {clock.Elapsed}: a whole period (10 s) after its first failed try"); // not 10 s
        Assert.Equal(4, Volatile.Read(ref warmTries));
        // the never-ready one: its first second is warm-up (a handful of quick tries, no event), then one try a period, counted
        await Task.Delay(2500);
        int tries = Volatile.Read(ref coldTries);
        Assert.InRange(tries, 6, 14);
        var events = await k.RunAsync("get", "events", "--field-selector", "involvedObject.name=cold,reason=Unhealthy", "-o", "jsonpath={.items[*].count}");
        Assert.NotEqual("", events.Trim()); // failures after the warm-up are recorded
        Assert.Equal("", (await k.RunAsync("get", "events", "--field-selector", "involvedObject.name=warm,reason=Unhealthy", "-o", "name")).Trim());
        Assert.Equal("False", (await k.RunAsync("get", "pod", "cold", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")).Trim());
    }

    [Fact]
    public async Task The_course_stacks_manifests_wire_their_config_secret_volume_and_node_port()
    {
        await using var cluster = await StartAsync(nodes: 3);
        var k = new Kubectl(cluster.KubeconfigPath);
        var applied = await k.RunAsync("apply", "-f", Path.Combine(AppContext.BaseDirectory, "CourseStack", "k8s"));
        foreach (var made in new[] { "configmap/course-config", "secret/course-secret", "persistentvolumeclaim/database-data", "deployment.apps/database", "service/database", "deployment.apps/backend", "service/backend", "deployment.apps/frontend", "service/frontend" })
        {
            Assert.Contains(made + " created", applied, StringComparison.Ordinal);
        }

        await k.WaitForAsync("Bound", TimeSpan.FromSeconds(30), "get", "pvc", "database-data", "-o", "jsonpath={.status.phase}");
        for (int i = 0; i < 300 && runtime.Running.Count < 5; i++)
        {
            await Task.Delay(100);
        }

        var running = runtime.Running;
        Assert.Equal(["backend", "backend", "database", "frontend", "frontend"], running.Select(s => s.ContainerName).Order(StringComparer.Ordinal));
        foreach (var backend in running.Where(s => s.ContainerName == "backend"))
        {
            Assert.Contains(new KeyValuePair<string, string>("DB_HOST", "database"), backend.Environment);  // envFrom the ConfigMap
            Assert.Contains(new KeyValuePair<string, string>("DB_PORT", "5432"), backend.Environment);
            Assert.Contains(new KeyValuePair<string, string>("DB_PASSWORD", "course-password"), backend.Environment); // the Secret
            Assert.Equal(64L * 1024 * 1024, backend.MemoryLimit);
        }

        var database = Assert.Single(running, s => s.ContainerName == "database");
        Assert.Contains(new KeyValuePair<string, string>("DB_PASSWORD", "course-password"), database.Environment);
        Assert.Contains(database.Mounts, m => m.ContainerPath == "/var/lib/db" && !m.ReadOnly);
        Assert.True(running.Select(s => s.NodeName).Distinct().Count() > 1, "the pods were not spread over the nodes");
        Assert.Equal("NodePort 30100", (await k.RunAsync("get", "svc", "frontend", "-o", "jsonpath={.spec.type} {.spec.ports[0].nodePort}")).Trim());

        // the database's local volume belongs to the node its pod was bound to (local-path's node affinity): with that
        // node cordoned, a new database pod waits rather than starting elsewhere without its data
        string volume = (await k.RunAsync("get", "pvc", "database-data", "-o", "jsonpath={.spec.volumeName}")).Trim();
        Assert.Equal(database.NodeName, (await k.RunAsync("get", "pv", volume, "-o", "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}")).Trim());
        await k.RunAsync("cordon", database.NodeName);
        await k.RunAsync("delete", "pod", "-l", "app=database", "--wait=false");
        await k.WaitForAsync("Pending", TimeSpan.FromSeconds(30), "get", "pods", "-l", "app=database", "--field-selector=status.phase=Pending", "-o", "jsonpath={.items[*].status.phase}");
        string failed = "";
        for (int i = 0; i < 100 && !failed.Contains("volume node affinity conflict", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
            failed = await k.RunAsync("get", "events", "--field-selector=reason=FailedScheduling", "-o", "jsonpath={.items[*].message}");
        }

        Assert.Contains("0/3 nodes are available: 2 node(s) had volume node affinity conflict, 1 node(s) were unschedulable", failed, StringComparison.Ordinal);
        await k.RunAsync("uncordon", database.NodeName);
        await k.WaitForAsync(database.NodeName, TimeSpan.FromSeconds(30), "get", "pods", "-l", "app=database", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].spec.nodeName}");
    }

    [Fact]
    public async Task The_real_stacks_manifests_run_postgres_on_its_claim_and_three_backends_with_config_and_secret_refs()
    {
        await using var cluster = await StartAsync(nodes: 3);
        var k = new Kubectl(cluster.KubeconfigPath);
        var applied = await k.RunAsync("apply", "-f", Path.Combine(AppContext.BaseDirectory, "CourseApp", "k8s"));
        foreach (var made in new[] { "configmap/course-app-config", "secret/course-app-secret", "persistentvolumeclaim/postgres-data", "deployment.apps/database", "deployment.apps/backend", "deployment.apps/frontend", "service/frontend" })
        {
            Assert.Contains(made + " created", applied, StringComparison.Ordinal);
        }

        for (int i = 0; i < 300 && runtime.Running.Count < 6; i++)
        {
            await Task.Delay(100);
        }

        var running = runtime.Running;
        Assert.Equal(["backend", "backend", "backend", "frontend", "frontend", "postgres"], running.Select(s => s.ContainerName).Order(StringComparer.Ordinal));
        foreach (var backend in running.Where(s => s.ContainerName == "backend"))
        {
            Assert.Contains(new KeyValuePair<string, string>("DB_HOST", "database"), backend.Environment); // configMapKeyRef
            Assert.Contains(new KeyValuePair<string, string>("DB_PASSWORD", "course-secret"), backend.Environment); // secretKeyRef
        }

        var postgres = Assert.Single(running, s => s.ContainerName == "postgres");
        Assert.Contains(new KeyValuePair<string, string>("POSTGRES_PASSWORD", "course-secret"), postgres.Environment);
        Assert.Contains(new KeyValuePair<string, string>("POSTGRES_USER", "shop"), postgres.Environment);
        Assert.Contains(postgres.Mounts, m => m.ContainerPath == "/var/lib/postgresql/data" && !m.ReadOnly);
        Assert.Equal("NodePort 30100", (await k.RunAsync("get", "svc", "frontend", "-o", "jsonpath={.spec.type} {.spec.ports[0].nodePort}")).Trim());
    }

    [Fact]
    public async Task Apply_scale_rolling_update_history_and_undo_through_kubectl()
    {
        await using var cluster = await StartAsync();
        var k = new Kubectl(cluster.KubeconfigPath);

        // discovery is complete: every group listed has its resources (kubectl fails on a group listed empty)
        var resources = await k.RunAsync("api-resources");
        Assert.Contains("deployments", resources, StringComparison.Ordinal);
        Assert.Contains("pods", resources, StringComparison.Ordinal);

        var dir = Manifests("webapp", Webapp);
        var applied = await k.RunAsync("apply", "-f", dir);
        Assert.Contains("configmap/webapp-config created", applied, StringComparison.Ordinal);
        Assert.Contains("deployment.apps/webapp created", applied, StringComparison.Ordinal);
        Assert.Contains("service/webapp-service created", applied, StringComparison.Ordinal);
        await k.WaitForAsync("2", TimeSpan.FromSeconds(30), "get", "deploy", "webapp", "-o", "jsonpath={.status.readyReplicas}");

        // the pods got their env from the Secret and the ConfigMap
        var env = runtime.Running.First(s => s.PodName.StartsWith("webapp-", StringComparison.Ordinal)).Environment;
        Assert.Contains(new KeyValuePair<string, string>("USER_NAME", "mongouser"), env);
        Assert.Contains(new KeyValuePair<string, string>("DB_URL", "mongo-service"), env);

        var services = await k.RunAsync("get", "svc", "webapp-service");
        Assert.Contains("3000:30100/TCP", services, StringComparison.Ordinal);
        Assert.Contains("unchanged", await k.RunAsync("apply", "-f", dir), StringComparison.Ordinal);

        await k.RunAsync("scale", "deployment", "webapp", "--replicas=5");
        await k.WaitForAsync("5", TimeSpan.FromSeconds(30), "get", "deploy", "webapp", "-o", "jsonpath={.status.readyReplicas}");
        var pods = await k.RunAsync("get", "pods", "-l", "app=webapp", "-o", "wide", "--no-headers");
        Assert.Equal(5, pods.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("node-1", pods, StringComparison.Ordinal);
        Assert.Contains("node-2", pods, StringComparison.Ordinal); // spread over both nodes

        // pods started after the Service get its variables (as in Kubernetes, not the ones started before it)
        Assert.Contains(runtime.Running, s => s.Environment.Contains(new KeyValuePair<string, string>("WEBAPP_SERVICE_SERVICE_PORT", "3000")));

        await k.RunAsync("set", "image", "deployment/webapp", "webapp=web:v2");
        var status = await RolloutStatusAsync(k, "webapp", 5);
        Assert.Contains("successfully rolled out", status, StringComparison.Ordinal);
        var rs = await k.RunAsync("get", "rs", "-l", "app=webapp", "--no-headers");
        var rsLines = rs.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, rsLines.Length);
        Assert.Contains(rsLines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] == "5");
        Assert.Contains(rsLines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] == "0");
        Assert.All(runtime.Running.Where(s => s.PodName.StartsWith("webapp-", StringComparison.Ordinal)), s => Assert.Equal("web:v2", s.Image));

        var history = await k.RunAsync("rollout", "history", "deployment/webapp");
        Assert.Contains("1 ", history, StringComparison.Ordinal);
        Assert.Contains("2 ", history, StringComparison.Ordinal);
        await k.RunAsync("rollout", "undo", "deployment/webapp");
        await RolloutStatusAsync(k, "webapp", 5);
        Assert.Equal("web:v1", (await k.RunAsync("get", "deploy", "webapp", "-o", "jsonpath={.spec.template.spec.containers[0].image}")).Trim());
        history = await k.RunAsync("rollout", "history", "deployment/webapp");
        Assert.DoesNotContain("\n1 ", history, StringComparison.Ordinal); // revision 1 came back as 3
        Assert.Contains("3 ", history, StringComparison.Ordinal);

        // restart makes a new revision; pause holds a template change back until resume
        await k.RunAsync("rollout", "restart", "deployment/webapp");
        await RolloutStatusAsync(k, "webapp", 5);
        await k.RunAsync("rollout", "pause", "deployment/webapp");
        await k.RunAsync("set", "image", "deployment/webapp", "webapp=web:v3");
        await Task.Delay(500);
        Assert.DoesNotContain(runtime.Running, s => s.Image == "web:v3");
        await k.RunAsync("rollout", "resume", "deployment/webapp");
        await RolloutStatusAsync(k, "webapp", 5);
        Assert.Contains(runtime.Running, s => s.Image == "web:v3");

        var describe = await k.RunAsync("describe", "deployment", "webapp");
        Assert.Contains("5 desired | 5 updated | 5 total | 5 available", describe, StringComparison.Ordinal);
        Assert.Contains("ScalingReplicaSet", describe, StringComparison.Ordinal);
        Assert.Contains("ScalingReplicaSet", await k.RunAsync("get", "events"), StringComparison.Ordinal);
        Assert.Contains("log of", await k.RunAsync("logs", "deployment/webapp"), StringComparison.Ordinal);

        var yaml = await k.RunAsync("get", "deploy", "webapp", "-o", "yaml");
        Assert.Contains("maxSurge: 25%", yaml, StringComparison.Ordinal);
        Assert.Contains("revisionHistoryLimit: 10", yaml, StringComparison.Ordinal);
        Assert.Contains("progressDeadlineSeconds: 600", yaml, StringComparison.Ordinal);

        await k.RunAsync("delete", "-f", dir);
        await k.WaitForAsync("", TimeSpan.FromSeconds(30), "get", "pods,rs", "-l", "app=webapp", "-o", "name");
        Assert.Empty(runtime.Running);
    }

    [Fact]
    public async Task Kubectl_create_and_expose_work_though_they_send_protobuf()
    {
        await using var cluster = await StartAsync(nodes: 1);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("create", "namespace", "course");
        await k.RunAsync("create", "configmap", "settings", "-n", "course", "--from-literal=mode=dev", "--from-literal=level=3");
        await k.RunAsync("create", "secret", "generic", "creds", "-n", "course", "--from-literal=password=s3cret");
        await k.RunAsync("create", "deployment", "web", "-n", "course", "--image=web:v1", "--port=8080", "--replicas=3");
        await k.RunAsync("expose", "deployment", "web", "-n", "course", "--port=80", "--target-port=8080", "--type=NodePort");
        await k.RunAsync("create", "deployment", "sleeper", "-n", "course", "--image=web:v1", "--", "sleep", "3600");
        await k.RunAsync("create", "serviceaccount", "robot", "-n", "course");

        Assert.Equal("dev 3", (await k.RunAsync("get", "cm", "settings", "-n", "course", "-o", "jsonpath={.data.mode} {.data.level}")).Trim());
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("s3cret")) + " Opaque", (await k.RunAsync("get", "secret", "creds", "-n", "course", "-o", "jsonpath={.data.password} {.type}")).Trim());
        await k.WaitForAsync("3", TimeSpan.FromSeconds(30), "get", "deploy", "web", "-n", "course", "-o", "jsonpath={.status.readyReplicas}");
        Assert.Equal("8080 web", (await k.RunAsync("get", "deploy", "web", "-n", "course", "-o", "jsonpath={.spec.template.spec.containers[0].ports[0].containerPort} {.spec.selector.matchLabels.app}")).Trim());
        var svc = await k.RunAsync("get", "svc", "web", "-n", "course", "-o", "jsonpath={.spec.type} {.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.selector.app}");
        Assert.Equal("NodePort 80 8080 web", svc.Trim());
        await k.WaitForAsync("3", TimeSpan.FromSeconds(30), "get", "endpoints", "web", "-n", "course", "-o", "go-template={{len (index .subsets 0).addresses}}");
        Assert.Equal("[\"sleep\",\"3600\"]", (await k.RunAsync("get", "deploy", "sleeper", "-n", "course", "-o", "jsonpath={.spec.template.spec.containers[0].command}")).Trim());
        Assert.Equal("serviceaccount/robot", (await k.RunAsync("get", "sa", "robot", "-n", "course", "-o", "name")).Trim());

        // batch/v1 too (what the protobuf reader does not know is refused with a reason: ProtobufTests)
        Assert.Contains("job.batch/once created", await k.RunAsync("create", "job", "once", "-n", "course", "--image=web:v1"), StringComparison.Ordinal);
        Assert.Equal("Never", (await k.RunAsync("get", "job", "once", "-n", "course", "-o", "jsonpath={.spec.template.spec.restartPolicy}")).Trim());
    }

    [Fact]
    public async Task Bad_input_gets_kubernetes_errors_naming_the_field()
    {
        await using var cluster = await StartAsync(nodes: 1);
        var k = new Kubectl(cluster.KubeconfigPath);
        var dir = Manifests("bad", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: broken
            spec:
              selector:
                matchLabels:
                  app: a
              template:
                metadata:
                  labels:
                    app: b
                spec:
                  containers:
                  - name: c
            """);
        var (exit, _, err) = await k.TryAsync("apply", "-f", dir);
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.template.spec.containers[0].image: Required value", err, StringComparison.Ordinal);
        Assert.Contains("`selector` does not match template `labels`", err, StringComparison.Ordinal);

        // a misspelt field: kubectl asks for fieldValidation=Strict, and nothing is created
        var typo = Manifests("typo", """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: typo
            spec:
              replica: 2
              selector:
                matchLabels:
                  app: t
              template:
                metadata:
                  labels:
                    app: t
                spec:
                  containers:
                  - name: c
                    image: web:v1
                    imagePullPolcy: Never
            """);
        (exit, _, err) = await k.TryAsync("apply", "-f", typo);
        Assert.NotEqual(0, exit);
        Assert.Contains("strict decoding error: unknown field \"spec.replica\", unknown field \"spec.template.spec.containers[0].imagePullPolcy\"", err, StringComparison.Ordinal);
        Assert.NotEqual(0, (await k.TryAsync("get", "deployment", "typo")).Exit);

        // --validate=warn: the fields are dropped and named in warnings
        (exit, _, err) = await k.TryAsync("apply", "--validate=warn", "-f", typo);
        Assert.Equal(0, exit);
        Assert.Contains("Warning: unknown field \"spec.replica\"", err, StringComparison.Ordinal);
        Assert.Equal("1 IfNotPresent", (await k.RunAsync("get", "deployment", "typo", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].imagePullPolicy}")).Trim());
        Assert.Equal("", (await k.RunAsync("get", "deployment", "typo", "-o", "jsonpath={.spec.replica}{.spec.template.spec.containers[0].imagePullPolcy}")).Trim());
        await k.RunAsync("delete", "deployment", "typo", "--wait=false");

        var unknown = Manifests("unknown", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
        (exit, _, err) = await k.TryAsync("apply", "-f", unknown);
        Assert.NotEqual(0, exit); // kubectl finds no schema for it
        (exit, _, err) = await k.TryAsync("apply", "--validate=false", "-f", unknown);
        Assert.NotEqual(0, exit);
        Assert.Contains("no matches for kind \"Widget\"", err, StringComparison.Ordinal);

        (exit, _, err) = await k.TryAsync("get", "pod", "nope");
        Assert.NotEqual(0, exit);
        Assert.Contains("pods \"nope\" not found", err, StringComparison.Ordinal);

        // a write with a stale resourceVersion: 409 Conflict as a Status
        await k.RunAsync("apply", "-f", Manifests("c1", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\ndata:\n  a: \"1\"\n"));
        using var http = cluster.CreateAdminHttpClient();
        var cm = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync($"{cluster.Url}/api/v1/namespaces/default/configmaps/c1", CancellationToken.None))!;
        await k.RunAsync("patch", "configmap", "c1", "--type=merge", "-p", "{\"data\":{\"a\":\"2\"}}");
        using var stale = await http.PutAsync($"{cluster.Url}/api/v1/namespaces/default/configmaps/c1", new StringContent(cm.ToJsonString(), Encoding.UTF8, "application/json"), CancellationToken.None);
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        var body = System.Text.Json.Nodes.JsonNode.Parse(await stale.Content.ReadAsStringAsync(CancellationToken.None))!;
        Assert.Equal("Status", (string?)body["kind"]);
        Assert.Equal("Conflict", (string?)body["reason"]);

        // JSON patch and strategic merge too; then a namespace and what is in it go together
        await k.RunAsync("patch", "configmap", "c1", "--type=json", "-p", "[{\"op\":\"add\",\"path\":\"/data/b\",\"value\":\"3\"}]");
        Assert.Equal("2 3", (await k.RunAsync("get", "cm", "c1", "-o", "jsonpath={.data.a} {.data.b}")).Trim());
        await k.RunAsync("apply", "-f", Manifests("team", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c2\n  namespace: team\ndata:\n  x: y\n"));
        await k.RunAsync("delete", "namespace", "team", "--timeout=30s");
        var (gone, _, goneErr) = await k.TryAsync("get", "cm", "c2", "-n", "team");
        Assert.NotEqual(0, gone);
        Assert.Contains("not found", goneErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drain_moves_pods_and_a_lost_node_has_its_pods_rescheduled()
    {
        await using var cluster = await StartAsync(nodes: 3, b => b.WithNodeTimings(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(2), 1));
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifests("web", Deployment("web", 6)));
        await k.WaitForAsync("6", TimeSpan.FromSeconds(30), "get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}");
        string OnNode(string output, string node) => string.Join('\n', output.Split('\n').Where(l => l.Contains(node, StringComparison.Ordinal)));

        await k.RunAsync("drain", "node-1", "--ignore-daemonsets", "--timeout=60s");
        Assert.Contains("SchedulingDisabled", await k.RunAsync("get", "node", "node-1"), StringComparison.Ordinal);
        await k.WaitForAsync("6", TimeSpan.FromSeconds(30), "get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}");
        var pods = await k.RunAsync("get", "pods", "-o", "wide", "--no-headers");
        Assert.Empty(OnNode(pods, "node-1"));
        await k.RunAsync("uncordon", "node-1");

        // node-2 goes silent: NotReady, tainted, its pods evicted after their toleration and replaced elsewhere
        await cluster.StopNodeAsync("node-2");
        await k.WaitForAsync("Unknown", TimeSpan.FromSeconds(30), "get", "node", "node-2", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}");
        Assert.Contains("NotReady", await k.RunAsync("get", "nodes"), StringComparison.Ordinal);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            pods = await k.RunAsync("get", "pods", "-o", "wide", "--no-headers");
            int running = pods.Split('\n').Count(l => l.Contains("Running", StringComparison.Ordinal) && !l.Contains("node-2", StringComparison.Ordinal));
            if (OnNode(pods, "node-2").Length == 0 && running == 6)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the lost node's pods were not rescheduled:\n" + pods);
            await Task.Delay(300);
        }

        Assert.Contains("TaintManagerEviction", await k.RunAsync("get", "events"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_crashed_container_restarts_and_an_unpullable_image_backs_off()
    {
        await using var cluster = await StartAsync(nodes: 1);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("run", "app", "--image=web:v1");
        await k.WaitForAsync("Running", TimeSpan.FromSeconds(30), "get", "pod", "app", "-o", "jsonpath={.status.phase}");
        runtime.Exit(runtime.Find("app", "app")!, 2);
        await k.WaitForAsync("1", TimeSpan.FromSeconds(30), "get", "pod", "app", "-o", "jsonpath={.status.containerStatuses[0].restartCount}");
        Assert.Equal("2", (await k.RunAsync("get", "pod", "app", "-o", "jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}")).Trim());

        await k.RunAsync("run", "nopull", "--image=missing:v1");
        await k.WaitForAsync("ImagePullBackOff", TimeSpan.FromSeconds(30), "get", "pod", "nopull", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}");
        Assert.Contains("ImagePullBackOff", await k.RunAsync("get", "pods"), StringComparison.Ordinal);

        await k.RunAsync("run", "big", "--image=web:v1", "--overrides={\"spec\":{\"containers\":[{\"name\":\"big\",\"image\":\"web:v1\",\"resources\":{\"requests\":{\"cpu\":\"64\"}}}]}}");
        await k.WaitForAsync("Unschedulable", TimeSpan.FromSeconds(30), "get", "pod", "big", "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}");
        Assert.Contains("Insufficient cpu", await k.RunAsync("get", "events", "--field-selector", "reason=FailedScheduling"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Init_containers_run_first_and_every_container_joins_the_pod_sandbox()
    {
        await using var cluster = await StartAsync(nodes: 1);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifests("init", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: withinit
            spec:
              initContainers:
              - name: setup
                image: web:v1
              containers:
              - name: app
                image: web:v1
            """));
        await k.WaitForAsync("setup", TimeSpan.FromSeconds(30), "get", "pod", "withinit", "-o", "jsonpath={.status.initContainerStatuses[?(@.state.running)].name}");
        Assert.Equal("False", (await k.RunAsync("get", "pod", "withinit", "-o", "jsonpath={.status.conditions[?(@.type==\"Initialized\")].status}")).Trim());
        Assert.Null(runtime.Find("withinit", "app"));
        string sandbox = runtime.Find("withinit", "POD")!;
        Assert.True(runtime.SpecOf(sandbox)!.Sandbox);
        Assert.Equal(sandbox, runtime.SpecOf(runtime.Find("withinit", "setup")!)!.JoinContainer);

        runtime.Exit(runtime.Find("withinit", "setup")!, 0);
        await k.WaitForAsync("Running", TimeSpan.FromSeconds(30), "get", "pod", "withinit", "-o", "jsonpath={.status.phase}");
        Assert.Equal(sandbox, runtime.SpecOf(runtime.Find("withinit", "app")!)!.JoinContainer);
        Assert.Equal(runtime.Inspect(sandbox)!.IPAddress, (await k.RunAsync("get", "pod", "withinit", "-o", "jsonpath={.status.podIP}")).Trim());

        // the sandbox dies: its namespaces went, so the init container runs again in a new sandbox, then the app
        // restarts there (as kubelet's SandboxChanged)
        runtime.Exit(sandbox, 137);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (runtime.Find("withinit", "setup") is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        string renewed = runtime.Find("withinit", "POD")!;
        Assert.Equal(renewed, runtime.SpecOf(runtime.Find("withinit", "setup")!)!.JoinContainer);
        Assert.Null(runtime.Find("withinit", "app"));
        runtime.Exit(runtime.Find("withinit", "setup")!, 0);
        await k.WaitForAsync("1", TimeSpan.FromSeconds(30), "get", "pod", "withinit", "-o", "jsonpath={.status.containerStatuses[0].restartCount}");
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (runtime.Find("withinit", "app") is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.NotEqual(sandbox, renewed);
        Assert.Equal(renewed, runtime.SpecOf(runtime.Find("withinit", "app")!)!.JoinContainer);
        Assert.Contains("Pod sandbox changed", await k.RunAsync("get", "events", "--field-selector", "involvedObject.name=withinit"), StringComparison.Ordinal);
        await k.WaitForAsync(runtime.Inspect(renewed)!.IPAddress!, TimeSpan.FromSeconds(30), "get", "pod", "withinit", "-o", "jsonpath={.status.podIP}");
    }

    [Fact]
    public async Task Claims_bind_to_volumes_or_get_one_provisioned_and_pods_mount_them()
    {
        await using var cluster = await StartAsync(nodes: 1);
        var k = new Kubectl(cluster.KubeconfigPath);
        string data = Path.Combine(root, "pv-data");
        await k.RunAsync("apply", "-f", Manifests("storage", $$"""
            apiVersion: v1
            kind: PersistentVolume
            metadata:
              name: local-pv
            spec:
              capacity:
                storage: 2Gi
              accessModes: [ReadWriteOnce]
              storageClassName: ""
              hostPath:
                path: {{data}}
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: static-claim
            spec:
              storageClassName: ""
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: 1Gi
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: dynamic-claim
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: 500Mi
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: db
            spec:
              containers:
              - name: db
                image: web:v1
                volumeMounts:
                - name: data
                  mountPath: /data
              volumes:
              - name: data
                persistentVolumeClaim:
                  claimName: static-claim
            """));
        await k.WaitForAsync("Bound Bound", TimeSpan.FromSeconds(30), "get", "pvc", "static-claim", "dynamic-claim", "-o", "jsonpath={.items[*].status.phase}");
        Assert.Equal("local-pv", (await k.RunAsync("get", "pvc", "static-claim", "-o", "jsonpath={.spec.volumeName}")).Trim());
        string provisioned = (await k.RunAsync("get", "pvc", "dynamic-claim", "-o", "jsonpath={.spec.volumeName}")).Trim();
        Assert.StartsWith("pvc-", provisioned, StringComparison.Ordinal);
        Assert.Contains("Bound", await k.RunAsync("get", "pv", "local-pv"), StringComparison.Ordinal);
        await k.WaitForAsync("Running", TimeSpan.FromSeconds(30), "get", "pod", "db", "-o", "jsonpath={.status.phase}");
        Assert.Contains(runtime.Running.Single(s => s.PodName == "db").Mounts, m => m.HostPath == data && m.ContainerPath == "/data");

        // --wait=false: the kubectl here prints "deleted" and then sometimes does not exit while it waits (as rollout status)
        await k.RunAsync("delete", "pod", "db", "--wait=false");
        await k.RunAsync("delete", "pvc", "static-claim", "dynamic-claim", "--wait=false");
        await k.WaitForAsync("Released", TimeSpan.FromSeconds(30), "get", "pv", "local-pv", "-o", "jsonpath={.status.phase}");
        await k.WaitForAsync("local-pv", TimeSpan.FromSeconds(30), "get", "pv", "-o", "jsonpath={.items[*].metadata.name}"); // the provisioned one went
    }

    [Fact]
    public async Task A_restarted_control_plane_has_every_object_and_takes_its_pods_back()
    {
        string uid;
        int started;
        await using (var cluster = await StartAsync(nodes: 1))
        {
            var k = new Kubectl(cluster.KubeconfigPath);
            await k.RunAsync("apply", "-f", Manifests("keep", Deployment("keep", 3)));
            await k.WaitForAsync("3", TimeSpan.FromSeconds(30), "get", "deploy", "keep", "-o", "jsonpath={.status.readyReplicas}");
            uid = (await k.RunAsync("get", "deploy", "keep", "-o", "jsonpath={.metadata.uid}")).Trim();
            started = runtime.Started;
        }

        await using (var cluster = await StartAsync(nodes: 1))
        {
            var k = new Kubectl(cluster.KubeconfigPath);
            Assert.Equal(uid, (await k.RunAsync("get", "deploy", "keep", "-o", "jsonpath={.metadata.uid}")).Trim());
            await k.WaitForAsync("3", TimeSpan.FromSeconds(30), "get", "deploy", "keep", "-o", "jsonpath={.status.readyReplicas}");
            await Task.Delay(500);
            Assert.Equal(started, runtime.Started); // the running containers were adopted, none started again
        }
    }
}
