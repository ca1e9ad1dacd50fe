using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Containers.Tests.Cli;

/// <summary>The <c>containers</c> command, run as a user would (a separate process per command).</summary>
public sealed class CliTests : IAsyncLifetime
{
    private readonly TestEngine t = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await t.DisposeAsync();

    [Fact]
    public async Task Run_exits_with_the_containers_exit_code_and_prints_its_output()
    {
        var r = await Cli("run", "--rm", "--rootfs", TestRootfs.Path, "--hostname", "clibox", "sh", "-c", "hostname; echo err >&2; exit 3");
        Assert.Equal(3, r.Code);
        Assert.Equal("clibox\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);
    }

    [Fact]
    public async Task Run_takes_dockers_modes_and_exec_takes_privileged()
    {
        var r = await Cli("run", "--rm", "--network", "none", "--init", "--pid", "host", "--device", "/dev/null:/dev/other:r", "--rootfs", TestRootfs.Path,
            "sh", "-c", "tr '\\0' ' ' < /proc/$PPID/cmdline; echo; ls /dev/other; test -d /proc/1 && echo host-pids");
        Assert.True(r.Code == 0, r.Stderr);
        Assert.StartsWith("/sbin/docker-init -- sh -c", r.Stdout, StringComparison.Ordinal); // the command's parent is the init
        Assert.Contains("/dev/other\nhost-pids\n", r.Stdout, StringComparison.Ordinal);

        var id = (await Cli("run", "-d", "--network", "none", "--ipc", "shareable", "--name", "cli-modes", "--rootfs", TestRootfs.Path, "sleep", "60")).Stdout.Trim();
        var caps = await Cli("exec", "--privileged", "cli-modes", "grep", "CapEff", "/proc/self/status");
        Assert.DoesNotContain("a80425fb", caps.Stdout, StringComparison.Ordinal);
        var joined = await Cli("run", "--rm", "--network", "none", "--ipc", "container:cli-modes", "--volumes-from", "cli-modes", "--rootfs", TestRootfs.Path, "true");
        Assert.True(joined.Code == 0, joined.Stderr);
        var bad = await Cli("run", "--rm", "--ipc", "sideways", "--rootfs", TestRootfs.Path, "true");
        Assert.Equal(125, bad.Code);
        Assert.Contains("invalid ipc mode 'sideways'", bad.Stderr, StringComparison.Ordinal);
        await Cli("rm", "-f", id);
    }

    [Theory]
    [InlineData(127, "executable file not found", "run", "--rm", "--rootfs", "{rootfs}", "no-such-command")]
    [InlineData(125, "invalid size 'lots'", "run", "--rm", "--memory", "lots", "--rootfs", "{rootfs}", "true")]
    [InlineData(125, "unable to find user ghost", "run", "--rm", "--user", "ghost", "--rootfs", "{rootfs}", "true")]
    [InlineData(125, "does not exist", "run", "--rm", "--rootfs", "/no/such/dir", "true")]
    [InlineData(125, "unknown flag: --bogus", "run", "--bogus", "--rootfs", "{rootfs}", "true")]
    [InlineData(125, "no such container: nobody", "logs", "nobody")]
    public async Task Errors_are_clear_and_exit_like_docker(int code, string message, params string[] args)
    {
        var r = await Cli(args.Select(a => a.Replace("{rootfs}", TestRootfs.Path, StringComparison.Ordinal)).ToArray());
        Assert.Equal(code, r.Code);
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetDirectories(Path.Combine(t.Root, "containers")));
    }

