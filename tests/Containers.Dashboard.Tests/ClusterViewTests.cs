using System.Net.Http.Json;
using System.Text.Json;
using Containers.Orchestration;
using Containers.Tests.Images;
using PuppeteerSharp;

namespace Containers.Tests.Dashboard;

/// <summary>The dashboard over a real cluster (2 nodes, real pods) through its kubeconfig, in a real browser.</summary>
[Collection(DashboardCollection.Name)]
public sealed class ClusterViewTests
{
    private const string Manifest = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: web-config
        data:
          greeting: hello
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: web-secret
        stringData:
          password: s3cret-value
        ---
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
                imagePullPolicy: Never
                command: [sh, -c, "echo started; while true; do sleep 1; done"]
        """;

    [Fact]
    public async Task A_user_applies_a_manifest_scales_a_deployment_to_3_ready_pods_and_opens_a_pod_shell()
    {
        await using var t = DockerViewTests.Engine();
        await TestImages.ImportBusyboxAsync(t.Engine, "web:v1", new Containers.Images.Oci.ContainerConfig { Env = ["PATH=/bin"], Cmd = ["sh"] });
        var cluster = await Cluster.StartAsync(new ClusterOptions
        {
            Root = t.Root,
            Engine = t.Options,
            Nodes = 2,
            Port = 0,
            PodSubnet = "10.227.0.0/16",
            ServiceCidr = "10.228.0.0/16",
        });
        try
        {
            // the cluster only: the page offers its views and no Docker ones
            await using var server = await DockerViewTests.ServeAsync(t, cluster.KubeconfigPath, engine: false);
            await using var browser = await DashboardBrowser.LaunchAsync();
            var page = browser.Page;
            await browser.LoginAsync(server.Url, DockerViewTests.Password);
            await page.WaitForSelectorAsync("#count-nodes");
            await browser.WaitForTextAsync("#count-nodes", "2");
            await browser.WaitForTextAsync("#nodes tr[data-name=node-1] .state", "Ready");
            Assert.Null(await page.QuerySelectorAsync("nav a[data-route='/containers']"));

            // a malformed manifest: the error names its line, and nothing is applied
            await browser.GoAsync("/k8s/apply");
            await page.WaitForSelectorAsync("#manifest-editor");
            await browser.SetValueAsync("#manifest-editor", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  key: [unclosed\n");
            await page.ClickAsync("#apply");
            await page.WaitForSelectorAsync("#apply-result .error");
            Assert.Contains("line 7", await browser.TextAsync("#apply-result .error"), StringComparison.Ordinal);
            // a document the API refuses: named with its document and line
            await browser.SetValueAsync("#manifest-editor", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\napiVersion: v1\nkind: NoSuchKind\nmetadata:\n  name: x\n");
            await page.ClickAsync("#apply");
            await browser.WaitForContainsAsync("#apply-result", "document 2 (line 6)");
            Assert.Contains("configmap/fine (default) applied", await browser.TextAsync("#apply-result"), StringComparison.Ordinal);

            await browser.SetValueAsync("#manifest-editor", Manifest);
            await page.ClickAsync("#apply");
            await browser.WaitForContainsAsync("#apply-result", "deployment/web (default) applied");

            // scale to 3 from the applications view: 3 pods Ready, seen in the page
            await browser.GoAsync("/k8s/apps");
            await browser.WaitForTextAsync("#applications tr[data-name=web] .ready", "1/1", 60_000);
            await page.EvaluateFunctionAsync("() => { const i = document.querySelector('#applications tr[data-name=web] input[data-testid=replicas]'); i.value = '3'; }");
            await page.ClickAsync("#applications tr[data-name=web] button[data-testid=scale]");
            await browser.WaitForTextAsync("#applications tr[data-name=web] .ready", "3/3", 90_000);
            await browser.GoAsync("/k8s/apps/default/Deployment/web");
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#app-pods tbody tr[data-name]').length === 3 && [...document.querySelectorAll('#app-pods tbody tr .ready')].every(c => c.textContent === '1/1')",
                new WaitForFunctionOptions { Timeout = 30_000 });
            await browser.ScreenshotAsync("deployment");

            // the cluster page: both nodes hold pods; cordon and uncordon one
            await browser.GoAsync("/k8s");
            await browser.WaitForTextAsync("#count-pods", "3", 30_000);
            await page.ClickAsync("#nodes tr[data-name=node-2] button[data-testid=cordon]");
            await browser.WaitForContainsAsync("#nodes tr[data-name=node-2] .state", "SchedulingDisabled");
            await browser.ScreenshotAsync("cluster");
            await page.ClickAsync("#nodes tr[data-name=node-2] button[data-testid=uncordon]");
            await page.WaitForFunctionAsync("() => !document.querySelector('#nodes tr[data-name=node-2] .state').textContent.includes('SchedulingDisabled')");

            // the secret's value is hidden until asked for
            await browser.GoAsync("/k8s/config");
            await page.WaitForSelectorAsync("#secrets tr[data-name=web-secret]");
            Assert.DoesNotContain("s3cret-value", await browser.TextAsync("#secrets"), StringComparison.Ordinal);
            await page.ClickAsync("#secrets tr[data-name=web-secret] button[data-testid=reveal]");
            await browser.WaitForContainsAsync("#secrets tr[data-name=web-secret]", "s3cret-value");

            // a pod's logs and its shell (pods/exec over the API's WebSocket)
            string pod = await page.EvaluateFunctionAsync<string>("async () => { const r = await fetch('api/k8s/api/v1/namespaces/default/pods?labelSelector=app%3Dweb'); return (await r.json()).items[0].metadata.name; }");
            await browser.GoAsync($"/k8s/pods/default/{pod}");
            await browser.WaitForContainsAsync("#pod-logs", "started");
            await browser.EchoHiAsync("#pod-console-connect", "#pod-console");
            await browser.ScreenshotAsync("pod");

            // the same views answer a script's token
            using var api = await DockerViewTests.TokenClientAsync(server);
            var deployment = JsonDocument.Parse(await api.GetStringAsync("api/k8s/apis/apps/v1/namespaces/default/deployments/web")).RootElement;
            Assert.Equal(3, deployment.GetProperty("status").GetProperty("readyReplicas").GetInt32());
            var noDocker = await api.GetAsync("api/docker/containers/json");
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, noDocker.StatusCode);
        }
        finally
        {
            await Containers.Tests.Orchestration.ClusterCleanup.RemoveAsync(cluster, t);
        }
    }
}
