using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Containers.Tests.Orchestration;

/// <summary>
/// A control plane across machines, each machine a network namespace of its own on a test bridge (10.231.0.0/24,
/// no address on the host): three etcd members, three <c>containers cluster server</c> machines sharing them, and a
/// client namespace that plays the user, with the real kubectl and curl at the virtual IP. The leader is SIGKILLed
/// and the etcd leader too, and the times they take to recover are written to the test output.
/// </summary>
[Collection(nameof(MultiMachineTests))] // alone: it starts eleven processes and times failovers
public sealed class MultiMachineTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Bridge = "cdha0";
    private const string Lan = "10.231.0";
    private const string Vip = Lan + ".10";
    private static readonly (string Name, string Ip)[] EtcdMachines = [("e1", Lan + ".11"), ("e2", Lan + ".12"), ("e3", Lan + ".13")];
    private static readonly (string Name, string Ip)[] Servers = [("c1", Lan + ".21"), ("c2", Lan + ".22"), ("c3", Lan + ".23")];
    // they join with a bootstrap token; w1 names its pod subnet, w2 and w3 get one from the control plane's node IPAM
    private static readonly (string Name, string Ip, string? PodSubnet)[] Workers = [("w1", Lan + ".31", "10.244.4.0/24"), ("w2", Lan + ".32", null), ("w3", Lan + ".33", null)];
    private static IEnumerable<(string Name, string Ip)> Machines => Servers.Concat(Workers.Select(w => (w.Name, w.Ip)));
    private const string Token = "abcdef.0123456789abcdef";
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-ha-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<string, Process> processes = [];
    private readonly Dictionary<string, string[]> serverArgs = [];
    private string Endpoints => string.Join(',', EtcdMachines.Select(m => $"http://{m.Ip}:2379"));

    private static string Cli => Path.Combine(AppContext.BaseDirectory, "containers-cli");

    public async Task InitializeAsync()
    {
        try
        {
            await SetUpAsync();
        }
        catch
        {
            await DisposeAsync(); // xunit does not dispose a class whose set-up failed
            throw;
        }
    }

    private async Task SetUpAsync()
    {
        Teardown(); // what a killed earlier run left
        Directory.CreateDirectory(dir);
        Sh($"ip link add {Bridge} type bridge && ip link set {Bridge} up");
        Sh($"iptables -I FORWARD -i {Bridge} -o {Bridge} -m comment --comment containers-dotnet-test:{Bridge} -j ACCEPT"); // bridged frames pass the host's FORWARD chain (br_netfilter)
        foreach (var (name, ip) in EtcdMachines.Concat(Machines).Append(("client", Lan + ".100")))
        {
            Sh($"ip netns add cdha-{name} && ip link add cdha-{name} type veth peer name eth0 netns cdha-{name} && ip link set cdha-{name} master {Bridge} up"
               + $" && ip -n cdha-{name} addr add {ip}/24 dev eth0 && ip -n cdha-{name} link set eth0 up && ip -n cdha-{name} link set lo up");
        }

        string cluster = string.Join(',', EtcdMachines.Select(m => $"{m.Name}=http://{m.Ip}:2380"));
        foreach (var (name, ip) in EtcdMachines)
        {
            Start(name, "etcd", "--name", name, "--data-dir", $"/dev/shm/{Path.GetFileName(dir)}-{name}", "--listen-client-urls", $"http://{ip}:2379", "--advertise-client-urls", $"http://{ip}:2379",
                "--listen-peer-urls", $"http://{ip}:2380", "--initial-advertise-peer-urls", $"http://{ip}:2380", "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--heartbeat-interval", "100", "--election-timeout", "1000", "--log-level", "warn");
        }

        await UntilAsync(() => Run("cdha-client", "etcdctl", "--endpoints", Endpoints, "endpoint", "health").Code == 0, "etcd is not healthy", 30);
        // each server machine is a node too, with a pod subnet of its own, joined to the others by host routes
        string tar = Path.Combine(dir, "rootfs.tar");
        await System.Formats.Tar.TarFile.CreateFromDirectoryAsync(TestRootfs.Path, tar, includeBaseDirectory: false);
        for (int i = 0; i < Servers.Length; i++)
        {
            var (name, ip) = Servers[i];
            var import = Run(null, Cli, "--root", Path.Combine(dir, name), "import", "-c", "CMD [\"/bin/sh\"]", "-c", "ENV PATH=/bin", tar, "web:v1");
            Assert.True(import.Code == 0, import.Err);
            // c3 joins as kubeadm join --control-plane does: its token vouches for the CA it must then find in etcd
            string[] verb = name == "c3" ? ["join", "--control-plane", "--server", $"https://{Vip}:6443"] : ["server"];
            serverArgs[name] = ["--root", Path.Combine(dir, name), "cluster", .. verb, "--name", name, "--etcd", Endpoints,
                "--advertise-address", ip, "--vip", Vip, "--vip-interface", "eth0",
                "--nodes", "1", "--pod-subnet", $"10.244.{i + 1}.0/24", "--node-interface", "eth0",
                "--leader-elect-lease-duration", "5s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s", "--token", Token];
            Start(name, Cli, [.. serverArgs[name]]);
        }

        var started = Stopwatch.StartNew();
        foreach (var (name, _) in Servers)
        {
            try
            {
                await UntilAsync(() => File.Exists(Path.Combine(dir, name, "cluster", "pid")), "", 60);
            }
            catch (TimeoutException)
            {
                // seen a few times in full runs, never alone: a server whose start stalls (the trace below says where);
                // said in the output, the start tried once more, and the test fails if that one stalls too
                output.WriteLine($"server {name} did not start within 60 s; its log:\n{Log(name)}\nstarting it again");
                processes[name].Kill();
                processes[name].WaitForExit();
                Start(name, Cli, [.. serverArgs[name]]);
                await UntilAsync(() => File.Exists(Path.Combine(dir, name, "cluster", "pid")), $"server {name} did not start: {string.Join("\n", processes.Keys.Select(m => $"--- {m}: {Log(m)}"))}", 120);
            }

            output.WriteLine($"server {name} up after {started.Elapsed.TotalSeconds:0.0} s");
        }

        // three worker machines join through the virtual IP with the bootstrap token: their node certificates come from CSRs
        foreach (var (name, _, subnet) in Workers)
        {
            foreach (var (tag, version) in new[] { ("web:v1", "v1"), ("web:v2", "v2") })
            {
                var import = Run(null, Cli, "--root", Path.Combine(dir, name), "import", "-c", "CMD [\"/bin/sh\"]", "-c", "ENV PATH=/bin", "-c", $"ENV VERSION={version}", tar, tag);
                Assert.True(import.Code == 0, import.Err);
            }

            Start(name, Cli, ["--root", Path.Combine(dir, name), "cluster", "join", "--server", $"https://{Vip}:6443", "--token", Token, "--name", name, "--node-interface", "eth0", .. subnet is null ? Array.Empty<string>() : ["--pod-subnet", subnet]]);
        }

        foreach (var (name, _, _) in Workers)
        {
            await UntilAsync(() => File.Exists(Path.Combine(dir, name, "cluster", "pid")), $"{name} did not join: {Log(name)}", 60);
            output.WriteLine($"worker {name} joined after {started.Elapsed.TotalSeconds:0.0} s");
        }
    }

    public Task DisposeAsync()
    {
        foreach (var (name, p) in processes.OrderBy(p => EtcdMachines.Any(e => e.Name == p.Key))) // the servers before etcd: their clean-up reads it
        {
            if (!p.HasExited)
            {
                p.Kill();
                p.WaitForExit();
            }

            output.WriteLine($"--- {name} (last lines)\n{string.Join('\n', Log(name).Split('\n').TakeLast(15))}");
            p.Dispose();
        }

        foreach (var (name, _) in Machines)
        {
            if (Directory.Exists(Path.Combine(dir, name)))
            {
                var psi = InMachine(name, cgroups: true, "", [Cli, "--root", Path.Combine(dir, name), "cluster", "delete"]); // its pods' containers, their network and rules
                psi.Environment["CONTAINERS_MACHINE_STATE"] = Path.Combine(dir, name, "machine");
                psi.RedirectStandardOutput = psi.RedirectStandardError = true;
                using var delete = Process.Start(psi)!;
                output.WriteLine($"cluster delete on {name}: {delete.StandardOutput.ReadToEnd()}{delete.StandardError.ReadToEnd()}");
                delete.WaitForExit();
            }
        }

        Teardown();
        foreach (var (name, _) in EtcdMachines)
        {
            if (Directory.Exists($"/dev/shm/{Path.GetFileName(dir)}-{name}"))
            {
                Directory.Delete($"/dev/shm/{Path.GetFileName(dir)}-{name}", recursive: true);
            }
        }

        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_virtual_IP_and_the_controllers_move_when_the_leader_is_killed_and_writes_resume_when_the_etcd_leader_is_killed()
    {
        // the user's kubectl at the virtual IP
        await UntilAsync(() => Kubectl("get", "--raw", "/version").Code == 0, "the API does not answer at the virtual IP", 30);
        var leases = await EventuallyAsync(() => Kubectl("get", "leases", "-n", "kube-system") is { Code: 0 } r && r.Out.Contains("kube-controller-manager", StringComparison.Ordinal) && r.Out.Contains("containers-vip", StringComparison.Ordinal) ? r.Out : null, "no leases");
        output.WriteLine(leases);
        string vipHolder = Holder("containers-vip");
        string controllers = Holder("kube-controller-manager");
        Assert.Contains(Servers, s => vipHolder.StartsWith(s.Name + "_", StringComparison.Ordinal));
        Assert.Equal(1, Servers.Count(s => Run($"cdha-{s.Name}", "ip", "-4", "-o", "addr", "show", "eth0").Out.Contains(Vip + "/32", StringComparison.Ordinal))); // one machine holds it

        // objects made through the virtual IP are seen by every API server
        Assert.Equal(0, Kubectl("create", "deployment", "web", "--image=web:v1", "--replicas=2").Code);
        await UntilAsync(() => Kubectl("get", "replicasets", "-o", "name").Out.Contains("replicaset.apps/web-", StringComparison.Ordinal), "the controllers did not act");
        foreach (var (name, ip) in Servers)
        {
            Assert.Contains("web", Curl($"https://{ip}:6443/apis/apps/v1/namespaces/default/deployments").Out, StringComparison.Ordinal);
        }

        // a watch through the virtual IP; a writer makes ConfigMaps all along
        string rv = (string)JsonNode.Parse(Curl($"https://{Vip}:6443/api/v1/namespaces/default/configmaps").Out)!["metadata"]!["resourceVersion"]!;
        var watched = new List<string>();
        using var writing = new CancellationTokenSource();
        var made = new List<string>();
        var writer = Task.Run(async () =>
        {
            for (int i = 0; !writing.IsCancellationRequested; i++)
            {
                if (Kubectl("create", "configmap", $"cm-{i}").Code == 0)
                {
                    lock (made)
                    {
                        made.Add($"cm-{i}");
                    }
                }

                await Task.Delay(100);
            }
        });
        var watching = Task.Run(async () =>
        {
            // as client-go's reflector: watch from the last resourceVersion seen; when the connection breaks, watch again from there
            int Seen()
            {
                lock (watched)
                {
                    return watched.Count(n => n.StartsWith("cm-", StringComparison.Ordinal));
                }
            }

            while (!writing.IsCancellationRequested || Seen() < made.Count)
            {
                using var curl = Process.Start(CurlStart($"https://{Vip}:6443/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=60"))!;
                while (await curl.StandardOutput.ReadLineAsync() is { } line)
                {
                    var e = JsonNode.Parse(line)!;
                    if ((string?)e["type"] == "ADDED")
                    {
                        lock (watched)
                        {
                            watched.Add((string)e["object"]!["metadata"]!["name"]!);
                        }
                    }

                    rv = (string)e["object"]!["metadata"]!["resourceVersion"]!;
                    if (writing.IsCancellationRequested && Seen() >= made.Count)
                    {
                        curl.Kill();
                        break;
                    }
                }

                await curl.WaitForExitAsync();
                await Task.Delay(100);
            }
        });
        await Task.Delay(1500);

        // SIGKILL the machine that holds the virtual IP (its API server, controllers and address holder)
        string victim = Servers.First(s => vipHolder.StartsWith(s.Name + "_", StringComparison.Ordinal)).Name;
        var clock = Stopwatch.StartNew();
        processes[victim].Kill();
        await UntilAsync(() => Curl($"https://{Vip}:6443/version", timeout: 1).Code == 0 && !Holder("containers-vip").StartsWith(victim + "_", StringComparison.Ordinal), "the virtual IP did not move", 30);
        var vipBack = clock.Elapsed;
        string newControllers = controllers.StartsWith(victim + "_", StringComparison.Ordinal)
            ? await EventuallyAsync(() => Holder("kube-controller-manager") is { } h && !h.StartsWith(victim + "_", StringComparison.Ordinal) ? h : null, "no new controller leader")
            : Holder("kube-controller-manager");
        var controllersBack = clock.Elapsed;
        output.WriteLine($"killed {victim}: the virtual IP answered from {Holder("containers-vip")} after {vipBack.TotalSeconds:0.00} s; controller leader {newControllers} after {controllersBack.TotalSeconds:0.00} s (5/3/1 s lease settings)");
        Assert.True(vipBack < TimeSpan.FromSeconds(10), $"the virtual IP took {vipBack}");

        // the new controller leader works: a scale is carried out
        Assert.Equal(0, Kubectl("scale", "deployment/web", "--replicas=3").Code);
        await UntilAsync(() => Kubectl("get", "pods", "-o", "name").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 3, "the new leader did not scale");

        // SIGKILL the etcd leader: writes resume
        var status = JsonNode.Parse(Run("cdha-client", "etcdctl", "--endpoints", Endpoints, "endpoint", "status", "-w", "json").Out)!.AsArray();
        ulong leaderId = (ulong)status[0]!["Status"]!["leader"]!;
        string etcdLeader = EtcdMachines[status.Select((s, i) => (s, i)).First(p => (ulong)p.s!["Status"]!["header"]!["member_id"]! == leaderId).i].Name;
        clock.Restart();
        processes[etcdLeader].Kill();
        await UntilAsync(() => KubectlUntimed("--request-timeout=1s", "create", "configmap", $"after-{Guid.NewGuid():N}"[..20]).Code == 0, "writes did not resume after the etcd leader died", 30);
        var writesBack = clock.Elapsed;
        output.WriteLine($"killed etcd leader {etcdLeader}: writes resumed after {writesBack.TotalSeconds:0.00} s");

        // the watch missed nothing: every ConfigMap the writer made was seen once, in order
        await writing.CancelAsync();
        await writer;
        await watching.WaitAsync(TimeSpan.FromSeconds(60));
        var seen = watched.Where(n => n.StartsWith("cm-", StringComparison.Ordinal)).ToList();
        output.WriteLine($"writer made {made.Count} ConfigMaps during the failovers (acknowledged); the resumed watch saw {seen.Count}");
        Assert.Equal(seen.Distinct(), seen); // each once
        Assert.Equal(made, seen.Where(made.Contains)); // every acknowledged one, in order (one whose answer timed out may be there too)
        Assert.All(seen, n => Assert.Equal(0, Kubectl("get", "configmap", n).Code));
    }

    [Fact]
    public async Task Pods_on_six_machines_three_joined_reach_each_other_by_IP_and_a_Service_by_name_and_NodePorts_answer_on_every_machine()
    {
        await UntilAsync(() => Kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}").Out.Trim() == "True True True True True True", "six Ready nodes", 60);
        output.WriteLine(Kubectl("get", "nodes", "-o", "wide").Out);
        // the joined machine's certificate came from a CSR of its bootstrap token, approved and signed by the controller
        var csrs = Kubectl("get", "csr", "-o", "jsonpath={range .items[*]}{.spec.username} {.spec.signerName} {.status.conditions[0].type} {.status.certificate}{\"\\n\"}{end}").Out;
        output.WriteLine(Kubectl("get", "csr").Out);
        Assert.Contains("system:bootstrap:abcdef kubernetes.io/kube-apiserver-client-kubelet Approved LS0t", csrs, StringComparison.Ordinal);
        Assert.Contains("CN=system:node:w1", Run(null, "openssl", "x509", "-noout", "-subject", "-in", Path.Combine(dir, "w1", "cluster", "node", "kubelet.crt")).Out.Replace(" ", "", StringComparison.Ordinal), StringComparison.Ordinal);
        // a wrong token is refused before anything is trusted: the cluster-info signature does not match
        var wrong = Run("cdha-client", Cli, "--root", Path.Combine(dir, "intruder"), "cluster", "join", "--server", $"https://{Vip}:6443", "--token", "abcdef.ffffffffffffffff", "--name", "intruder", "--node-interface", "eth0", "--pod-subnet", "10.244.9.0/24");
        Assert.NotEqual(0, wrong.Code);
        Assert.Contains("signature for token id abcdef does not match", wrong.Err, StringComparison.Ordinal);

        string manifest = Path.Combine(dir, "web.yaml");
        await File.WriteAllTextAsync(manifest, """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 6
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}]
                  containers:
                  - name: web
                    image: web:v1
                    command: ["sh", "-c", "mkdir -p /www && echo hello from $(hostname) > /www/index.html && echo serving on $(hostname) && exec httpd -f -p 8080 -h /www"]
                    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec: {type: NodePort, selector: {app: web}, ports: [{port: 8080, targetPort: 8080, nodePort: 30080}]}
            """);
        Assert.Equal(0, KubectlUntimed("apply", "-f", manifest).Code);
        await UntilAsync(() => Kubectl("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}").Out.Trim() == "6", "six ready pods", 90);
        var pods = JsonNode.Parse(Kubectl("get", "pods", "-l", "app=web", "-o", "json").Out)!["items"]!.AsArray()
            .Select(p => (Name: (string)p!["metadata"]!["name"]!, Node: (string)p["spec"]!["nodeName"]!, Ip: (string)p["status"]!["podIP"]!)).ToList();
        output.WriteLine(string.Join('\n', pods));
        Assert.Equal(["c1", "c2", "c3", "w1", "w2", "w3"], pods.Select(p => p.Node).Order()); // one on each machine
        var subnets = JsonNode.Parse(Kubectl("get", "nodes", "-o", "json").Out)!["items"]!.AsArray().ToDictionary(n => (string)n!["metadata"]!["name"]!, n => (string)n!["spec"]!["podCIDR"]!);
        output.WriteLine(string.Join(", ", subnets.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.Equal(["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24", "10.244.4.0/24"], new[] { "c1", "c2", "c3", "w1" }.Select(n => subnets[n])); // as they were given
        Assert.Equal(6, subnets.Values.Distinct().Count()); // w2's and w3's from the node IPAM, of their own
        Assert.All(pods, p => Assert.True(System.Net.IPNetwork.Parse(subnets[p.Node]).Contains(System.Net.IPAddress.Parse(p.Ip)), $"{p.Name} {p.Ip} is not in {p.Node}'s {subnets[p.Node]}")); // each machine's own pod subnet

        // host routes: each machine reaches the other machines' pod subnets through them, the joined one too
        Assert.Contains("10.244.3.0/24 via 10.231.0.23", Run("cdha-c1", "ip", "route").Out, StringComparison.Ordinal);
        Assert.Contains("10.244.4.0/24 via 10.231.0.31", Run("cdha-c2", "ip", "route").Out, StringComparison.Ordinal);
        Assert.Contains("10.244.1.0/24 via 10.231.0.21", Run("cdha-w1", "ip", "route").Out, StringComparison.Ordinal);
        Assert.Contains($"{subnets["w3"]} via 10.231.0.33", Run("cdha-w1", "ip", "route").Out, StringComparison.Ordinal);

        // exec and logs of a pod on another machine than the API server the VIP leads to: the API server forwards them
        // to that machine's node endpoint. From the joined worker's pod: the other machines' pods by IP, with the
        // client's own pod IP as the source (no masquerade between pods), and the Service by name
        string holder = Holder("containers-vip")[..2];
        var client = pods.Single(p => p.Node == "w1");
        Assert.Contains($"serving on {client.Name}", Kubectl("logs", client.Name).Out, StringComparison.Ordinal);
        var elsewhere = pods.First(p => p.Node != holder && p.Node[0] == 'c'); // another control-plane machine's
        Assert.Contains($"serving on {elsewhere.Name}", Kubectl("logs", elsewhere.Name).Out, StringComparison.Ordinal);
        foreach (var other in pods.Where(p => p != client))
        {
            var answer = Kubectl("exec", client.Name, "--", "timeout", "5", "wget", "-qO-", $"http://{other.Ip}:8080/"); // busybox's wget -T crashes
            Assert.True(answer.Out.Contains($"hello from {other.Name}", StringComparison.Ordinal), $"{client.Name} ({client.Ip}) -> {other.Name} ({other.Ip}): {answer.Out}{answer.Err}");
        }

        var byName = Kubectl("exec", client.Name, "--", "timeout", "5", "wget", "-qO-", "http://web.default.svc.cluster.local:8080/");
        Assert.True(byName.Out.Contains("hello from web-", StringComparison.Ordinal), byName.Out + byName.Err);

        // the NodePort answers on every machine's LAN address, and each machine balances over the pods of all six
        foreach (var (name, ip) in Machines)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < 40 && seen.Count < 6; i++)
            {
                var r = Curl($"http://{ip}:30080/", 3, plain: true);
                Assert.True(r.Code == 0, $"NodePort on {name}: {r.Err}");
                seen.Add(r.Out.Trim());
            }

            Assert.Equal(6, seen.Count);
        }
    }

    [Fact]
    public async Task The_course_stories_run_on_the_three_joined_workers_scaling_a_rolling_update_and_its_undo_drain_and_uncordon()
    {
        await UntilAsync(() => Kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}").Out.Trim() == "True True True True True True", "six Ready nodes", 60);
        foreach (var (name, _, _) in Workers)
        {
            Assert.Equal(0, Kubectl("label", "node", name, "tier=worker").Code);
        }

        string manifest = Path.Combine(dir, "story.yaml");
        await File.WriteAllTextAsync(manifest, """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: story}
            spec:
              replicas: 3
              strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
              selector: {matchLabels: {app: story}}
              template:
                metadata: {labels: {app: story}}
                spec:
                  nodeSelector: {tier: worker}
                  terminationGracePeriodSeconds: 1
                  topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: story}}}]
                  containers:
                  - name: web
                    image: web:v1
                    command: ["sh", "-c", "mkdir -p /www && echo version $VERSION > /www/index.html && exec httpd -f -p 8080 -h /www"]
                    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: story}
            spec: {type: NodePort, selector: {app: story}, ports: [{port: 8080, targetPort: 8080, nodePort: 30081}]}
            """);
        Assert.Equal(0, KubectlUntimed("apply", "-f", manifest).Code);
        var clock = Stopwatch.StartNew();
        await UntilAsync(() => Ready() == 3, "three ready pods", 90);
        output.WriteLine($"3 pods ready after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(["w1", "w2", "w3"], PodNodes().Order());

        // scaling: six pods, two on each worker
        clock.Restart();
        Assert.Equal(0, Kubectl("scale", "deployment", "story", "--replicas=6").Code);
        await UntilAsync(() => Ready() == 6, "six ready pods", 90);
        output.WriteLine($"scaled to 6 in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.All(PodNodes().GroupBy(n => n), g => Assert.Equal(2, g.Count()));

        // a rolling update to v2 (one pod more at a time, none less), then its undo; the NodePort answers with each version
        foreach (var (change, version) in new[] { (new[] { "set", "image", "deployment/story", "web=web:v2" }, "v2"), (new[] { "rollout", "undo", "deployment/story" }, "v1") })
        {
            clock.Restart();
            Assert.Equal(0, Kubectl(change).Code);
            var status = KubectlUntimed("rollout", "status", "deployment/story", "--timeout=150s");
            Assert.True(status.Code == 0, status.Out + status.Err);
            output.WriteLine($"kubectl {string.Join(' ', change)}: rolled out in {clock.Elapsed.TotalSeconds:0.0} s");
            await UntilAsync(() => Kubectl("get", "pods", "-l", "app=story", "-o", "jsonpath={.items[*].spec.containers[0].image}").Out.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: 6 } images && images.All(i => i == "web:" + version), $"six pods of web:{version}", 30);
            Assert.Equal($"version {version}", Curl($"http://{Workers[0].Ip}:30081/", 3, plain: true).Out.Trim());
        }

        Assert.Contains("3 ", Kubectl("rollout", "history", "deployment/story").Out, StringComparison.Ordinal); // revisions 2 and 3 (1 came back as 3)

        // drain a worker: it is cordoned, its pods evicted and made again on the other two; uncordon: new pods land there again
        clock.Restart();
        var drain = KubectlUntimed("drain", "w2", "--ignore-daemonsets", "--timeout=120s");
        Assert.True(drain.Code == 0, drain.Out + drain.Err);
        Assert.Equal("true", Kubectl("get", "node", "w2", "-o", "jsonpath={.spec.unschedulable}").Out.Trim());
        await UntilAsync(() => Ready() == 6 && PodNodes() is { Count: 6 } nodes && !nodes.Contains("w2"), "six ready pods off w2", 90);
        output.WriteLine($"drained w2 in {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(' ', PodNodes().Order())}");
        Assert.Equal(0, Kubectl("uncordon", "w2").Code);
        Assert.Equal(0, Kubectl("scale", "deployment", "story", "--replicas=9").Code);
        await UntilAsync(() => Ready() == 9, "nine ready pods", 90);
        Assert.Contains("w2", PodNodes());

        int Ready() => int.TryParse(Kubectl("get", "deployment", "story", "-o", "jsonpath={.status.readyReplicas}").Out.Trim(), out int n) ? n : 0;
        List<string> PodNodes() => [.. Kubectl("get", "pods", "-l", "app=story", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].spec.nodeName}").Out.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
    }

    private string Holder(string lease) => Kubectl("get", "lease", "-n", "kube-system", lease, "-o", "jsonpath={.spec.holderIdentity}").Out.Trim();

    /// <summary>kubectl from the client machine without a request timeout (for its own --timeout: rollout status, drain).</summary>
    private (int Code, string Out, string Err) KubectlUntimed(params string[] args) =>
        Run("cdha-client", ["env", $"KUBECONFIG={Path.Combine(dir, "c1", "kubeconfig")}", "kubectl", .. args]);

    private (int Code, string Out, string Err) Kubectl(params string[] args) => KubectlUntimed(["--request-timeout=5s", .. args]);

    private (int Code, string Out, string Err) Curl(string url, int timeout = 5, bool plain = false)
    {
        var psi = plain ? new ProcessStartInfo("ip", ["netns", "exec", "cdha-client", "curl", "-sf", "--max-time", timeout.ToString(CultureInfo.InvariantCulture), url]) { RedirectStandardOutput = true, RedirectStandardError = true } : CurlStart(url, timeout);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, text, err.Result);
    }

    private ProcessStartInfo CurlStart(string url, int? timeout = null)
    {
        string pki = Path.Combine(dir, "c1", "cluster", "pki");
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", "cdha-client", "curl", "-sfN", "--cacert", Path.Combine(pki, "ca.crt"), "--cert", Path.Combine(pki, "admin.crt"), "--key", Path.Combine(pki, "admin.key") })
        {
            psi.ArgumentList.Add(a);
        }

        if (timeout is { } t)
        {
            psi.ArgumentList.Add("--max-time");
            psi.ArgumentList.Add(t.ToString(CultureInfo.InvariantCulture));
        }

        psi.ArgumentList.Add(url);
        return psi;
    }

    /// <summary>
    /// Runs a machine's process in its network namespace. An etcd member through <c>ip netns exec</c>; a server (it runs
    /// pods) the same way but keeping the cgroup hierarchies: ip netns exec mounts a sysfs of the namespace on /sys,
    /// which hides /sys/fs/cgroup, so the server gets a mount namespace of its own with the namespace's sysfs and the
    /// machine's cgroup mounts bound back under it, as a real machine has both.
    /// </summary>
    private static ProcessStartInfo InMachine(string machine, bool cgroups, string command, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(cgroups ? "nsenter" : "ip");
        string[] prefix = cgroups
            ? [$"--net=/run/netns/cdha-{machine}", "unshare", "--mount", "--propagation", "private", "sh", "-c",
               "set -e; cg=$(mktemp -d); mount --rbind /sys/fs/cgroup \"$cg\"; mount -t sysfs sysfs /sys; mount --rbind \"$cg\" /sys/fs/cgroup; umount -l \"$cg\"; rmdir \"$cg\"; exec \"$@\" " + command, "sh"]
            : ["netns", "exec", $"cdha-{machine}", "sh", "-c", "exec \"$@\" " + command, "sh"];
        foreach (var a in prefix.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    private void Start(string machine, string file, params string[] args)
    {
        var psi = InMachine(machine, Machines.Any(s => s.Name == machine), ">>\"$LOG\" 2>&1", [file, .. args]);
        psi.RedirectStandardInput = true;

        psi.Environment["LOG"] = Path.Combine(dir, machine + ".log");
        psi.Environment["CONTAINERS_MACHINE_STATE"] = Path.Combine(dir, machine, "machine"); // each machine's own
        psi.Environment["CONTAINERS_CLUSTER_TRACE"] = "1"; // the servers' every step, timed, in their logs
        processes[machine] = Process.Start(psi)!; // nsenter, unshare, ip netns exec and sh all exec: the PID is the process itself
    }

    private string Log(string machine) => File.Exists(Path.Combine(dir, machine + ".log")) ? File.ReadAllText(Path.Combine(dir, machine + ".log")) : "";

    private static (int Code, string Out, string Err) Run(string? ns, params string[] args) =>
        ns is null ? TestShell.Run(args[0], args[1..]) : TestShell.Run("ip", ["netns", "exec", ns, .. args]);

    private static void Sh(string command) => TestShell.Sh(command);

    private static void Teardown()
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c",
            $"for n in e1 e2 e3 c1 c2 c3 w1 w2 w3 client; do ip netns del cdha-$n 2>/dev/null; ip link del cdha-$n 2>/dev/null; done; ip link del {Bridge} 2>/dev/null;"
            + $" while iptables -D FORWARD -i {Bridge} -o {Bridge} -m comment --comment containers-dotnet-test:{Bridge} -j ACCEPT 2>/dev/null; do :; done; true"]))!;
        p.WaitForExit();
    }

    private static async Task UntilAsync(Func<bool> condition, string what, int seconds = 20)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException(what);
            }

            await Task.Delay(100);
        }
    }

    private static async Task<T> EventuallyAsync<T>(Func<T?> probe, string what, int seconds = 20)
        where T : class
    {
        T? found = null;
        await UntilAsync(() => (found = probe()) is not null, what, seconds);
        return found!;
    }
}

/// <summary>The multi-machine test runs with no other test of its assembly beside it.</summary>
[CollectionDefinition(nameof(MultiMachineTests), DisableParallelization = true)]
public sealed class MultiMachineCollection;
