using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>
/// A pod's service account, end to end on real containers: the KubernetesClient package's in-cluster configuration,
/// run unchanged inside a pod, finds the API through the <c>kubernetes</c> Service (KUBERNETES_SERVICE_HOST/PORT),
/// trusts it through the projected ca.crt and authenticates with the projected token; it can list pods, which its
/// RoleBinding allows, and gets 403 for Secrets and for creating a ConfigMap, which nothing allows.
/// </summary>
public sealed class InClusterTests
{
    private const string Manifest = """
        apiVersion: v1
        kind: ServiceAccount
        metadata:
          name: lister
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata:
          name: pod-lister
        rules:
        - apiGroups: [""]
          resources: ["pods"]
          verbs: ["list"]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata:
          name: lister-lists-pods
        subjects:
        - kind: ServiceAccount
          name: lister
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: Role
          name: pod-lister
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: in-cluster
        spec:
          serviceAccountName: lister
          restartPolicy: Never
          containers:
          - name: client
            image: web:v1
            command: ["/usr/share/dotnet/dotnet", "/app/Containers.Orchestration.InCluster.dll"]
            env:
            - name: DOTNET_CLI_TELEMETRY_OPTOUT
              value: "1"
            volumeMounts:
            - {name: dotnet, mountPath: /usr/share/dotnet, readOnly: true}
            - {name: libs, mountPath: /lib/x86_64-linux-gnu, readOnly: true}
            - {name: ssl, mountPath: /usr/lib/ssl, readOnly: true}
            - {name: app, mountPath: /app, readOnly: true}
          volumes:
          - {name: dotnet, hostPath: {path: DOTNET, type: Directory}}
          - {name: libs, hostPath: {path: /usr/lib/x86_64-linux-gnu, type: Directory}}
          - {name: ssl, hostPath: {path: /usr/lib/ssl, type: Directory}}
          - {name: app, hostPath: {path: APP, type: Directory}}
        """;

    [Fact]
    public async Task The_in_cluster_client_in_a_pod_has_its_service_accounts_rights_and_no_more()
    {
        string app = Path.GetDirectoryName(FindClient())!;
        string dotnet = Path.GetDirectoryName(Path.GetFullPath(new FileInfo(Environment.ProcessPath!).LinkTarget is { } t ? Path.Combine(Path.GetDirectoryName(Environment.ProcessPath!)!, t) : Environment.ProcessPath!))!;
        await using var te = new TestEngine();
        await ClusterAcceptanceTests.ImportImagesAsync(te);
        var options = new ClusterOptions
        {
            Root = te.Root,
            Engine = te.Options with { MonitorCommand = ClusterAcceptanceTests.MonitorCommand() },
            Nodes = 1,
            Port = 0,
            PodSubnet = "10.218.0.0/16",
            ServiceCidr = "10.219.0.0/16",
        };
        var cluster = await Cluster.StartAsync(options);
        try
        {
            var k = new Kubectl(cluster.KubeconfigPath);
            string file = Path.Combine(te.Root, "in-cluster.yaml");
            await File.WriteAllTextAsync(file, Manifest.Replace("DOTNET", dotnet, StringComparison.Ordinal).Replace("APP", app, StringComparison.Ordinal));
            await k.RunAsync("apply", "-f", file);
            await k.WaitForAsync("Succeeded", TimeSpan.FromSeconds(90), "get", "pod", "in-cluster", "-o", "jsonpath={.status.phase}");
            string logs = await k.RunAsync("logs", "in-cluster");
            Assert.Contains("pods: in-cluster", logs, StringComparison.Ordinal);
            Assert.Contains("secrets: 403", logs, StringComparison.Ordinal);
            Assert.Contains("configmaps: 403", logs, StringComparison.Ordinal);
            var (exit, _, _) = await k.TryAsync("get", "configmap", "from-pod");
            Assert.NotEqual(0, exit);
        }
        finally
        {
            await ClusterAcceptanceTests.RemoveAsync(cluster, te);
        }
    }

    /// <summary>The in-cluster client's build output (tests/Containers.Orchestration.InCluster/bin/...), built with this project.</summary>
    private static string FindClient()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Containers.sln")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        string bin = Path.Combine(dir.FullName, "tests", "Containers.Orchestration.InCluster", "bin");
        return Directory.EnumerateFiles(bin, "Containers.Orchestration.InCluster.dll", SearchOption.AllDirectories)
            .OrderByDescending(File.GetLastWriteTimeUtc).First();
    }
}
