using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Containers.Tests.Security;

/// <summary>
/// Rootless, for real: the CLI run by an ordinary user (containers-rootless, with subordinate ids; tests/run.sh
/// makes it) re-execs itself into the user's namespace and runs containers there, with slirp4netns networking.
/// Each test has its own home, store and pause process, and ends that pause process (by its pid) and everything of
/// the user's with it.
/// </summary>
public sealed class RootlessTests : IDisposable
{
    private const string User = "containers-rootless";
    private readonly string home = Path.Combine(Path.GetTempPath(), "containers-rootless-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly int uid;
    private readonly int gid;

    public RootlessTests()
    {
        var entry = File.ReadLines("/etc/passwd").Select(l => l.Split(':')).FirstOrDefault(f => f[0] == User)
            ?? throw new InvalidOperationException($"the user {User} does not exist: tests/run.sh makes it (with its ranges in /etc/subuid and /etc/subgid)");
        uid = int.Parse(entry[2], System.Globalization.CultureInfo.InvariantCulture);
        gid = int.Parse(entry[3], System.Globalization.CultureInfo.InvariantCulture);
        Directory.CreateDirectory(Path.Combine(home, "run"));
        Run("cp", "-a", TestRootfs.Path, Path.Combine(home, "rootfs")); // the user's own files: root's would be nobody's to it
        Run("cp", "-a", AppContext.BaseDirectory, Path.Combine(home, "bin")); // the CLI where the user can reach it (a clone under /root would not be)
        Directory.CreateDirectory(Path.Combine(home, "rootfs", "www"));
        File.WriteAllText(Path.Combine(home, "rootfs", "www", "index.html"), "served rootless\n");
        Run("chown", "-R", $"{uid}:{gid}", home);
        Run("chmod", "700", Path.Combine(home, "run"));
    }

    private string PausePidFile => Path.Combine(home, "run", "containers-dotnet", "pause.pid");

    public void Dispose()
    {
        if (File.Exists(PausePidFile) && int.TryParse(File.ReadAllText(PausePidFile).Trim(), out var pause)
            && File.ReadAllText($"/proc/{pause}/comm").Trim() == "containers-paus") // its name, cut to 15 characters
        {
            Process.GetProcessById(pause).Kill(); // ours: this test's namespace, and every process left in it goes with it
        }

        for (var i = 0; i < 100 && UsersProcesses().Count > 0; i++)
        {
            Thread.Sleep(50);
        }

        Assert.Empty(UsersProcesses());
        Directory.Delete(home, recursive: true);
    }

    [Fact]
    public async Task An_ordinary_user_runs_containers_as_root_of_its_own_user_namespace()
    {
        var r = await CliAsync("run", "--rm", "--rootfs", Rootfs, "sh", "-c", "id -u; tr -s ' ' < /proc/self/uid_map; touch /made; chown 1000:1000 /made && stat -c %u:%g /made");
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Equal($"0\n 0 {uid} 1\n 1 3000000 65536\n1000:1000\n", r.Stdout);

        // detached under its monitor; a later run of the CLI joins the same namespace (the pause process) and sees it
        var d = await CliAsync("run", "-d", "--name", "bg", "--rootfs", Rootfs, "sh", "-c", "echo hello > /greeting; exec sleep 60");
        Assert.True(d.Code == 0, d.Stderr);
        var ps = await CliAsync("ps", "--format", "{{.Names}}");
        Assert.Contains("bg", ps.Stdout, StringComparison.Ordinal);
        var exec = await CliAsync("exec", "bg", "sh", "-c", "cat /greeting; id -u");
        Assert.Equal("hello\n0\n", exec.Stdout);
        var pid = int.Parse(System.Text.RegularExpressions.Regex.Match((await CliAsync("inspect", "bg")).Stdout, @"""Pid"": (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(pid > 0);

        // on the host: the user's own uid, and its files in its own store
        Assert.Equal(uid.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
        var greeting = Directory.EnumerateFiles(Path.Combine(home, "data", "containers-dotnet", "containers"), "greeting", SearchOption.AllDirectories).Single();
        var st = Containers.Linux.LinuxSyscalls.Instance.LStat(greeting) ?? throw new FileNotFoundException(greeting);
        Assert.Equal((uid, gid), (st.Uid, st.Gid));

        Assert.Equal(0, (await CliAsync("rm", "-f", "bg")).Code);
    }

    [Fact]
    public async Task Rootless_containers_reach_out_through_slirp4netns_and_publish_ports()
    {
        // a service on the host's own address (not loopback, which slirp4netns keeps from containers)
        var hostIp = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up && n.NetworkInterfaceType != System.Net.NetworkInformation.NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .First(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        using var listener = new TcpListener(IPAddress.Any, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serving = Task.Run(async () =>
        {
            for (var i = 0; i < 2; i++)
            {
                using var client = await listener.AcceptTcpClientAsync();
                await client.GetStream().WriteAsync("HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nfrom host"u8.ToArray());
            }
        });

        var r = await CliAsync("run", "--rm", "--rootfs", Rootfs, "sh", "-c",
            $"ip -4 addr show tap0 | grep -o 'inet [0-9./]*'; grep nameserver /etc/resolv.conf; wget -qO- http://{hostIp}:{port}/; echo; wget -T 3 -qO- http://10.0.2.2:{port}/ >/dev/null 2>&1 && echo LOOPBACK-REACHED || echo loopback-refused");
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Equal("inet 10.0.2.100/24\nnameserver 10.0.2.3\nfrom host\nloopback-refused\n", r.Stdout);

        // -p: the proxy listens on the host and connects inside the container's namespace
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var web = await CliAsync("run", "-d", "--name", "web", "-p", $"127.0.0.1:{port}:80", "--rootfs", Rootfs, "httpd", "-f", "-p", "80", "-h", "/www");
        Assert.True(web.Code == 0, web.Stderr);
        Assert.Equal("served rootless\n", await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{port}/index.html"));
        Assert.Contains($"127.0.0.1:{port}->80/tcp", (await CliAsync("ps")).Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await CliAsync("rm", "-f", "web")).Code);
    }

    [Fact]
    public async Task What_a_rootless_engine_cannot_have_is_refused_with_the_reason()
    {
        const string Cgroups = "this machine gives an unprivileged user no cgroup controllers (its cgroup v1 hierarchies are root's and its v2 hierarchy delegates none)";
        var memory = await CliAsync("run", "--rm", "--memory", "64m", "--pids-limit", "10", "--rootfs", Rootfs, "true");
        Assert.Equal(125, memory.Code);
        Assert.Contains($"rootless: --memory, --pids-limit cannot be applied: {Cgroups}", memory.Stderr, StringComparison.Ordinal);

        var network = await CliAsync("network", "create", "mine");
        Assert.NotEqual(0, network.Code);
        Assert.Contains("rootless: network mine would need a bridge, veths and firewall rules on the host", network.Stderr, StringComparison.Ordinal);

        var userns = await CliAsync("run", "--rm", "--userns", "auto", "--rootfs", Rootfs, "true");
        Assert.Contains("rootless: the engine's own user namespace is the containers'", userns.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await CliAsync("run", "-d", "--name", "p", "--rootfs", Rootfs, "sleep", "60")).Code);
        var pause = await CliAsync("pause", "p");
        Assert.NotEqual(0, pause.Code);
        Assert.Contains("rootless: pausing needs the freezer cgroup", pause.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, (await CliAsync("rm", "-f", "p")).Code);
    }

    private string Rootfs => Path.Combine(home, "rootfs");

    /// <summary>The CLI as the user, with this test's home, store and runtime directory.</summary>
    private async Task<(int Code, string Stdout, string Stderr)> CliAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = home };
        foreach (var a in (string[])[$"--reuid={uid}", $"--regid={gid}", "--init-groups", Path.Combine(home, "bin", "containers-cli"), .. args])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
        psi.Environment["HOME"] = home;
        psi.Environment["XDG_DATA_HOME"] = Path.Combine(home, "data");
        psi.Environment["XDG_RUNTIME_DIR"] = Path.Combine(home, "run");
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Processes of the user or its subordinate ids still running.</summary>
    private List<int> UsersProcesses()
    {
        var left = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var u = int.Parse(File.ReadLines($"{dir}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                var environ = File.ReadAllText($"{dir}/environ");
                if ((u == uid || u is >= 3000000 and < 3065536) && environ.Contains(home, StringComparison.Ordinal))
                {
                    left.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
            {
            }
        }

        return left;
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {err}");
    }
}
