using System.Diagnostics;
using Containers.Orchestration;
using Containers.Orchestration.Controllers;

namespace Containers.Tests.Orchestration;

/// <summary>
/// LoadBalancer Services on real pods: addresses from a pool on a LAN (a test bridge with the host on 10.239.0.1/24 and
/// a client network namespace on .100), set in their status, held and announced on the LAN, and answered there.
/// </summary>
public sealed class LoadBalancerTests
{
    private const string Lan = "cdlb0";

    [Fact]
    public async Task A_LoadBalancer_Service_gets_a_pool_address_announced_on_the_LAN_and_answers_a_client_there()
    {
        Teardown();
        Sh($"ip link add {Lan} type bridge && ip addr add 10.239.0.1/24 dev {Lan} && ip link set {Lan} up"
           + $" && ip netns add cdlb-client && ip link add cdlb-client type veth peer name eth0 netns cdlb-client && ip link set cdlb-client master {Lan} up"
           + " && ip -n cdlb-client addr add 10.239.0.100/24 dev eth0 && ip -n cdlb-client link set eth0 up && ip -n cdlb-client link set lo up");
        await using var te = new TestEngine();
        Cluster? cluster = null;
        try
        {
            await ClusterAcceptanceTests.ImportImagesAsync(te);
            cluster = await Cluster.StartAsync(new ClusterOptions
            {
                Root = te.Root,
                Engine = te.Options with { MonitorCommand = ClusterAcceptanceTests.MonitorCommand() },
                Nodes = 1,
                Port = 0,
                PodSubnet = "10.240.0.0/16",
                ServiceCidr = "10.241.0.0/16",
                LoadBalancer = new LoadBalancerOptions(LoadBalancerPool.Parse("10.239.0.200-10.239.0.201"), Lan),
            });
            var k = new Kubectl(cluster.KubeconfigPath);
            var manifest = Path.Combine(te.Root, "web.yaml");
            await File.WriteAllTextAsync(manifest, """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web}
                spec:
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      containers:
                      - name: web
                        image: web:v1
                        command: ["sh", "-c", "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"]
                        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: web}
                spec:
                  type: LoadBalancer
                  selector: {app: web}
                  ports: [{port: 8080, targetPort: 8080}]
                """);
            await k.RunAsync("apply", "-f", manifest);
            await k.WaitForAsync("10.239.0.200", TimeSpan.FromSeconds(60), "get", "service", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}");
            Assert.Contains("10.239.0.200", await k.RunAsync("get", "service", "web"), StringComparison.Ordinal); // EXTERNAL-IP
            await k.WaitForAsync("1", TimeSpan.FromSeconds(60), "get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}");

            // the client on the LAN reaches the Service at its address; the address is this machine's on the LAN
            string answer = "";
            var until = DateTime.UtcNow.AddSeconds(20);
            while (!answer.Contains("hello from web-", StringComparison.Ordinal) && DateTime.UtcNow < until)
            {
                answer = Run("ip", "netns", "exec", "cdlb-client", "curl", "-s", "-m", "2", "http://10.239.0.200:8080/");
                await Task.Delay(200);
            }

            Assert.True(answer.Contains("hello from web-", StringComparison.Ordinal),
                $"curl: {Run("ip", "netns", "exec", "cdlb-client", "curl", "-sv", "-m", "2", "http://10.239.0.200:8080/")}\n{Run("ip", "-4", "-o", "addr", "show", Lan)}");
            string mac = File.ReadAllText($"/sys/class/net/{Lan}/address").Trim();
            Assert.Contains(mac, Run("ip", "-n", "cdlb-client", "neigh", "show", "10.239.0.200"), StringComparison.Ordinal);
            Assert.Contains("10.239.0.200/32", Run("ip", "-4", "-o", "addr", "show", Lan), StringComparison.Ordinal);

            // an address asked for; then the pool is used up: the next one stays pending, with an event saying why
            await File.WriteAllTextAsync(manifest, """
                apiVersion: v1
                kind: Service
                metadata: {name: asked}
                spec: {type: LoadBalancer, loadBalancerIP: 10.239.0.201, selector: {app: web}, ports: [{port: 8081, targetPort: 8080}]}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: third}
                spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 8082, targetPort: 8080}]}
                """);
            await k.RunAsync("apply", "-f", manifest);
            await k.WaitForAsync("10.239.0.201", TimeSpan.FromSeconds(30), "get", "service", "asked", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}");
            await k.WaitForAsync("AllocationFailed", TimeSpan.FromSeconds(30), "get", "events", "--field-selector", "involvedObject.name=third", "-o", "jsonpath={.items[0].reason}");
            Assert.Contains("no available IPs in the pool 10.239.0.200-10.239.0.201", await k.RunAsync("get", "events", "--field-selector", "involvedObject.name=third"), StringComparison.Ordinal);
            Assert.Equal("", (await k.RunAsync("get", "service", "third", "-o", "jsonpath={.status.loadBalancer.ingress}")).Trim());

            // no longer a LoadBalancer: the address is given back and leaves the LAN; the pending one gets it
            await k.RunAsync("patch", "service", "web", "-p", """{"spec":{"type":"ClusterIP"}}""");
            await k.WaitForAsync("", TimeSpan.FromSeconds(30), "get", "service", "web", "-o", "jsonpath={.status.loadBalancer.ingress}");
            await k.WaitForAsync("10.239.0.200", TimeSpan.FromSeconds(30), "get", "service", "third", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}");
        }
        finally
        {
            if (cluster is not null)
            {
                await ClusterCleanup.RemoveAsync(cluster, te);
            }

            Assert.DoesNotContain("10.239.0.20", Run("ip", "-4", "-o", "addr", "show", Lan), StringComparison.Ordinal); // released when the cluster stops
            Teardown();
        }
    }

    private static string Run(string file, params string[] args)
    {
        var (_, output, error) = TestShell.Run(file, args);
        return output + error;
    }

    private static void Sh(string command) => TestShell.Sh(command);

    private static void Teardown()
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"ip netns del cdlb-client 2>/dev/null; ip link del cdlb-client 2>/dev/null; ip link del {Lan} 2>/dev/null; true"]))!;
        p.WaitForExit();
    }
}
