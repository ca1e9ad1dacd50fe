using System.Diagnostics;
using System.Text.Json.Nodes;
using Containers.Orchestration;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>
/// Replicated volumes (<c>containers.dev/replicated</c>) in an in-process cluster through the real kubectl: every node
/// serves replicas on 127.0.0.1, the node of a pod attaches the volume for real (FUSE, a loop device, ext4), and the
/// test plays the pod's application by writing into the volume's mount on that node (the recording runtime double runs
/// no process). Provisioning, attachment under a lease, snapshots, restore, backups, a lost node and rebuild.
/// </summary>
[Collection("replicated-volumes")]
public sealed class ReplicatedVolumeClusterTests : ClusterTestRoot
{
    private readonly RecordingPodRuntime runtime = new();

    public ReplicatedVolumeClusterTests()
        : base("replicated")
    {
    }

    /// <summary>The StorageClass <c>replicated</c> (3 replicas, expandable) and the default VolumeSnapshotClass <c>snaps</c>.</summary>
    internal const string Classes = """
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata:
          name: replicated
        provisioner: containers.dev/replicated
        allowVolumeExpansion: true
        parameters:
          numberOfReplicas: "3"
        ---
        apiVersion: snapshot.storage.k8s.io/v1
        kind: VolumeSnapshotClass
        metadata:
          name: snaps
          annotations:
            snapshot.storage.kubernetes.io/is-default-class: "true"
        driver: containers.dev/replicated
        deletionPolicy: Delete
        """;

    /// <summary>A claim of the class <c>replicated</c>, made from a VolumeSnapshot when <paramref name="fromSnapshot"/> is given.</summary>
    internal static string Claim(string name, string size = "64Mi", string? fromSnapshot = null) => $"""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: {name}
        spec:
          storageClassName: replicated
          accessModes: [ReadWriteOnce]
          resources:
            requests:
              storage: {size}
        """ + (fromSnapshot is null ? "" : $"""

          dataSource:
            apiGroup: snapshot.storage.k8s.io
            kind: VolumeSnapshot
            name: {fromSnapshot}
        """);

