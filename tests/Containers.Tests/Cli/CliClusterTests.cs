using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Containers.Tests.Images;

namespace Containers.Tests.Cli;

/// <summary><c>containers cluster delete</c> and a cluster's recovery from SIGKILL, through the CLI and the real kubectl, on real pods.</summary>
public sealed class CliClusterTests : IAsyncLifetime
{
    private const string PodSubnet = "10.221.0.0/16";
    private const string ServiceCidr = "10.93.0.0/16";
    private readonly TestEngine t = new();
    private int port;

    public async Task InitializeAsync()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var import = await Cli("import", "-c", "CMD [\"/bin/sh\"]", "-c", "ENV PATH=/bin", TestImages.BusyboxTar, "web:v1");
        Assert.True(import.Code == 0, import.Stderr);
    }

    public async Task DisposeAsync()
    {
        await Cli("cluster", "delete");
        await t.DisposeAsync();
    }

    [Fact]
    public async Task Cluster_delete_stops_the_pods_and_leaves_nothing_on_the_machine()
    {
        await UpAsync();
        await Kubectl("create", "deployment", "web", "--image=web:v1", "--replicas=2", "--", "/bin/sh", "-c", "sleep 3600");
        await Kubectl("rollout", "status", "deployment/web", "--timeout=120s");
        Assert.NotEmpty((await Cli("ps", "-q")).Stdout.Trim());
        int pid = Pid();

        var delete = await Cli("cluster", "delete");
        Assert.True(delete.Code == 0, delete.Stderr);
        Assert.Contains("deleted", delete.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/proc/{pid}/task"), "the cluster process still runs");
        Assert.Equal("", (await Cli("ps", "-a", "-q")).Stdout);
        Assert.DoesNotContain("k8s-pods", (await Cli("network", "ls")).Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(t.Root, "cluster")), "the cluster's state is left");
        Assert.False(File.Exists(Path.Combine(t.Root, "kubeconfig")), "the kubeconfig is left");
        string addresses = Run("ip", "-4", "-o", "addr");
        Assert.DoesNotContain("10.221.", addresses, StringComparison.Ordinal); // the pod bridge
        Assert.DoesNotContain("10.93.", addresses, StringComparison.Ordinal); // the service addresses on it

        // a second cluster on another root could now take the subnet; on this root, up starts afresh
        await UpAsync();
        Assert.Contains("No resources found", await Kubectl("get", "deployments"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cluster_killed_during_an_apply_comes_back_with_every_acknowledged_write_and_its_pods()
    {
        await UpAsync();
        await Kubectl("create", "deployment", "web", "--image=web:v1", "--replicas=2", "--", "/bin/sh", "-c", "sleep 3600");
        await Kubectl("rollout", "status", "deployment/web", "--timeout=120s");
        string podsBefore = await Kubectl("get", "pods", "-o", "jsonpath={.items[*].metadata.uid}");
        var containersBefore = (await Cli("ps", "-q")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToArray();

        // many objects, applied one request each; the cluster is killed while they go
        string manifest = Path.Combine(t.Root, "many.yaml");
        await File.WriteAllTextAsync(manifest, string.Join("---\n", Enumerable.Range(0, 400).Select(i => $"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  i: \"{i}\"\n")));
        using var apply = KubectlProcess("apply", "-f", manifest);
        var errors = apply.StandardError.ReadToEndAsync();
        var acknowledged = new List<string>();
        while (await apply.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("configmap/", StringComparison.Ordinal) && line.EndsWith(" created", StringComparison.Ordinal))
            {
                acknowledged.Add(line["configmap/".Length..^" created".Length]);
            }

            if (acknowledged.Count == 50)
            {
                Assert.Equal(0, Kill(Pid(), 9));
            }
        }

        await apply.WaitForExitAsync();
        Assert.Contains("refused", await errors, StringComparison.Ordinal);
        Assert.InRange(acknowledged.Count, 50, 399); // killed part of the way through

        var up = await UpAsync();
        Assert.Contains("export KUBECONFIG=", up, StringComparison.Ordinal);
        var stored = (await Kubectl("get", "configmaps", "-o", "jsonpath={.items[*].metadata.name}")).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.All(acknowledged, name => Assert.Contains(name, stored));

        // the pods were adopted, not made again: the same pods, the same containers, still running
        await Kubectl("rollout", "status", "deployment/web", "--timeout=120s");
        Assert.Equal(podsBefore, await Kubectl("get", "pods", "-o", "jsonpath={.items[*].metadata.uid}"));
        Assert.Equal(containersBefore, (await Cli("ps", "-q")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToArray());
        Assert.Equal("Running Running", await Kubectl("get", "pods", "-o", "jsonpath={.items[*].status.phase}"));
    }

    [Fact]
    public async Task A_cluster_migrated_to_etcd_keeps_every_object_and_adopts_its_pods_and_runs_on_etcd_from_then_on()
    {
        await using var etcd = await Containers.Tests.Orchestration.EtcdServer.StartAsync();
        await UpAsync();
        await Kubectl("create", "deployment", "web", "--image=web:v1", "--replicas=2", "--", "/bin/sh", "-c", "sleep 3600");
        await Kubectl("create", "configmap", "settings", "--from-literal=colour=blue");
        await Kubectl("rollout", "status", "deployment/web", "--timeout=120s");
        string uids = await Kubectl("get", "pods,configmaps,deployments", "-o", "jsonpath={.items[*].metadata.uid}");

        var refused = await Cli("cluster", "migrate", "--to-etcd", etcd.Url);
        Assert.NotEqual(0, refused.Code);
        Assert.Contains("cluster down", refused.Stderr, StringComparison.Ordinal); // not while it runs
        Assert.Equal(0, (await Cli("cluster", "down")).Code);
        var usage = await Cli("cluster", "migrate", "--to-etcd", "etcd-1:2379");
        Assert.Contains("--to-etcd: 'etcd-1:2379' is not an etcd client URL", usage.Stderr, StringComparison.Ordinal);
        var migrate = await Cli("cluster", "migrate", "--to-etcd", etcd.Url);
        Assert.True(migrate.Code == 0, migrate.Stderr);
        Assert.Matches("deployments.apps: 1", migrate.Stdout);
        Assert.Matches("migrated [0-9]+ object\\(s\\) to etcd", migrate.Stdout);
        Assert.Contains("already", (await Cli("cluster", "migrate", "--to-etcd", etcd.Url)).Stderr, StringComparison.Ordinal);

        // the next up runs on etcd (remembered), with every object as it was, and the running pods adopted
        Assert.Contains($"objects in etcd {etcd.Url}", await UpAsync(), StringComparison.Ordinal);
        Assert.Equal(uids, await Kubectl("get", "pods,configmaps,deployments", "-o", "jsonpath={.items[*].metadata.uid}"));
        Assert.Equal("blue", await Kubectl("get", "configmap", "settings", "-o", "jsonpath={.data.colour}"));
        await Kubectl("scale", "deployment/web", "--replicas=3");
        await Kubectl("rollout", "status", "deployment/web", "--timeout=120s");
        Assert.Equal("Running Running Running", await Kubectl("get", "pods", "-o", "jsonpath={.items[*].status.phase}"));
        Assert.Contains("/registry/deployments/default/web", Run("etcdctl", "--endpoints", etcd.Url, "get", "--prefix", "/registry/deployments/", "--keys-only"), StringComparison.Ordinal);

        // delete removes the cluster's keys from etcd too
        var delete = await Cli("cluster", "delete");
        Assert.True(delete.Code == 0, delete.Stderr);
        Assert.Equal("", Run("etcdctl", "--endpoints", etcd.Url, "get", "--prefix", "/registry/", "--keys-only").Trim());
    }

    private async Task<string> UpAsync()
    {
        var up = await Cli("cluster", "up", "--ingress-http-port", "off", "--ingress-https-port", "off", "--nodes", "1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--pod-subnet", PodSubnet, "--service-cidr", ServiceCidr, "-d");
        Assert.True(up.Code == 0, up.Stderr + up.Stdout);
        return up.Stdout;
    }

    private int Pid() => int.Parse(File.ReadAllText(Path.Combine(t.Root, "cluster", "pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    private Process KubectlProcess(params string[] args)
    {
        var psi = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["KUBECONFIG"] = Path.Combine(t.Root, "kubeconfig");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    private async Task<string> Kubectl(params string[] args)
    {
        using var p = KubectlProcess(args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"kubectl {string.Join(' ', args)}: {await stderr}");
        return (await stdout).Trim() + (await stderr).Trim();
    }

    private static string Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true })!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    private Task<(int Code, string Stdout, string Stderr)> Cli(params string[] args) => CliRunner.RunAsync(t, args);
}