    [Fact]
    public async Task Cluster_up_runs_the_control_plane_with_server_gc_on_the_pod_subnet_asked_for()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var up = await Cli("cluster", "up", "--ingress-http-port", "off", "--ingress-https-port", "off", "--nodes", "1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--pod-subnet", "10.237.0.0/16", "--service-cidr", "10.97.0.0/16", "--event-ttl", "2h", "-d");
        try
        {
            Assert.True(up.Code == 0, up.Stderr);
            Assert.Contains("export KUBECONFIG=", up.Stdout, StringComparison.Ordinal);
            var pid = int.Parse(File.ReadAllText(Path.Combine(t.Root, "cluster", "pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains("DOTNET_gcServer=1", File.ReadAllText($"/proc/{pid}/environ").Split('\0'));
            Assert.Contains("DOTNET_GCDynamicAdaptationMode=0", File.ReadAllText($"/proc/{pid}/environ").Split('\0'));
            Assert.Contains(Directory.EnumerateDirectories($"/proc/{pid}/task"), d => File.ReadAllText(Path.Combine(d, "comm")).Trim() == ".NET Server GC");
            var status = await Cli("cluster", "status");
            Assert.True(status.Code == 0, status.Stderr);
            Assert.Contains("node node-1: Ready=True", status.Stdout, StringComparison.Ordinal);

            // services get their addresses from the service CIDR asked for
            using (var anonymous = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }))
            {
                // HTTPS only, and no request without a client certificate of the cluster CA, but health and version
                using var refused = await anonymous.GetAsync(new Uri($"https://127.0.0.1:{port}/api/v1/namespaces/default/pods"));
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
                Assert.Contains("\"reason\":\"Unauthorized\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                using var version = await anonymous.GetAsync(new Uri($"https://127.0.0.1:{port}/version"));
                Assert.Equal(HttpStatusCode.OK, version.StatusCode);
            }

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(t.Root, "kubeconfig")));
            using var http = new HttpClient(Containers.Orchestration.Api.ClusterPki.AdminHandler(Path.Combine(t.Root, "cluster", "pki")));
            using var created = await http.PostAsync(
                $"https://127.0.0.1:{port}/api/v1/namespaces/default/services",
                new StringContent("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}""", System.Text.Encoding.UTF8, "application/json"));
            string service = await created.Content.ReadAsStringAsync();
            Assert.True(created.IsSuccessStatusCode, service);
            Assert.StartsWith("10.97.", (string?)System.Text.Json.Nodes.JsonNode.Parse(service)?["spec"]?["clusterIP"], StringComparison.Ordinal);
        }
        finally
        {
            Assert.Equal(0, (await Cli("cluster", "down")).Code);
        }