    private static string Pod(string name, string claim) => $"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
        spec:
          terminationGracePeriodSeconds: 0
          containers:
          - name: db
            image: db:v1
            volumeMounts:
            - name: data
              mountPath: /var/lib/data
          volumes:
          - name: data
            persistentVolumeClaim:
              claimName: {claim}
        """;

    /// <summary>The volume's mount on the node that has it attached, as the lease says.</summary>
    private async Task<(string Node, string Path)> MountOfAsync(Kubectl k, string claim)
    {
        var pv = (await k.RunAsync("get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")).Trim();
        string node = "";
        await UntilAsync(async () =>
        {
            node = (await k.TryAsync("get", "lease", "-n", "kube-system", "volume-" + pv, "-o", "jsonpath={.spec.holderIdentity}")).Out.Trim();
            return node.StartsWith("node-", StringComparison.Ordinal);
        }, $"volume {pv} attached");
        return (node, System.IO.Path.Combine(Root, "cluster", "nodes", node, "replicated", "attached", pv, "mount"));
    }

    private static async Task WaitReadyAsync(Kubectl k, string pod)
    {
        var (exit, _, error) = await k.TryAsync("wait", "--for=condition=Ready", "pod/" + pod, "--timeout=60s");
        if (exit != 0)
        {
            Assert.Fail($"pod {pod} not Ready: {error}\n{await k.RunAsync("describe", "pod", pod)}\n{(await k.TryAsync("get", "events", "-A")).Out}");
        }
    }

    [Fact]
    public async Task A_claim_gets_three_replicas_its_pod_s_data_survives_a_snapshot_restore_and_the_loss_of_its_node_and_a_replica_is_rebuilt()
    {
        await using var cluster = await new ClusterBuilder(Root).WithNodes(4).WithPort(0).WithRuntime(runtime)
            .WithNodeTimings(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4), 2).StartAsync(CancellationToken.None);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("classes", Classes));
        await k.RunAsync("apply", "-f", Manifest("claim", Claim("data")));
        await k.WaitForAsync("Bound", TimeSpan.FromSeconds(30), "get", "pvc", "data", "-o", "jsonpath={.status.phase}");
        var pvName = (await k.RunAsync("get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}")).Trim();
        var replicas = (await k.RunAsync("get", "pv", pvName, "-o", "jsonpath={.spec.csi.volumeAttributes.replicas}")).Trim().Split(',');
        Assert.Equal(3, replicas.Distinct().Count());

        // the pod's node attaches it; what is written there is on every replica
        await k.RunAsync("apply", "-f", Manifest("pod", Pod("db-0", "data")));
        await WaitReadyAsync(k, "db-0");
        var (node, mount) = await MountOfAsync(k, "data");
        Assert.Equal((await k.RunAsync("get", "pod", "db-0", "-o", "jsonpath={.spec.nodeName}")).Trim(), node);
        await File.WriteAllTextAsync(System.IO.Path.Combine(mount, "orders.txt"), "order 1\norder 2\n");
        TestShell.Run("sync", "-f", mount);
        await UntilAsync(async () => (await k.RunAsync("describe", "pvc", "data")).Contains("healthy: 3/3 replicas in step", StringComparison.Ordinal), "kubectl describe pvc showing the replicas");

        // a snapshot, rows deleted, the snapshot restored into a new claim: the rows are back
        await k.RunAsync("apply", "-f", Manifest("snap", """
            apiVersion: snapshot.storage.k8s.io/v1
            kind: VolumeSnapshot
            metadata:
              name: before-delete
            spec:
              source:
                persistentVolumeClaimName: data
            """));
        await k.WaitForAsync("true", TimeSpan.FromSeconds(30), "get", "volumesnapshot", "before-delete", "-o", "jsonpath={.status.readyToUse}");
        Assert.Contains("before-delete", await k.RunAsync("get", "volumesnapshot"));
        File.Delete(System.IO.Path.Combine(mount, "orders.txt"));
        TestShell.Run("sync", "-f", mount);
        await k.RunAsync("apply", "-f", Manifest("restored", Claim("restored", fromSnapshot: "before-delete")));
        await k.WaitForAsync("Bound", TimeSpan.FromSeconds(60), "get", "pvc", "restored", "-o", "jsonpath={.status.phase}");
        await k.RunAsync("apply", "-f", Manifest("pod2", Pod("reader", "restored")));
        await WaitReadyAsync(k, "reader");
        var (_, restoredMount) = await MountOfAsync(k, "restored");
        Assert.Equal("order 1\norder 2\n", await File.ReadAllTextAsync(System.IO.Path.Combine(restoredMount, "orders.txt")));
        Assert.False(File.Exists(System.IO.Path.Combine(mount, "orders.txt")));
        await File.WriteAllTextAsync(System.IO.Path.Combine(mount, "orders.txt"), "order 3\n");
        TestShell.Run("sync", "-f", mount);

        // the node of the pod is lost: the pod comes back on another node with the same data, and the replica that
        // node held is rebuilt on the node that had none
        await k.RunAsync("delete", "pod", "reader", "--wait=true");
        var sw = Stopwatch.StartNew();
        await cluster.StopNodeAsync(node);
        await k.WaitForAsync("Unknown", TimeSpan.FromSeconds(30), "get", "node", node, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}");
        await k.RunAsync("delete", "pod", "db-0", "--force", "--grace-period=0", "--wait=false");
        await k.RunAsync("apply", "-f", Manifest("pod3", Pod("db-1", "data")));
        await WaitReadyAsync(k, "db-1");
        var (node2, mount2) = await MountOfAsync(k, "data");
        sw.Stop();
        Assert.NotEqual(node, node2);
        Assert.Equal("order 3\n", await File.ReadAllTextAsync(System.IO.Path.Combine(mount2, "orders.txt")));
        await UntilAsync(async () =>
        {
            var described = await k.RunAsync("describe", "pvc", "data");
            return described.Contains("healthy: 3/3 replicas in step", StringComparison.Ordinal) && described.Contains("ReplicaRebuilt", StringComparison.Ordinal);
        }, "the lost replica rebuilt", 60);
        var lease = JsonNode.Parse(await k.RunAsync("get", "lease", "-n", "kube-system", "volume-" + pvName, "-o", "json"))!;
        var now = (KJson.Str(lease, "metadata", "annotations", "replicated.containers.dev/replicas") ?? "").Split(',');
        Assert.DoesNotContain(node, now);
        Assert.Equal(3, now.Length);
        Console.WriteLine($"replicated volume: pod on another node with its data {sw.Elapsed.TotalSeconds:0.0} s after its node stopped");

        // deleting the pod detaches; deleting the claim deletes the volume and its replicas
        await k.RunAsync("delete", "pod", "db-1", "--wait=true");
        await UntilAsync(async () => (await k.TryAsync("get", "lease", "-n", "kube-system", "volume-" + pvName, "-o", "jsonpath={.spec.holderIdentity}")).Out.Trim().Length == 0, "the volume detached");
        await k.RunAsync("delete", "pvc", "data", "restored", "--wait=true");
        await k.RunAsync("delete", "volumesnapshot", "before-delete", "--wait=true");
        await UntilAsync(async () => (await k.RunAsync("get", "pv", "-o", "name")).Trim().Length == 0, "the volumes deleted");
        // (the lost node's replica stays on its disk: its server is gone with it)
        await UntilAsync(() => !Directory.EnumerateDirectories(System.IO.Path.Combine(Root, "cluster", "nodes"), pvName, SearchOption.AllDirectories)
            .Any(d => File.Exists(System.IO.Path.Combine(d, "replica.json")) && !d.Contains($"/nodes/{node}/", StringComparison.Ordinal)), "the replicas deleted");
    }

    [Fact]
    public async Task A_claim_for_more_replicas_than_nodes_stays_pending_with_an_event_saying_why()
    {
        await using var cluster = await new ClusterBuilder(Root).WithNodes(2).WithPort(0).WithRuntime(runtime).StartAsync(CancellationToken.None);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("classes", Classes));
        await k.RunAsync("apply", "-f", Manifest("claim", Claim("big")));
        string described = "";
        await UntilAsync(async () => (described = await k.RunAsync("describe", "pvc", "big")).Contains("numberOfReplicas is 3 but only 2 nodes (node-1, node-2) can hold a replica", StringComparison.Ordinal), "the ProvisioningFailed event", 30)
            .ContinueWith(t => Assert.True(t.IsCompletedSuccessfully, described + (t.Exception?.InnerException?.Message ?? "")));
        Assert.Equal("Pending", (await k.RunAsync("get", "pvc", "big", "-o", "jsonpath={.status.phase}")).Trim());

        // a third node joins: it is provisioned
        await cluster.AddNodeAsync("node-3");
        await k.WaitForAsync("Bound", TimeSpan.FromSeconds(30), "get", "pvc", "big", "-o", "jsonpath={.status.phase}");
    }

    [Fact]
    public async Task A_backup_to_a_directory_restores_into_a_new_claim_and_recurring_snapshots_keep_the_newest()
    {
        var backups = Directory.CreateDirectory(System.IO.Path.Combine(Root, "backups")).FullName;
        await using var cluster = await new ClusterBuilder(Root).WithNodes(3).WithPort(0).WithRuntime(runtime).StartAsync(CancellationToken.None);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("classes", Classes.Replace("numberOfReplicas: \"3\"", "numberOfReplicas: \"2\"\n  snapshotSchedule: \"*/2 * * * * *\"\n  snapshotRetain: \"2\"", StringComparison.Ordinal)));
        await k.RunAsync("apply", "-f", Manifest("bak", $"""
            apiVersion: snapshot.storage.k8s.io/v1
            kind: VolumeSnapshotClass
            metadata:
              name: backups
            driver: containers.dev/replicated
            deletionPolicy: Delete
            parameters:
              type: bak
              backupTarget: {backups}
            """));
        await k.RunAsync("apply", "-f", Manifest("claim", Claim("data")));
        await k.RunAsync("apply", "-f", Manifest("pod", Pod("db-0", "data")));
        await WaitReadyAsync(k, "db-0");
        var (_, mount) = await MountOfAsync(k, "data");
        var payload = new byte[5 << 20];
        new Random(9).NextBytes(payload);
        await File.WriteAllBytesAsync(System.IO.Path.Combine(mount, "table.bin"), payload);
        TestShell.Run("sync", "-f", mount);

        await k.RunAsync("apply", "-f", Manifest("backup", """
            apiVersion: snapshot.storage.k8s.io/v1
            kind: VolumeSnapshot
            metadata:
              name: nightly
            spec:
              volumeSnapshotClassName: backups
              source:
                persistentVolumeClaimName: data
            """));
        await k.WaitForAsync("true", TimeSpan.FromSeconds(60), "get", "volumesnapshot", "nightly", "-o", "jsonpath={.status.readyToUse}");
        Assert.StartsWith("bak:", (await k.RunAsync("get", "volumesnapshotcontent", "-o", "jsonpath={.items[?(@.spec.volumeSnapshotRef.name==\"nightly\")].status.snapshotHandle}")).Trim(), StringComparison.Ordinal);
        Assert.NotEmpty(Directory.GetFiles(System.IO.Path.Combine(backups, "blocks"), "*.blk", SearchOption.AllDirectories));

        await k.RunAsync("apply", "-f", Manifest("restored", Claim("from-backup", fromSnapshot: "nightly")));
        await k.WaitForAsync("Bound", TimeSpan.FromSeconds(60), "get", "pvc", "from-backup", "-o", "jsonpath={.status.phase}");
        await k.RunAsync("apply", "-f", Manifest("pod2", Pod("reader", "from-backup")));
        await WaitReadyAsync(k, "reader");
        var (_, restored) = await MountOfAsync(k, "from-backup");
        Assert.Equal(payload, await File.ReadAllBytesAsync(System.IO.Path.Combine(restored, "table.bin")));

        // recurring snapshots every 2 s, the newest 2 kept
        await UntilAsync(async () => (await k.RunAsync("get", "volumesnapshot", "-l", "replicated.containers.dev/recurring=snapshot,replicated.containers.dev/claim=data", "-o", "name")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 2, "two recurring snapshots");
        await Task.Delay(5000);
        var recurring = (await k.RunAsync("get", "volumesnapshot", "-l", "replicated.containers.dev/recurring=snapshot,replicated.containers.dev/claim=data", "-o", "name")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(recurring.Length, 1, 3); // 2 kept, one more may be on its way
        await k.RunAsync("delete", "pod", "reader", "--wait=true");

        // the claim grows: the volume, the device and the filesystem follow (online, or at the next attach where the
        // kernel refuses an online ext4 resize), and the claim's capacity says so
        var before = new DriveInfo(mount).TotalSize;
        await k.RunAsync("patch", "pvc", "data", "-p", "{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"128Mi\"}}}}");
        string reason = "";
        await UntilAsync(async () =>
        {
            reason = (await k.RunAsync("get", "events", "--field-selector", "involvedObject.name=data", "-o", "jsonpath={.items[*].reason}"));
            return reason.Contains("FileSystemResize", StringComparison.Ordinal);
        }, "the filesystem resized or pending");
        if (reason.Contains("FileSystemResizeRequired", StringComparison.Ordinal))
        {
            Assert.Contains("FileSystemResizePending", await k.RunAsync("get", "pvc", "data", "-o", "jsonpath={.status.conditions[*].type}"));
            await k.RunAsync("delete", "pod", "db-0", "--wait=true");
            await k.RunAsync("apply", "-f", Manifest("pod3", Pod("db-1", "data")));
            await WaitReadyAsync(k, "db-1");
            (_, mount) = await MountOfAsync(k, "data");
        }

        Assert.True(new DriveInfo(mount).TotalSize > before * 3 / 2, $"{before} -> {new DriveInfo(mount).TotalSize}");
        Assert.Equal(payload, await File.ReadAllBytesAsync(System.IO.Path.Combine(mount, "table.bin")));
        await k.WaitForAsync("128Mi", TimeSpan.FromSeconds(30), "get", "pvc", "data", "-o", "jsonpath={.status.capacity.storage}");
        await k.RunAsync("delete", "pods", "--all", "--wait=true");
    }
}
