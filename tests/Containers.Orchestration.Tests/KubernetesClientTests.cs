using System.Text;
using Containers.Orchestration;
using k8s;
using k8s.Models;

namespace Containers.Tests.Orchestration;

/// <summary>
/// The cluster through the client .NET users have beside kubectl, the KubernetesClient package, unchanged: CRUD,
/// selectors, patches, watch, scale, logs and exec, on real containers.
/// </summary>
public sealed class KubernetesClientTests
{
    [Fact]
    public async Task KubernetesClient_drives_the_cluster_unchanged()
    {
        await using var te = new TestEngine();
        await ClusterAcceptanceTests.ImportImagesAsync(te);
        var cluster = await Cluster.StartAsync(new ClusterOptions
        {
            Root = te.Root,
            Engine = te.Options with { MonitorCommand = ClusterAcceptanceTests.MonitorCommand() },
            Port = 0,
            PodSubnet = "10.222.0.0/16",
            ServiceCidr = "10.92.0.0/16",
        });
        try
        {
            // the kubeconfig as cluster up writes it: the cluster CA and the admin's client certificate
            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(cluster.KubeconfigPath));
            await ConfigMapsAsync(client);
            await DeploymentAsync(client);
            await StartErrorAsync(client);
        }
        finally
        {
            await cluster.RemoveWorkloadsAsync();
            await cluster.DisposeAsync();
        }
    }

    private static async Task ConfigMapsAsync(Kubernetes client)
    {
        var created = await client.CoreV1.CreateNamespacedConfigMapAsync(
            new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "settings", Labels = new Dictionary<string, string> { ["app"] = "web" } }, Data = new Dictionary<string, string> { ["mode"] = "a" } },
            "default");
        Assert.False(string.IsNullOrEmpty(created.Metadata.Uid));

        var read = await client.CoreV1.ReadNamespacedConfigMapAsync("settings", "default");
        Assert.Equal("a", read.Data["mode"]);

        read.Data["mode"] = "b";
        var replaced = await client.CoreV1.ReplaceNamespacedConfigMapAsync(read, "settings", "default");
        Assert.Equal("b", replaced.Data["mode"]);
        Assert.NotEqual(created.Metadata.ResourceVersion, replaced.Metadata.ResourceVersion);

        // a stale resourceVersion is a conflict, as KubernetesClient users handle it
        var conflict = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => client.CoreV1.ReplaceNamespacedConfigMapAsync(created, "settings", "default"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, conflict.Response.StatusCode);

        var merged = await client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"extra":"1"}}""", V1Patch.PatchType.MergePatch), "settings", "default");
        Assert.Equal(new[] { "extra", "mode" }, merged.Data.Keys.Order());
        var jsonPatched = await client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""[{"op":"remove","path":"/data/extra"}]""", V1Patch.PatchType.JsonPatch), "settings", "default");
        Assert.Equal(new[] { "mode" }, jsonPatched.Data.Keys);

        Assert.Single((await client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "app=web")).Items);
        Assert.Empty((await client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "app=db")).Items);

        await client.CoreV1.DeleteNamespacedConfigMapAsync("settings", "default");
        var missing = await Assert.ThrowsAsync<k8s.Autorest.HttpOperationException>(() => client.CoreV1.ReadNamespacedConfigMapAsync("settings", "default"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.Response.StatusCode);
    }

    private static async Task DeploymentAsync(Kubernetes client)
    {
        var labels = new Dictionary<string, string> { ["app"] = "web" };
        using var watching = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var running = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var watch = Task.Run(async () =>
        {
            await foreach (var (type, pod) in client.CoreV1.WatchListNamespacedPodAsync("default", labelSelector: "app=web", cancellationToken: watching.Token))
            {
                if (type is WatchEventType.Added or WatchEventType.Modified && pod.Status?.Phase == "Running")
                {
                    running.TrySetResult(pod.Metadata.Name);
                }
            }
        });

        await client.AppsV1.CreateNamespacedDeploymentAsync(
            new V1Deployment
            {
                Metadata = new V1ObjectMeta { Name = "web" },
                Spec = new V1DeploymentSpec
                {
                    Selector = new V1LabelSelector { MatchLabels = labels },
                    Template = new V1PodTemplateSpec
                    {
                        Metadata = new V1ObjectMeta { Labels = labels },
                        Spec = new V1PodSpec { Containers = [new V1Container { Name = "web", Image = "web:v1", Command = ["sh", "-c", "echo started; exec sleep 3600"] }] },
                    },
                },
            },
            "default");
        string pod = await running.Task.WaitAsync(watching.Token);
        await watching.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watch);

        // scale through the scale subresource
        var scale = await client.AppsV1.PatchNamespacedDeploymentScaleAsync(new V1Patch("""{"spec":{"replicas":2}}""", V1Patch.PatchType.MergePatch), "web", "default");
        Assert.Equal(2, scale.Spec.Replicas);
        Assert.Equal(2, (await client.AppsV1.ReadNamespacedDeploymentScaleAsync("web", "default")).Spec.Replicas);

        // logs
        string log = "";
        for (int i = 0; i < 50 && !log.Contains("started", StringComparison.Ordinal); i++)
        {
            await using var stream = await client.CoreV1.ReadNamespacedPodLogAsync(pod, "default");
            log = await new StreamReader(stream).ReadToEndAsync();
            await Task.Delay(100);
        }

        Assert.Equal("started\n", log);

        // exec: the output and the exit code, as kubectl exec gives them
        var (code, stdout, stderr) = await ExecAsync(client, pod, "sh", "-c", "echo x; echo y >&2");
        Assert.Equal((0, "x\n", "y\n"), (code, stdout, stderr));
        Assert.Equal(3, (await ExecAsync(client, pod, "sh", "-c", "exit 3")).Code);
    }

    /// <summary>A command that is not in the image: the container's start fails with containerd's StartError (exit code 128), as the kubelet reports it.</summary>
    private static async Task StartErrorAsync(Kubernetes client)
    {
        await client.CoreV1.CreateNamespacedPodAsync(
            new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = "broken" },
                Spec = new V1PodSpec { RestartPolicy = "Never", Containers = [new V1Container { Name = "broken", Image = "web:v1", Command = ["no-such-command"] }] },
            },
            "default");
        V1ContainerStatus? status = null;
        V1Pod? pod = null;
        for (int i = 0; i < 300 && (status?.State?.Terminated is null || pod?.Status?.Phase != "Failed"); i++)
        {
            await Task.Delay(100);
            pod = await client.CoreV1.ReadNamespacedPodAsync("broken", "default");
            status = pod.Status?.ContainerStatuses?.FirstOrDefault();
        }

        Assert.True(status?.State?.Terminated?.Reason == "StartError", KubernetesJson.Serialize(pod?.Status));
        Assert.Equal(128, status?.State?.Terminated?.ExitCode);
        Assert.Equal("Failed", pod?.Status?.Phase); // restartPolicy Never: not tried again
        Assert.Equal(0, status?.RestartCount);
        Assert.Contains("executable file not found", status?.State?.Terminated?.Message, StringComparison.Ordinal);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> ExecAsync(Kubernetes client, string pod, params string[] command)
    {
        string stdout = "", stderr = "";
        int code = await client.NamespacedPodExecAsync(pod, "default", "web", command, false, async (stdIn, output, error) =>
        {
            var o = new StreamReader(output, Encoding.UTF8).ReadToEndAsync();
            var e = new StreamReader(error, Encoding.UTF8).ReadToEndAsync();
            stdout = await o;
            stderr = await e;
        }, CancellationToken.None);
        return (code, stdout, stderr);
    }
}