        // the root's pod network keeps its subnet: another one is refused, naming both
        var other = await Cli("cluster", "up", "--ingress-http-port", "off", "--ingress-https-port", "off", "--nodes", "1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--pod-subnet", "10.238.0.0/16", "-d");
        Assert.NotEqual(0, other.Code);
        Assert.Contains("has subnet 10.237.0.0/16, not 10.238.0.0/16", other.Stderr, StringComparison.Ordinal);
        var bad = await Cli("cluster", "up", "--pod-subnet", "10.238.0.0/40");
        Assert.Equal(125, bad.Code);
        Assert.Contains("--pod-subnet: '10.238.0.0/40' is not an IPv4 network", bad.Stderr, StringComparison.Ordinal);
        var badCidr = await Cli("cluster", "up", "--service-cidr", "10.0.0.0/8");
        Assert.Equal(125, badCidr.Code);
        Assert.Contains("--service-cidr: '10.0.0.0/8' is not an IPv4 network from /12 to /28", badCidr.Stderr, StringComparison.Ordinal);
        var badTtl = await Cli("cluster", "up", "--event-ttl", "soon");
        Assert.Equal(125, badTtl.Code);
        Assert.Contains("--event-ttl: 'soon' is not a duration", badTtl.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, (await Cli("network", "rm", "k8s-pods")).Code); // its bridge goes with it
    }

    [Fact]
    public async Task Detached_lifecycle_through_the_cli()
    {
        var run = await Cli("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "-e", "X=1", "--rootfs", TestRootfs.Path, "sh", "-c", "echo started; exec httpd -f -p 80 -h /var/www");
        Assert.Equal(0, run.Code);
        Assert.Matches("^[0-9a-f]{64}\n$", run.Stdout);

        var ps = await Cli("ps", "--format", "json");
        Assert.Contains("\"Names\":\"web\"", ps.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"State\":\"running\"", ps.Stdout, StringComparison.Ordinal);

        var port = t.Engine.Get("web").GetHostPort(80);
        var body = await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{port}/index.html");

        Assert.Equal("hello from busybox httpd\n", body);
        Assert.Equal("1\n", (await Cli("exec", "web", "sh", "-c", "echo $X")).Stdout);
        Assert.Equal(4, (await Cli("exec", "web", "sh", "-c", "exit 4")).Code);
        Assert.Equal("started\n", (await Cli("logs", "web")).Stdout);
        Assert.Contains("\"Running\": true", (await Cli("inspect", "web")).Stdout, StringComparison.Ordinal);
        // docker's Go templates, one line per object
        Assert.Equal($"{t.Engine.Get("web").State.Pid} RUNNING /web [\"sh\",\"-c\",\"echo started; exec httpd -f -p 80 -h /var/www\"] sh|-c\n",
            (await Cli("inspect", "-f", "{{.State.Pid}} {{upper .State.Status}} {{.Name}} {{json .Config.Cmd}} {{join (slice .Config.Cmd 0 2) \"|\"}}", "web")).Stdout);
        var badTemplate = await Cli("inspect", "--format", "{{.State.Pid", "web");
        Assert.NotEqual(0, badTemplate.Code);
        Assert.Contains("template parsing error: template: inspect:1: unclosed action", badTemplate.Stderr, StringComparison.Ordinal);
        Assert.Contains("web", (await Cli("stats", "--no-stream", "web")).Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Cli("pause", "web")).Code);
        Assert.Contains("(Paused)", (await Cli("ps")).Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Cli("unpause", "web")).Code);
        var rm = await Cli("rm", "web");
        Assert.NotEqual(0, rm.Code);
        Assert.Contains("stop it first", rm.Stderr, StringComparison.Ordinal);

        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var taken = ((IPEndPoint)blocker.LocalEndpoint).Port;
        var clash = await Cli("run", "-d", "-p", $"127.0.0.1:{taken}:80", "--rootfs", TestRootfs.Path, "true");
        Assert.Equal(125, clash.Code);
        Assert.Contains($"127.0.0.1:{taken}/tcp: the port is already in use", clash.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await Cli("stop", "-t", "1", "web")).Code);
        Assert.Contains("Exited (", (await Cli("ps", "-a")).Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Cli("rm", "web")).Code);
        Assert.Equal("", (await Cli("ps", "-a", "-q")).Stdout);
    }

    [Fact]
    public async Task Run_it_gives_an_interactive_terminal_in_raw_mode()
    {
        // script(1) gives the CLI a terminal, as a user's shell would
        var cli = Path.Combine(AppContext.BaseDirectory, "containers-cli");
        var psi = new ProcessStartInfo("script", ["-qec", $"{cli} --root {t.Root} run -it --rm --network none --rootfs {TestRootfs.Path} sh", "/dev/null"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        psi.Environment["CONTAINERS_BRIDGE"] = t.Options.BridgeName;
        psi.Environment["CONTAINERS_MACHINE_STATE"] = t.Options.MachineStateDirectory;
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync("test -t 0 && echo in-a-tty; exit 5\n");
        await p.StandardInput.FlushAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.Equal(5, p.ExitCode);
        Assert.Contains("in-a-tty\r\n", output, StringComparison.Ordinal);
        Assert.DoesNotContain("\r\r\n", output, StringComparison.Ordinal); // our side is raw: no second CR
    }

    [Fact]
    public async Task A_build_killed_during_a_run_step_leaves_no_container_and_no_writes_behind()
    {
        await Images.TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:1");
        var context = Directory.CreateTempSubdirectory("cli-build-killed-").FullName;
        File.WriteAllText(Path.Combine(context, "Dockerfile"), "FROM localhost/busybox:1\nRUN dd if=/dev/zero of=/big bs=1M count=20 && touch /written && sleep 60\n");
        var containers = Path.Combine(t.Root, "containers");
        using (var build = CliRunner.Start(t, "build", "--network", "none", "-t", "localhost/killed:1", context))
        {
            build.StandardInput.Close();
            var written = "";
            for (var i = 0; i < 300 && written.Length == 0; i++)
            {
                await Task.Delay(100);
                written = Directory.GetDirectories(containers).Select(d => Path.Combine(d, "upper", "written")).FirstOrDefault(File.Exists) ?? "";
            }

            Assert.NotEqual("", written); // the step ran and wrote
            build.Kill(); // SIGKILL, as kill -9 of the CLI
            await build.WaitForExitAsync();
        }

        var ps = await Cli("ps", "-a", "-q"); // the next engine start sweeps the dead build's step
        Assert.Equal(0, ps.Code);
        Assert.Equal("", ps.Stdout);
        Assert.Empty(Directory.GetDirectories(containers));
        Assert.Empty(t.Engine.List(all: true));
        Directory.Delete(context, true);
    }

    private Task<(int Code, string Stdout, string Stderr)> Cli(params string[] args) => CliRunner.RunAsync(t, args);
}
