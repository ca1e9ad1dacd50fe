using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Containers.Helm;
using Containers.Helm.Charts;
using Containers.Helm.Releases;
using Containers.Orchestration;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>
/// Helm releases against a cluster whose pods the recording runtime runs: the lifecycle install, upgrade --install,
/// rollback, uninstall --keep-history with the release Secrets decoded as Helm's secrets driver would and listed by
/// the real kubectl; hooks with weights and delete policies, helm test; and broken charts that leave nothing behind.
/// </summary>
public sealed class HelmReleaseTests : ClusterTestRoot
{
    private readonly RecordingPodRuntime runtime = new();
    private Cluster cluster = null!;

    public HelmReleaseTests()
        : base("helm")
    {
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        cluster = await new ClusterBuilder(Root).WithNodes(1).WithPort(0).WithRuntime(runtime).StartAsync();
    }

    public override async Task DisposeAsync()
    {
        await cluster.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>A release Secret decoded independently: base64 (Kubernetes) of base64 of gzip of the release JSON.</summary>
    private static JsonNode Decode(JsonNode secret)
    {
        byte[] stored = Convert.FromBase64String(KJson.Str(secret, "data", "release")!);
        byte[] gz = Convert.FromBase64String(Encoding.ASCII.GetString(stored));
        Assert.Equal(0x1f, gz[0]);
        using var gzip = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        using var json = new MemoryStream();
        gzip.CopyTo(json);
        return JsonNode.Parse(json.ToArray())!;
    }

    private async Task<List<JsonNode>> ReleaseSecretsAsync(Kubectl k, string ns)
    {
        var list = JsonNode.Parse(await k.RunAsync("get", "secrets", "-n", ns, "-l", "owner=helm", "-o", "json"))!;
        return [.. KJson.Items(list, "items").OrderBy(s => KJson.Str(s, "metadata", "name"), StringComparer.Ordinal)];
    }

    [Fact]
    public async Task Install_upgrade_rollback_and_uninstall_keep_history_store_releases_as_helm_does()
    {
        string chart = ChartScaffold.Create("web", Root);
        var k = new Kubectl(cluster.KubeconfigPath);
        var options = new HelmOptions { Namespace = "web", CreateNamespace = true };

        var v1 = await cluster.Helm.UpgradeInstallAsync("web", chart, null, options);
        Assert.Equal(1, v1.Version);
        Assert.Equal(ReleaseStatus.Deployed, v1.Info.Status);
        Assert.Contains("kubectl --namespace web port-forward", v1.Info.Notes, StringComparison.Ordinal);
        var deployment = JsonNode.Parse(await k.RunAsync("get", "deploy", "web", "-n", "web", "-o", "json"))!;
        Assert.Equal("Helm", KJson.Str(deployment, "metadata", "labels", "app.kubernetes.io/managed-by"));
        Assert.Equal("web", KJson.Str(deployment, "metadata", "annotations", "meta.helm.sh/release-name"));
        Assert.Equal("web", KJson.Str(deployment, "metadata", "annotations", "meta.helm.sh/release-namespace"));
        Assert.Equal(1, KJson.Int(deployment, "spec", "replicas"));
        Assert.Contains("service/web", await k.RunAsync("get", "svc,sa", "-n", "web", "-o", "name"), StringComparison.Ordinal);

        var v2 = await cluster.Helm.UpgradeInstallAsync("web", chart, new Dictionary<string, object?> { ["replicaCount"] = 2L }, options);
        Assert.Equal(2, v2.Version);
        Assert.Equal("2", (await k.RunAsync("get", "deploy", "web", "-n", "web", "-o", "jsonpath={.spec.replicas}")).Trim());

        var v3 = await cluster.Helm.RollbackAsync("web", 1, options);
        Assert.Equal(3, v3.Version);
        Assert.Equal("1", (await k.RunAsync("get", "deploy", "web", "-n", "web", "-o", "jsonpath={.spec.replicas}")).Trim());

        // the Secrets as Helm's secrets driver writes them, read back through the real kubectl
        var secrets = await ReleaseSecretsAsync(k, "web");
        Assert.Equal(["sh.helm.release.v1.web.v1", "sh.helm.release.v1.web.v2", "sh.helm.release.v1.web.v3"], secrets.Select(s => KJson.Str(s, "metadata", "name")));
        Assert.All(secrets, s => Assert.Equal("helm.sh/release.v1", KJson.Str(s, "type")));
        Assert.Equal(["superseded", "superseded", "deployed"], secrets.Select(s => KJson.Str(s, "metadata", "labels", "status")));
        Assert.Equal(["1", "2", "3"], secrets.Select(s => KJson.Str(s, "metadata", "labels", "version")));
        Assert.All(secrets, s => Assert.Equal("web", KJson.Str(s, "metadata", "labels", "name")));
        var stored = secrets.Select(Decode).ToList();
        Assert.Equal(["superseded", "superseded", "deployed"], stored.Select(r => KJson.Str(r, "info", "status")));
        Assert.Equal("Rollback to 1", KJson.Str(stored[2], "info", "description"));
        Assert.Equal("Install complete", KJson.Str(stored[0], "info", "description"));
        Assert.Equal("web", KJson.Str(stored[0], "chart", "metadata", "name"));
        Assert.Equal(2, KJson.Int(stored[1], "config", "replicaCount"));
        Assert.Contains("# Source: web/templates/deployment.yaml", KJson.Str(stored[0], "manifest"), StringComparison.Ordinal);
        Assert.Equal("web", KJson.Str(stored[0], "namespace"));
        Assert.Contains(KJson.Items(stored[0], "hooks"), h => KJson.Str(h, "path") == "web/templates/tests/test-connection.yaml" && KJson.At(h, "events")!.ToJsonString() == "[\"test\"]");

        var uninstalled = await cluster.Helm.UninstallAsync("web", options with { KeepHistory = true });
        Assert.Equal(ReleaseStatus.Uninstalled, uninstalled.Info.Status);
        Assert.Equal("", (await k.RunAsync("get", "deploy,svc,sa", "-n", "web", "-l", "app.kubernetes.io/managed-by=Helm", "-o", "name")).Trim());
        secrets = await ReleaseSecretsAsync(k, "web");
        Assert.Equal(["superseded", "superseded", "uninstalled"], secrets.Select(s => KJson.Str(s, "metadata", "labels", "status")));
        Assert.Equal(3, (await cluster.Helm.HistoryAsync("web", "web")).Count);
        Assert.Empty(await cluster.Helm.ListAsync("web"));
        Assert.Single(await cluster.Helm.ListAsync("web", all: true));

        // a name whose last revision is uninstalled can be installed again, as revision 4
        var again = await cluster.Helm.InstallAsync("web", Chart.Load(chart), [], options);
        Assert.Equal(4, again.Version);
        var error = await Assert.ThrowsAsync<HelmException>(() => cluster.Helm.InstallAsync("web", Chart.Load(chart), [], options));
        Assert.Equal("cannot re-use a name that is still in use", error.Message);
        await cluster.Helm.UninstallAsync("web", options);
        Assert.Empty(await ReleaseSecretsAsync(k, "web"));
    }

    private string HookChart() => WriteChart("hooked", new()
    {
        ["templates/configmap.yaml"] = """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-config
            data:
              revision: "{{ .Release.Revision }}"
            """,
        ["templates/migrate.yaml"] = """
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: {{ .Release.Name }}-migrate
              annotations:
                helm.sh/hook: pre-install,pre-upgrade
                helm.sh/hook-weight: "-5"
                helm.sh/hook-delete-policy: hook-succeeded
            spec:
              backoffLimit: 0
              template:
                spec:
                  restartPolicy: Never
                  containers:
                  - name: migrate
                    image: busybox
                    command: [sh, -c, "echo migrate"]
            """,
        ["templates/marker.yaml"] = """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-installed
              annotations:
                helm.sh/hook: post-install
            data:
              at: "{{ .Release.Revision }}"
            """,
        ["templates/tests/check.yaml"] = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: {{ .Release.Name }}-check
              annotations:
                helm.sh/hook: test
            spec:
              restartPolicy: Never
              containers:
              - name: check
                image: busybox
                command: [sh, -c, "true"]
            """,
    });

    private string WriteChart(string name, Dictionary<string, string> files, string values = "", string chartYaml = "")
    {
        string dir = Path.Combine(Root, "charts-src", name);
        Directory.CreateDirectory(Path.Combine(dir, "templates"));
        File.WriteAllText(Path.Combine(dir, "Chart.yaml"), $"apiVersion: v2\nname: {name}\nversion: 0.1.0\nappVersion: \"1.0\"\n{chartYaml}");
        File.WriteAllText(Path.Combine(dir, "values.yaml"), values);
        foreach (var (path, text) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, path))!);
            File.WriteAllText(Path.Combine(dir, path), text);
        }

        return dir;
    }

    /// <summary>The name of the first pod of <paramref name="job"/>, once there is one.</summary>
    private static async Task<string> JobPodAsync(Kubectl k, string job)
    {
        string? name = null;
        await UntilAsync(async () => (name = KJson.Items(JsonNode.Parse(await k.RunAsync("get", "pods", "-l", "job-name=" + job, "-o", "json"))!, "items").Select(p => KJson.Str(p, "metadata", "name")).FirstOrDefault()) is not null, $"a pod of job {job}");
        return name!;
    }

    private async Task ExitPodAsync(string pod, string container, int code)
    {
        string? id = null;
        await UntilAsync(() => (id = runtime.Find(pod, container)) is not null, $"pod {pod} to run");
        runtime.Exit(id!, code);
    }

    [Fact]
    public async Task Hooks_run_by_weight_wait_for_their_job_and_follow_delete_policies_and_helm_test_runs_test_pods()
    {
        var chart = Chart.Load(HookChart());
        var k = new Kubectl(cluster.KubeconfigPath);
        var options = new HelmOptions { Namespace = "default", Timeout = TimeSpan.FromMinutes(2) };
        var install = cluster.Helm.InstallAsync("app", chart, [], options);
        await UntilAsync(async () => (await k.TryAsync("get", "job", "app-migrate")).Exit == 0, "the pre-install job");

        // nothing of the release exists while its pre-install hook runs
        Assert.NotEqual(0, (await k.TryAsync("get", "configmap", "app-config")).Exit);
        await ExitPodAsync(await JobPodAsync(k, "app-migrate"), "migrate", 0);

        var release = await install;
        Assert.Equal(ReleaseStatus.Deployed, release.Info.Status);
        Assert.Equal("1", (await k.RunAsync("get", "configmap", "app-config", "-o", "jsonpath={.data.revision}")).Trim());
        Assert.Equal("1", (await k.RunAsync("get", "configmap", "app-installed", "-o", "jsonpath={.data.at}")).Trim());
        // hook-succeeded: the job is gone; the post-install hook (before-hook-creation) stays
        await UntilAsync(async () => (await k.TryAsync("get", "job", "app-migrate")).Exit != 0, "the succeeded hook's deletion");
        var hooks = (await cluster.Helm.StatusAsync("app", "default")).Hooks;
        Assert.Equal("Succeeded", hooks.Single(h => h.Name == "app-migrate").Phase);
        Assert.Equal(-5, hooks.Single(h => h.Name == "app-migrate").Weight);
        Assert.DoesNotContain("app-migrate", release.Manifest, StringComparison.Ordinal);

        // helm test runs the test pod and records its phase
        var test = cluster.Helm.TestAsync("app", options);
        await ExitPodAsync("app-check", "check", 0);
        var tests = await test;
        Assert.Equal("Succeeded", Assert.Single(tests).Phase);

        // a failing pre-upgrade hook fails the upgrade: the release revision is failed and the objects keep revision 1
        var upgrade = cluster.Helm.UpgradeAsync("app", chart, new Dictionary<string, object?> { ["x"] = 1L }, options);
        await ExitPodAsync(await JobPodAsync(k, "app-migrate"), "migrate", 3);
        var failed = await Assert.ThrowsAsync<HelmException>(() => upgrade);
        Assert.Contains("failed pre-upgrade", failed.Message, StringComparison.Ordinal);
        Assert.Contains("job app-migrate failed", failed.Message, StringComparison.Ordinal);
        var history = await cluster.Helm.HistoryAsync("app", "default");
        Assert.Equal([ReleaseStatus.Deployed, ReleaseStatus.Failed], history.Select(r => r.Info.Status));
        Assert.Equal("1", (await k.RunAsync("get", "configmap", "app-config", "-o", "jsonpath={.data.revision}")).Trim());
    }

    [Fact]
    public async Task Broken_charts_fail_naming_file_line_and_field_and_leave_no_release_or_object()
    {
        var k = new Kubectl(cluster.KubeconfigPath);
        var options = new HelmOptions { Namespace = "default" };
        var good = new Dictionary<string, string>
        {
            ["templates/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  a: b\n",
        };

        // bad template syntax: the file and line
        var syntax = await Assert.ThrowsAsync<Containers.Helm.Templates.TemplateException>(() => cluster.Helm.InstallAsync("broken", Chart.Load(WriteChart("syntax", new(good) { ["templates/bad.yaml"] = "a: 1\nb: {{ .Values.x | nosuchfunction }}\n" })), [], options));
        Assert.Equal("parse error at (syntax/templates/bad.yaml:2): function \"nosuchfunction\" not defined", syntax.Message);

        // a missing required value: the file, line and column
        var required = await Assert.ThrowsAsync<Containers.Helm.Templates.TemplateException>(() => cluster.Helm.InstallAsync("broken", Chart.Load(WriteChart("required", new(good) { ["templates/need.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ required \"image.tag is required\" .Values.image.tag }}\n" }, "image: {}\n")), [], options));
        Assert.Equal("execution error at (required/templates/need.yaml:4:11): image.tag is required", required.Message);

        // a schema violation: the field
        string schema = """{"$schema": "https://json-schema.org/draft-07/schema#", "type": "object", "required": ["replicas"], "properties": {"replicas": {"type": "integer", "minimum": 1}}}""";
        string schemaChart = WriteChart("schema", new(good) { ["values.schema.json"] = schema }, "replicas: 1\n");
        var violation = await Assert.ThrowsAsync<ChartException>(() => cluster.Helm.InstallAsync("broken", Chart.Load(schemaChart), new Dictionary<string, object?> { ["replicas"] = "many" }, options));
        Assert.Contains("values don't meet the specifications of the schema(s) in the following chart(s):\nschema:\n- replicas:", violation.Message, StringComparison.Ordinal);

        // a dependency that is not there
        var missing = await Assert.ThrowsAsync<ChartException>(() => cluster.Helm.InstallAsync("broken", Chart.Load(WriteChart("deps", good, chartYaml: "dependencies:\n- name: redis\n  version: 1.x\n  repository: https://charts.example/\n")), [], options));
        Assert.Equal("deps: found in Chart.yaml, but missing in charts/ directory: redis", missing.Message);

        // an object that exists outside the release
        await k.RunAsync("create", "configmap", "broken-cm", "--from-literal=a=b");
        var owned = await Assert.ThrowsAsync<HelmException>(() => cluster.Helm.InstallAsync("broken", Chart.Load(WriteChart("clash", good)), [], options));
        Assert.Contains("rendered manifests contain a resource that already exists. Unable to continue with install: ConfigMap \"broken-cm\" in namespace \"default\" exists and cannot be imported into the current release: invalid ownership metadata; label validation error: missing key \"app.kubernetes.io/managed-by\": must be set to \"Helm\"", owned.Message, StringComparison.Ordinal);

        // a release over 1 MiB: Kubernetes' error for the Secret, and nothing created
        var big = RandomBytes(1_200_000);
        string bigChart = WriteChart("big", new(good) { ["templates/cm2.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-second\n" });
        File.WriteAllBytes(Path.Combine(bigChart, "blob.bin"), big);
        var tooBig = await Assert.ThrowsAsync<KubeException>(() => cluster.Helm.InstallAsync("big", Chart.Load(bigChart), [], options));
        Assert.Equal("create: failed to create: Secret \"sh.helm.release.v1.big.v1\" is invalid: data: Too long: must have at most 1048576 bytes", tooBig.Message);

        Assert.Empty(await ReleaseSecretsAsync(k, "default"));
        Assert.Equal("configmap/broken-cm", (await k.RunAsync("get", "configmaps", "-o", "name")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Single(n => n.Contains("broken", StringComparison.Ordinal) || n.Contains("big", StringComparison.Ordinal)));
    }

    private static byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task An_operation_in_progress_refuses_another_with_helms_error()
    {
        var chart = Chart.Load(WriteChart("plain", new() { ["templates/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  v: \"{{ .Values.v }}\"\n" }, "v: 1\n"));
        var options = new HelmOptions { Namespace = "default" };
        var release = await cluster.Helm.InstallAsync("plain", chart, [], options);
        release.Info.Status = ReleaseStatus.PendingUpgrade;
        await cluster.Helm.Store.UpdateAsync(release, CancellationToken.None);
        var error = await Assert.ThrowsAsync<HelmException>(() => cluster.Helm.UpgradeAsync("plain", chart, new Dictionary<string, object?> { ["v"] = 2L }, options));
        Assert.Equal("another operation (install/upgrade/rollback) is in progress", error.Message);
        Assert.Equal("another operation (install/upgrade/rollback) is in progress", (await Assert.ThrowsAsync<HelmException>(() => cluster.Helm.RollbackAsync("plain", 0, options))).Message);
        Assert.Single(await cluster.Helm.HistoryAsync("plain", "default"));
    }

    [Fact]
    public async Task Wait_waits_for_readiness_and_atomic_uninstalls_a_failed_install()
    {
        var k = new Kubectl(cluster.KubeconfigPath);
        var options = new HelmOptions { Namespace = "default", Wait = true, Timeout = TimeSpan.FromMinutes(1) };
        string deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: {{ .Release.Name }}
            spec:
              replicas: {{ .Values.replicas }}
              selector:
                matchLabels: {app: {{ .Release.Name }}}
              template:
                metadata:
                  labels: {app: {{ .Release.Name }}}
                spec:
                  containers:
                  - name: app
                    image: busybox
            """;
        var chart = Chart.Load(WriteChart("waited", new() { ["templates/deploy.yaml"] = deployment }, "replicas: 2\n"));
        var release = await cluster.Helm.InstallAsync("waited", chart, [], options);
        Assert.Equal(ReleaseStatus.Deployed, release.Info.Status);
        Assert.Equal("2", (await k.RunAsync("get", "deploy", "waited", "-o", "jsonpath={.status.availableReplicas}")).Trim());

        // --atomic: a failing post-install hook uninstalls the release and everything it made
        var failing = Chart.Load(WriteChart("atomic", new()
        {
            ["templates/deploy.yaml"] = deployment,
            ["templates/check.yaml"] = """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: {{ .Release.Name }}-check
                  annotations:
                    helm.sh/hook: post-install
                spec:
                  restartPolicy: Never
                  containers:
                  - name: check
                    image: busybox
                """,
        }, "replicas: 1\n"));
        var install = cluster.Helm.InstallAsync("atomic", failing, [], options with { Atomic = true });
        await ExitPodAsync("atomic-check", "check", 1);
        var error = await Assert.ThrowsAsync<HelmException>(() => install);
        Assert.StartsWith("release atomic failed, and has been uninstalled due to atomic being set: failed post-install", error.Message, StringComparison.Ordinal);
        Assert.NotEqual(0, (await k.TryAsync("get", "deploy", "atomic")).Exit);
        Assert.Empty(await cluster.Helm.HistoryAsync("atomic", "default"));
    }
}
