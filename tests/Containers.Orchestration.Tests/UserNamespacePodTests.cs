using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>A pod with <c>hostUsers: false</c> on real containers: one user namespace for the pod, its volumes idmapped.</summary>
public sealed class UserNamespacePodTests
{
    [Fact]
    public async Task A_pod_without_host_users_runs_its_containers_in_one_user_namespace_with_idmapped_volumes()
    {
        await using var te = new TestEngine();
        var subids = Path.Combine(te.Root, "subid");
        File.WriteAllText(subids, "containers:400000:655360\n");
        await ClusterAcceptanceTests.ImportImagesAsync(te);
        var cluster = await Cluster.StartAsync(new ClusterOptions
        {
            Root = te.Root,
            Engine = te.Options with { MonitorCommand = ClusterAcceptanceTests.MonitorCommand(), SubordinateUidFile = subids, SubordinateGidFile = subids },
            Nodes = 1,
            Port = 0,
            PodSubnet = "10.235.0.0/16",
            ServiceCidr = "10.236.0.0/16",
        });
        try
        {
            var k = new Kubectl(cluster.KubeconfigPath);
            var manifest = Path.Combine(te.Root, "pod.yaml");
            await File.WriteAllTextAsync(manifest, """
                apiVersion: v1
                kind: Pod
                metadata: {name: isolated}
                spec:
                  hostUsers: false
                  volumes:
                  - name: scratch
                    emptyDir: {}
                  containers:
                  - name: app
                    image: web:v1
                    command: ["sh", "-c", "touch /scratch/by-app && exec sleep 300"]
                    volumeMounts: [{name: scratch, mountPath: /scratch}]
                  - name: sidecar
                    image: web:v1
                    command: ["sleep", "300"]
                    volumeMounts: [{name: scratch, mountPath: /scratch}]
                """);
            await k.RunAsync("apply", "-f", manifest);
            await k.WaitForAsync("True", TimeSpan.FromSeconds(60), "get", "pod", "isolated", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}");
            var app = await k.RunAsync("exec", "isolated", "-c", "app", "--", "sh", "-c", "readlink /proc/self/ns/user; tr -s ' ' < /proc/self/uid_map; stat -c %u:%g /scratch/by-app");
            var sidecar = await k.RunAsync("exec", "isolated", "-c", "sidecar", "--", "sh", "-c", "readlink /proc/self/ns/user; tr -s ' ' < /proc/self/uid_map; stat -c %u:%g /scratch/by-app");
            Assert.Equal(app, sidecar); // one namespace for the pod
            Assert.Matches(@"^user:\[\d+\]\n 0 400000 65536\n0:0\n$", app);
            Assert.NotEqual(File.ResolveLinkTarget("/proc/self/ns/user", false)!.FullName, app.Split('\n')[0]);

            // the same file on the host: written by root inside, owned by root on disk (the volume is idmapped)
            var onDisk = Directory.EnumerateFiles(te.Root, "by-app", SearchOption.AllDirectories).Single();
            var st = Containers.Linux.LinuxSyscalls.Instance.LStat(onDisk) ?? throw new FileNotFoundException(onDisk);
            Assert.Equal((0, 0), (st.Uid, st.Gid));

            // the API refuses what a pod in a user namespace cannot share
            await File.WriteAllTextAsync(manifest, """
                apiVersion: v1
                kind: Pod
                metadata: {name: contradictory}
                spec:
                  hostUsers: false
                  hostNetwork: true
                  containers: [{name: app, image: web:v1}]
                """);
            var (code, _, err) = await k.TryAsync("apply", "-f", manifest);
            Assert.NotEqual(0, code);
            Assert.Contains("spec.hostNetwork: Forbidden: when `hostUsers` is false, hostNetwork must be false", err, StringComparison.Ordinal);
            await k.RunAsync("delete", "pod", "isolated", "--grace-period=1");
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }
}
