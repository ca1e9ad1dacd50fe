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
    // tuned for a lost machine: a heartbeat a second, NotReady after 4 s of silence, its pods evicted 2 s later
    private static readonly string[] NodeTimings = ["--node-status-update-frequency", "1s", "--metric-resolution", "2s"];
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
            AddMachine(name, ip);
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
                "--leader-elect-lease-duration", "5s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s", "--token", Token,
                .. NodeTimings, "--node-monitor-grace-period", "4s", "--default-not-ready-toleration-seconds", "2", "--default-unreachable-toleration-seconds", "2"];
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

            Start(name, Cli, ["--root", Path.Combine(dir, name), "cluster", "join", "--server", $"https://{Vip}:6443", "--token", Token, "--name", name, "--node-interface", "eth0", .. NodeTimings, .. subnet is null ? Array.Empty<string>() : ["--pod-subnet", subnet]]);
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

        // kubectl top through the virtual IP: the API server reads the usage of other machines' nodes from their node
        // endpoints (the kubelet's Summary API, as metrics-server did), so the joined workers' pods are listed too
        await UntilAsync(() => Kubectl("top", "pods", "--no-headers").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("web-", StringComparison.Ordinal)) == 6, "kubectl top pods lists the six pods", 60);
        var top = Kubectl("top", "nodes", "--no-headers").Out;
        output.WriteLine(top);
        Assert.All(Machines, m => Assert.Contains(m.Name + " ", top, StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_course_stack_runs_on_the_three_joined_workers_scaled_rolled_out_under_load_undone_drained_and_survives_a_lost_worker()
    {
        await UntilAsync(() => Kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}").Out.Trim() == "True True True True True True", "six Ready nodes", 60);

        // the course's three images, built once by our builder FROM the busybox base (as course-base), saved, and
        // loaded on each worker as a user would copy them to machines without a registry
        string build = Path.Combine(dir, "build");
        string tar = Path.Combine(dir, "rootfs.tar");
        Assert.Equal(0, Run(null, Cli, "--root", build, "import", "-c", "CMD [\"/bin/sh\"]", "-c", "ENV PATH=/usr/local/bin:/usr/bin:/bin", tar, "localhost/course-base:1").Code);
        string samples = Path.Combine(RepositoryRoot(), "samples", "CourseStack");
        foreach (string part in new[] { "frontend", "backend", "database" })
        {
            var built = Run(null, Cli, "--root", build, "build", "-q", "--network", "none", "-t", $"localhost/course-{part}:1", Path.Combine(samples, part));
            Assert.True(built.Code == 0, built.Out + built.Err);
        }

        Assert.Equal(0, Run(null, Cli, "--root", build, "tag", "localhost/course-backend:1", "localhost/course-backend:2").Code); // the "new version" of the rolling update
        string images = Path.Combine(dir, "course-images.tar");
        var saved = Run(null, Cli, "--root", build, "save", "-o", images, "localhost/course-frontend:1", "localhost/course-backend:1", "localhost/course-backend:2", "localhost/course-database:1");
        Assert.True(saved.Code == 0, saved.Err);
        foreach (var (name, _, _) in Workers)
        {
            var loaded = Run(null, Cli, "--root", Path.Combine(dir, name), "load", "-i", images);
            Assert.True(loaded.Code == 0, loaded.Err);
        }

        // the control-plane machines take no pods (as kubeadm's control-plane taint): the stack lands on the workers
        foreach (var (name, _) in Servers)
        {
            Assert.Equal(0, Kubectl("cordon", name).Code);
        }

        var clock = Stopwatch.StartNew();
        var applied = KubectlUntimed("apply", "-f", Path.Combine(AppContext.BaseDirectory, "CourseStack", "k8s"));
        Assert.True(applied.Code == 0, applied.Out + applied.Err);
        await UntilAsync(() => Ready("frontend") == 2 && Ready("backend") == 2 && Ready("database") == 1, "the course stack is not ready", 120);
        output.WriteLine($"course stack ready on the workers after {clock.Elapsed.TotalSeconds:0.0} s:\n{Kubectl("get", "pods", "-o", "wide").Out}");
        Assert.All(PodNodes(null), n => Assert.StartsWith("w", n, StringComparison.Ordinal));

        // an order through the frontend's NodePort at the virtual IP: frontend -> backend -> database by service names, across machines
        var order = Run("cdha-client", "curl", "-sf", "--max-time", "10", "-X", "POST", "--data", "course-book", $"http://{Vip}:30100/cgi-bin/orders");
        Assert.True(order.Code == 0 && order.Out.Contains("course-book", StringComparison.Ordinal), $"the order was not taken: {order.Code} {order.Out} {order.Err}");

        // scaling: the backend on all three workers
        clock.Restart();
        Assert.Equal(0, Kubectl("scale", "deployment", "backend", "--replicas=6").Code);
        await UntilAsync(() => Ready("backend") == 6, "six ready backends", 90);
        output.WriteLine($"backend scaled to 6 in {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(' ', PodNodes("backend").Order())}");
        Assert.Equal(["w1", "w2", "w3"], PodNodes("backend").Distinct().Order());

        // a rolling update and its undo while a client hammers the NodePort at the virtual IP (a new connection per
        // request; each must list the order, so the whole chain of services answered)
        string hammerLog = Path.Combine(dir, "hammer.log");
        var hammer = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", "cdha-client", "sh", "-c",
            $"while :; do if curl -sf --max-time 5 http://{Vip}:30100/cgi-bin/orders | grep -q course-book; then echo ok; else echo fail; fi; done > {hammerLog}"]))!;
        try
        {
            foreach (var change in new[] { new[] { "set", "image", "deployment/backend", "backend=localhost/course-backend:2" }, ["rollout", "undo", "deployment/backend"] })
            {
                clock.Restart();
                Assert.Equal(0, Kubectl(change).Code);
                var status = KubectlUntimed("rollout", "status", "deployment/backend", "--timeout=150s");
                Assert.True(status.Code == 0, status.Out + status.Err);
                output.WriteLine($"kubectl {string.Join(' ', change)}: rolled out in {clock.Elapsed.TotalSeconds:0.0} s");
            }

            await Task.Delay(1000);
        }
        finally
        {
            hammer.Kill(entireProcessTree: true);
            await hammer.WaitForExitAsync();
        }

        var answers = File.ReadAllLines(hammerLog);
        output.WriteLine($"requests at the virtual IP during the rolling update and its undo: {answers.Count(a => a == "ok")} answered, {answers.Count(a => a == "fail")} failed");
        Assert.DoesNotContain("fail", answers);
        Assert.True(answers.Length > 20, $"only {answers.Length} requests were made");
        Assert.Equal("localhost/course-backend:1", Kubectl("get", "deployment", "backend", "-o", "jsonpath={.spec.template.spec.containers[0].image}").Out.Trim());
        Assert.Contains("3 ", Kubectl("rollout", "history", "deployment/backend").Out, StringComparison.Ordinal); // revisions 2 and 3 (1 came back as 3)

        // drain a worker that does not hold the database: its volume is a local path on the disk of its node, which the
        // volume's node affinity now names (a database moved elsewhere would start without its data); the drained
        // worker's pods are evicted and made again on the other two; uncordon: new pods land there again
        string database = PodNodes("database").Single();
        string volume = Kubectl("get", "pvc", "database-data", "-o", "jsonpath={.spec.volumeName}").Out.Trim();
        Assert.Equal(database, Kubectl("get", "pv", volume, "-o", "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}").Out.Trim());
        string drained = Workers.Select(w => w.Name).First(w => w != database);
        clock.Restart();
        var drain = KubectlUntimed("drain", drained, "--ignore-daemonsets", "--timeout=120s");
        Assert.True(drain.Code == 0, drain.Out + drain.Err);
        await UntilAsync(() => Ready("backend") == 6 && Ready("frontend") == 2 && !PodNodes(null).Contains(drained), $"the stack off {drained}", 90);
        output.WriteLine($"drained {drained} in {clock.Elapsed.TotalSeconds:0.0} s: {string.Join(' ', PodNodes(null).Order())}");
        Assert.Equal(0, Kubectl("uncordon", drained).Code);
        Assert.Equal(0, Kubectl("scale", "deployment", "backend", "--replicas=9").Code);
        await UntilAsync(() => Ready("backend") == 9, "nine ready backends", 90);
        Assert.Contains(drained, PodNodes("backend"));

        // a worker is lost (its agent SIGKILLed and its network gone, as a machine that dies): NotReady, its pods
        // evicted and Running elsewhere
        string lost = drained;
        clock.Restart();
        processes[lost].Kill();
        Sh($"ip -n cdha-{lost} link set eth0 down");
        await UntilAsync(() => Kubectl("get", "node", lost, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}").Out.Trim() == "Unknown", $"{lost} did not go NotReady", 30);
        var notReady = clock.Elapsed;
        await UntilAsync(() => ReadyOn("backend").Count(n => n != lost) == 9, $"the backends of {lost} were not replaced", 60);
        var elsewhere = clock.Elapsed;
        output.WriteLine($"lost {lost}: NotReady after {notReady.TotalSeconds:0.0} s, its pods Running and ready elsewhere after {elsewhere.TotalSeconds:0.0} s (heartbeat 1 s, grace 4 s, toleration 2 s)");
        Assert.True(elsewhere < TimeSpan.FromSeconds(20), $"the pods took {elsewhere} to be Running elsewhere");
        var after = Run("cdha-client", "curl", "-sf", "--max-time", "10", $"http://{Vip}:30100/cgi-bin/orders");
        Assert.Contains("course-book", after.Out, StringComparison.Ordinal);

        int Ready(string app) => int.TryParse(Kubectl("get", "deployment", app, "-o", "jsonpath={.status.readyReplicas}").Out.Trim(), out int n) ? n : 0;
        List<string> PodNodes(string? app) => [.. Kubectl(["get", "pods", .. app is null ? Array.Empty<string>() : ["-l", "app=" + app], "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].spec.nodeName}"]).Out.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        IEnumerable<string> ReadyOn(string app) => Kubectl("get", "pods", "-l", "app=" + app, "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.metadata.deletionTimestamp} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}").Out
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).Where(f => f.Length == 3 && f[1].Length == 0 && f[2] == "True").Select(f => f[0]);
    }

    // the Postgres container of the StatefulSet and of the pods on restored claims (indented for a pod spec at column 0)
    private const string PostgresPodSpec = """
        terminationGracePeriodSeconds: 10
        containers:
        - name: postgres
          image: docker.io/library/postgres:15
          env:
          - {name: POSTGRES_USER, value: shop}
          - {name: POSTGRES_PASSWORD, value: secret}
          - {name: PGDATA, value: /var/lib/postgresql/data/pgdata}
          readinessProbe:
            exec:
              command: [pg_isready, -U, shop, -h, 127.0.0.1]
            periodSeconds: 1
          volumeMounts:
          - {name: data, mountPath: /var/lib/postgresql/data}
        """;

    private static string Indent(string text, int spaces) => string.Join('\n', text.Split('\n').Select(l => l.Length == 0 ? l : new string(' ', spaces) + l));

    private static readonly string PostgresManifests = ReplicatedVolumeClusterTests.Classes + $$"""

        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: postgres
        spec:
          clusterIP: None
          selector: {app: postgres}
          ports: [{port: 5432}]
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: postgres
        spec:
          serviceName: postgres
          replicas: 1
          selector:
            matchLabels: {app: postgres}
          template:
            metadata:
              labels: {app: postgres}
            spec:
        {{Indent(PostgresPodSpec, 6)}}
          volumeClaimTemplates:
          - metadata:
              name: data
            spec:
              storageClassName: replicated
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: 256Mi
        """;

    private static string PostgresPod(string name, string claim) => $$"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {{name}}
        spec:
        {{Indent(PostgresPodSpec, 2)}}
          volumes:
          - name: data
            persistentVolumeClaim:
              claimName: {{claim}}
        """;

    private static string Snapshot(string name, string claim, string vsClass) => $"""
        apiVersion: snapshot.storage.k8s.io/v1
        kind: VolumeSnapshot
        metadata:
          name: {name}
        spec:
          volumeSnapshotClassName: {vsClass}
          source:
            persistentVolumeClaimName: {claim}
        """;

    private static string BackupClass(string name, string secret) => $"""
        apiVersion: snapshot.storage.k8s.io/v1
        kind: VolumeSnapshotClass
        metadata:
          name: {name}
        driver: containers.dev/replicated
        deletionPolicy: Delete
        parameters:
          type: bak
          backupTarget: s3://backups/cluster
          csi.storage.k8s.io/snapshotter-secret-name: {secret}
          csi.storage.k8s.io/snapshotter-secret-namespace: default
        """;

    [Fact]
    public async Task Postgres_on_a_three_replica_volume_keeps_every_acknowledged_order_through_a_lost_replica_and_a_lost_node_and_its_snapshot_and_S3_backup_restore()
    {
        await UntilAsync(() => Kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}").Out.Trim() == "True True True True True True", "six Ready nodes", 60);

        // postgres:15 from Debian's packages (the real-world builds' image), saved, and loaded on each worker
        var clock = Stopwatch.StartNew();
        string build = Path.Combine(dir, "pg-build");
        var made = Run(null, Path.Combine(RepositoryRoot(), "samples", "images", "build.sh"), Cli, build, "postgres");
        Assert.True(made.Code == 0, made.Out + made.Err);
        string images = Path.Combine(dir, "postgres.tar");
        Assert.Equal(0, Run(null, Cli, "--root", build, "save", "-o", images, "docker.io/library/postgres:15").Code);
        foreach (var (name, _, _) in Workers)
        {
            var loaded = Run(null, Cli, "--root", Path.Combine(dir, name), "load", "-i", images);
            Assert.True(loaded.Code == 0, loaded.Err);
        }

        output.WriteLine($"postgres:15 made and loaded on the workers in {clock.Elapsed.TotalSeconds:0.0} s");
        foreach (var (name, _) in Servers)
        {
            Assert.Equal(0, Kubectl("cordon", name).Code);
        }

        // an S3 server (s3rver) on the client machine; this host gets an address on the LAN to read replicas
        string s3dir = Directory.CreateDirectory(Path.Combine(dir, "s3")).FullName;
        var s3 = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", "cdha-client", "/opt/containers-dotnet-tests/s3rver/node_modules/.bin/s3rver", "-d", s3dir, "-a", Lan + ".100", "-p", "0", "--configure-bucket", "backups"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        Sh($"ip addr add {Lan}.250/24 dev {Bridge}");
        try
        {
            string s3Endpoint = "";
            while (s3Endpoint.Length == 0)
            {
                var line = await s3.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("s3rver ended: " + await s3.StandardError.ReadToEndAsync());
                if (line.StartsWith("S3rver listening on ", StringComparison.Ordinal))
                {
                    s3Endpoint = "http://" + line["S3rver listening on ".Length..].Trim();
                }
            }

            _ = s3.StandardOutput.ReadToEndAsync();
            _ = s3.StandardError.ReadToEndAsync();
            Assert.Equal(0, Kubectl("create", "secret", "generic", "s3", "--from-literal=AWS_ACCESS_KEY_ID=S3RVER", "--from-literal=AWS_SECRET_ACCESS_KEY=S3RVER", $"--from-literal=AWS_ENDPOINTS={s3Endpoint}").Code);
            Assert.Equal(0, Kubectl("create", "secret", "generic", "dead-s3", "--from-literal=AWS_ACCESS_KEY_ID=x", "--from-literal=AWS_SECRET_ACCESS_KEY=y", $"--from-literal=AWS_ENDPOINTS=http://{Lan}.99:9000").Code);
            Apply("postgres", PostgresManifests + "\n---\n" + BackupClass("s3", "s3") + "\n---\n" + BackupClass("dead-s3", "dead-s3"));
            clock.Restart();
            await UntilAsync(() => PodReady("postgres-0"), "postgres-0 Ready", 180);
            output.WriteLine($"postgres-0 Ready on its replicated volume after {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.Equal(0, Psql("postgres-0", "create table orders (n int primary key)").Code);
            string pv = Kubectl("get", "pvc", "data-postgres-0", "-o", "jsonpath={.spec.volumeName}").Out.Trim();
            var replicas = Kubectl("get", "pv", pv, "-o", "jsonpath={.spec.csi.volumeAttributes.replicas}").Out.Trim().Split(',');
            Assert.Equal(["w1", "w2", "w3"], replicas.Order());
            string podNode = NodeOf("postgres-0");

            // orders are written, one transaction each, while the node of one replica is killed: every insert the
            // database acknowledged is there afterwards
            string log = Path.Combine(dir, "orders.log");
            var writer = Process.Start(new ProcessStartInfo("sh", ["-c", $"ip netns exec cdha-client env KUBECONFIG={Path.Combine(dir, "c1", "kubeconfig")} kubectl exec postgres-0 -- sh -c 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); psql -U shop -d shop -qtAc \"insert into orders values ($i) returning n\" || exit 1; done' > {log} 2>{log}.err"]))!;
            await UntilAsync(() => File.Exists(log) && File.ReadAllLines(log).Length >= 60, "orders being written", 60);
            string replicaNode = replicas.First(r => r != podNode);
            clock.Restart();
            processes[replicaNode].Kill();
            Sh($"ip -n cdha-{replicaNode} link set eth0 down");
            await writer.WaitForExitAsync();
            var acknowledged = File.ReadAllLines(log).Where(l => l.Trim().Length > 0).Select(l => int.Parse(l.Trim(), CultureInfo.InvariantCulture)).ToList();
            output.WriteLine($"replica node {replicaNode} killed after {acknowledged.Count(n => n > 0)} orders; the writer went on: exit {writer.ExitCode}, {acknowledged.Count} acknowledged in {clock.Elapsed.TotalSeconds:0.0} s; {File.ReadAllText(log + ".err")}");
            Assert.Equal(0, writer.ExitCode);
            Assert.Equal(400, acknowledged.Count);
            Assert.Equal(Enumerable.Range(1, 400), Rows("postgres-0"));
            await UntilAsync(() => Lease(pv, "replicated.containers.dev/state").StartsWith("healthy: 3/3", StringComparison.Ordinal) && !Lease(pv, "replicated.containers.dev/replicas").Contains(replicaNode, StringComparison.Ordinal), "the lost replica rebuilt", 60);
            output.WriteLine($"replica rebuilt {clock.Elapsed.TotalSeconds:0.0} s after its node was killed: {Lease(pv, "replicated.containers.dev/state")}");

            // the node running the pod is killed: Postgres runs on another node with the same data
            clock.Restart();
            processes[podNode].Kill();
            Sh($"ip -n cdha-{podNode} link set eth0 down");
            try
            {
                await UntilAsync(() => PodReady("postgres-0") && NodeOf("postgres-0") != podNode, "postgres-0 Ready on another node", 90);
            }
            catch (TimeoutException)
            {
                output.WriteLine($"{Kubectl("describe", "pod", "postgres-0").Out}\n--- logs\n{Kubectl("logs", "postgres-0").Out}{Kubectl("logs", "postgres-0").Err}");
                throw;
            }

            var failover = clock.Elapsed;
            output.WriteLine($"node {podNode} of postgres-0 killed: postgres-0 Ready on {NodeOf("postgres-0")} after {failover.TotalSeconds:0.0} s (heartbeat 1 s, grace 4 s, toleration 2 s)");
            Assert.True(failover < TimeSpan.FromSeconds(60), $"failover took {failover}");
            Assert.Equal(Enumerable.Range(1, 400), Rows("postgres-0"));

            // a snapshot, rows deleted, the snapshot restored into a new claim: the rows are back
            clock.Restart();
            Apply("snap", Snapshot("before-delete", "data-postgres-0", "snaps"));
            await UntilAsync(() => Kubectl("get", "volumesnapshot", "before-delete", "-o", "jsonpath={.status.readyToUse}").Out.Trim() == "true", "the snapshot ready", 60);
            output.WriteLine($"snapshot ready in {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.Equal(0, Psql("postgres-0", "delete from orders where n > 100").Code);
            Assert.Equal(100, Rows("postgres-0").Count);
            Apply("restored", ReplicatedVolumeClusterTests.Claim("restored", "256Mi", "before-delete") + "\n---\n" + PostgresPod("restored", "restored"));
            await UntilAsync(() => PodReady("restored"), "postgres on the restored claim Ready", 120);
            Assert.Equal(Enumerable.Range(1, 400), Rows("restored"));

            // a backup to S3; the volume wiped; restored from the backup: byte-identical to the backed-up snapshot
            clock.Restart();
            Apply("backup", Snapshot("pg-backup", "data-postgres-0", "s3"));
            await UntilAsync(() => Kubectl("get", "volumesnapshot", "pg-backup", "-o", "jsonpath={.status.readyToUse}").Out.Trim() == "true", "the backup ready: " + Kubectl("describe", "volumesnapshot", "pg-backup").Out, 120);
            output.WriteLine($"backup to S3 ready in {clock.Elapsed.TotalSeconds:0.0} s");
            string content = Kubectl("get", "volumesnapshot", "pg-backup", "-o", "jsonpath={.status.boundVolumeSnapshotContentName}").Out.Trim();
            Assert.StartsWith("bak:", Kubectl("get", "volumesnapshotcontent", content, "-o", "jsonpath={.status.snapshotHandle}").Out.Trim(), StringComparison.Ordinal);
            byte[] backedUp;
            await using (var reader = await Containers.Volumes.VolumeReader.OpenAsync(pv, ReplicaAddresses(pv), TimeSpan.FromSeconds(5)))
            {
                backedUp = await reader.ChecksumAsync(content);
            }

            // an unreachable backup target: the backup fails with its error and the volume is untouched
            Apply("dead", Snapshot("to-nowhere", "data-postgres-0", "dead-s3"));
            await UntilAsync(() => Kubectl("get", "volumesnapshot", "to-nowhere", "-o", "jsonpath={.status.error.message}").Out.Contains($"{Lan}.99:9000", StringComparison.Ordinal), "the failed backup's error", 90);
            Assert.NotEqual("true", Kubectl("get", "volumesnapshot", "to-nowhere", "-o", "jsonpath={.status.readyToUse}").Out.Trim());
            Assert.Equal(100, Rows("postgres-0").Count);
            Assert.StartsWith("healthy", Lease(pv, "replicated.containers.dev/state"), StringComparison.Ordinal);

            Assert.Equal(0, KubectlUntimed("delete", "statefulset", "postgres", "--wait=true", "--timeout=60s").Code);
            Assert.Equal(0, KubectlUntimed("delete", "pod", "restored", "postgres-0", "--ignore-not-found", "--wait=true", "--timeout=60s").Code);
            Assert.Equal(0, KubectlUntimed("delete", "pvc", "data-postgres-0", "--wait=true", "--timeout=60s").Code);
            await UntilAsync(() => Kubectl("get", "pv", pv, "-o", "name").Code != 0, "the wiped volume deleted", 60);
            clock.Restart();
            Apply("from-s3", ReplicatedVolumeClusterTests.Claim("from-s3", "256Mi", "pg-backup"));
            await UntilAsync(() => Kubectl("get", "pvc", "from-s3", "-o", "jsonpath={.status.phase}").Out.Trim() == "Bound", "the claim restored from S3 bound", 120);
            output.WriteLine($"restored from S3 into a new volume in {clock.Elapsed.TotalSeconds:0.0} s");
            string restoredPv = Kubectl("get", "pvc", "from-s3", "-o", "jsonpath={.spec.volumeName}").Out.Trim();
            await using (var reader = await Containers.Volumes.VolumeReader.OpenAsync(restoredPv, ReplicaAddresses(restoredPv), TimeSpan.FromSeconds(5)))
            {
                Assert.Equal(Convert.ToHexStringLower(backedUp), Convert.ToHexStringLower(await reader.ChecksumAsync(null)));
            }

            Apply("from-s3-pod", PostgresPod("from-s3", "from-s3"));
            await UntilAsync(() => PodReady("from-s3"), "postgres on the claim restored from S3 Ready", 120);
            Assert.Equal(Enumerable.Range(1, 100), Rows("from-s3"));
            Assert.Equal(0, KubectlUntimed("delete", "pod", "from-s3", "--wait=true", "--timeout=60s").Code);
        }
        finally
        {
            s3.Kill(entireProcessTree: true);
            await s3.WaitForExitAsync();
            Sh($"ip addr del {Lan}.250/24 dev {Bridge} || true");
        }

        void Apply(string name, string yaml)
        {
            string path = Path.Combine(dir, name + ".yaml");
            File.WriteAllText(path, yaml);
            var applied = KubectlUntimed("apply", "-f", path);
            Assert.True(applied.Code == 0, applied.Out + applied.Err);
        }

        bool PodReady(string pod) => Kubectl("get", "pod", pod, "-o", "jsonpath={.metadata.deletionTimestamp} {.status.conditions[?(@.type==\"Ready\")].status}").Out.Trim() == "True";
        string NodeOf(string pod) => Kubectl("get", "pod", pod, "-o", "jsonpath={.spec.nodeName}").Out.Trim();
        string Lease(string volume, string annotation) => Kubectl("get", "lease", "-n", "kube-system", "volume-" + volume, "-o", $"jsonpath={{.metadata.annotations.{annotation.Replace(".", "\\.", StringComparison.Ordinal)}}}").Out.Trim();
        (int Code, string Out, string Err) Psql(string pod, string sql) => KubectlUntimed("exec", pod, "--", "psql", "-U", "shop", "-d", "shop", "-qtAc", sql);
        List<int> Rows(string pod)
        {
            var r = Psql(pod, "select n from orders order by n");
            Assert.True(r.Code == 0, r.Err);
            return [.. r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => int.Parse(l.Trim(), CultureInfo.InvariantCulture))];
        }

        List<string> ReplicaAddresses(string volume) =>
            [.. (Lease(volume, "replicated.containers.dev/replicas") is { Length: > 0 } now ? now : Kubectl("get", "pv", volume, "-o", "jsonpath={.spec.csi.volumeAttributes.replicas}").Out.Trim())
                .Split(',').Select(n => Kubectl("get", "node", n, "-o", "jsonpath={.metadata.annotations.replicated\\.containers\\.dev/replica-address}").Out.Trim()).Where(a => a.Length > 0)];
    }

    [Fact]
    public async Task A_busy_virtual_IP_an_unreachable_etcd_and_overlapping_pod_subnets_are_refused_by_name_and_leave_nothing()
    {
        await UntilAsync(() => Kubectl("get", "nodes", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}").Out.Trim() == "True True True True True True", "six Ready nodes", 60);
        AddMachine("c4", Lan + ".24");
        AddMachine("w4", Lan + ".34");
        string[] server = ["--root", Path.Combine(dir, "c4"), "cluster", "server", "--name", "c4", "--advertise-address", Lan + ".24",
            "--leader-elect-lease-duration", "5s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "1s"];

        // a virtual IP another host of the LAN has (the client machine here): refused once a lease has passed without
        // an API server of this cluster answering there
        const string busy = Lan + ".9";
        Sh($"ip -n cdha-client addr add {busy}/32 dev eth0");
        var clock = Stopwatch.StartNew();
        var (code, log) = await StartAndWaitAsync("c4", 60, [.. server, "--etcd", Endpoints, "--vip", busy, "--vip-interface", "eth0"]);
        output.WriteLine($"busy virtual IP refused after {clock.Elapsed.TotalSeconds:0.0} s: {log.Trim().Split('\n')[^1]}");
        Assert.NotEqual(0, code);
        Assert.Contains($"--vip {busy}: the address is already in use on the LAN", log, StringComparison.Ordinal);
        Assert.Contains($"({Run("cdha-client", "cat", "/sys/class/net/eth0/address").Out.Trim()} answers for it on eth0)", log, StringComparison.Ordinal); // the stranger's MAC address
        Assert.DoesNotContain(busy + "/", Run("cdha-c4", "ip", "-o", "addr").Out, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "c4", "cluster", "pid")));
        Assert.Equal(0, Kubectl("get", "nodes").Code); // the cluster did not notice

        // etcd that cannot be reached at start
        (code, log) = await StartAndWaitAsync("c4", 60, [.. server, "--etcd", $"http://{Lan}.99:2379"]);
        output.WriteLine($"unreachable etcd: {log.Trim().Split('\n')[^1]}");
        if (!log.Contains("no member could be reached", StringComparison.Ordinal))
        {
            output.WriteLine(log); // the whole of what it said (CI once saw a stack trace here)
        }

        Assert.NotEqual(0, code);
        Assert.Contains($"etcd (http://{Lan}.99:2379): no member could be reached", log, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "c4", "cluster", "pid")));

        // a worker naming a pod subnet of another node, then one that overlaps a route of its machine
        string[] join = ["--root", Path.Combine(dir, "w4"), "cluster", "join", "--server", $"https://{Vip}:6443", "--token", Token, "--name", "w4", "--node-interface", "eth0"];
        (code, log) = await StartAndWaitAsync("w4", 60, [.. join, "--pod-subnet", "10.244.1.128/25"]);
        output.WriteLine($"pod subnet of another node: {log.Trim().Split('\n')[^1]}");
        Assert.NotEqual(0, code);
        Assert.Contains("--pod-subnet 10.244.1.128/25 overlaps node c1's pod subnet 10.244.1.0/24", log, StringComparison.Ordinal);
        Sh($"ip -n cdha-w4 route add 10.250.0.0/16 via {Lan}.100");
        (code, log) = await StartAndWaitAsync("w4", 60, [.. join, "--pod-subnet", "10.250.1.0/24"]);
        output.WriteLine($"pod subnet over a route: {log.Trim().Split('\n')[^1]}");
        Assert.NotEqual(0, code);
        Assert.Contains("10.250.1.0/24 overlaps with", log, StringComparison.Ordinal);
        Assert.NotEqual(0, Kubectl("get", "node", "w4").Code); // never registered
        Assert.DoesNotContain("10.250.1.", Run("cdha-w4", "ip", "-o", "addr").Out, StringComparison.Ordinal); // no bridge made
        Assert.False(File.Exists(Path.Combine(dir, "w4", "cluster", "pid")));
    }

    private static string RepositoryRoot()
    {
        var at = new DirectoryInfo(AppContext.BaseDirectory);
        while (at is not null && !File.Exists(Path.Combine(at.FullName, "Containers.sln")))
        {
            at = at.Parent;
        }

        return at?.FullName ?? throw new InvalidOperationException("Containers.sln not found above " + AppContext.BaseDirectory);
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
        var psi = InMachine(machine, machine != "client" && EtcdMachines.All(e => e.Name != machine), ">>\"$LOG\" 2>&1", [file, .. args]);
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

    /// <summary>A machine: a network namespace cdha-NAME whose eth0 (address <paramref name="ip"/>/24) is a veth on the test bridge.</summary>
    private static void AddMachine(string name, string ip) =>
        Sh($"ip netns add cdha-{name} && ip link add cdha-{name} type veth peer name eth0 netns cdha-{name} && ip link set cdha-{name} master {Bridge} up"
           + $" && ip -n cdha-{name} addr add {ip}/24 dev eth0 && ip -n cdha-{name} link set eth0 up && ip -n cdha-{name} link set lo up");

    /// <summary>Starts a machine's process and waits for it to end; its exit code and log.</summary>
    private async Task<(int Code, string Log)> StartAndWaitAsync(string machine, int seconds, params string[] args)
    {
        File.Delete(Path.Combine(dir, machine + ".log"));
        Start(machine, Cli, args);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        await processes[machine].WaitForExitAsync(cts.Token);
        return (processes[machine].ExitCode, Log(machine));
    }

    private static void Teardown()
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c",
            $"for n in e1 e2 e3 c1 c2 c3 c4 w1 w2 w3 w4 client; do ip netns del cdha-$n 2>/dev/null; ip link del cdha-$n 2>/dev/null; done; ip link del {Bridge} 2>/dev/null;"
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
