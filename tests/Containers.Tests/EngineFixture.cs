using Containers.Runtime;

namespace Containers.Tests;

/// <summary>
/// The default bridge, subnet and machine state of this test assembly's engines. Each test assembly has its own:
/// <c>dotnet test</c> runs the assemblies at once, and each removes its bridge and machine state when its process
/// exits, which must not pull them from under another assembly still running.
/// </summary>
public static class TestBridge
{
    private static readonly (string Name, string Subnet) Chosen = typeof(TestBridge).Assembly.GetName().Name switch
    {
        "Containers.DockerApi.Tests" => ("cdtest1", "10.212.0.0/16"),
        "Containers.DevContainers.Tests" => ("cdtest3", "10.215.0.0/16"),
        "Containers.Dashboard.Tests" => ("cdtest4", "10.226.0.0/16"),
        "Containers.Orchestration.Tests" => ("cdtest2", "10.211.0.0/16"), // 10.213/16 is the engine's default (cdnet0)
        _ => ("cdtest0", "10.214.0.0/16"),
    };

    /// <summary>The bridge's interface name.</summary>
    public static string Name => Chosen.Name;

    /// <summary>The bridge's subnet.</summary>
    public static string Subnet => Chosen.Subnet;

    /// <summary>Where the engines keep machine-wide state (the bridge's address allocations).</summary>
    public static string MachineState => Path.Combine(Path.GetTempPath(), "containers-tests-machine-" + Chosen.Name);
}

/// <summary>An engine over a fresh root per test, and the checks that a test left nothing behind.</summary>
public sealed class TestEngine : IAsyncDisposable
{
    /// <param name="root">The root directory (default: a fresh one under /tmp).</param>
    /// <param name="hostResolvers">Forward names that are not containers' to the host's resolvers (for the tests that go out), not to the fake upstream.</param>
    /// <param name="registry">The engine's registry options (default: the defaults).</param>
    /// <param name="prespawnShim">Keep a shim spawned ahead (<see cref="EngineOptions.PrespawnShim"/>).</param>
    /// <param name="sys">The engine's syscall seam (default: the kernel's).</param>
    /// <param name="configure">Changes to the engine's options (user namespace settings, say).</param>
    internal TestEngine(string? root = null, bool hostResolvers = false, Containers.Images.Registry.RegistryOptions? registry = null, bool prespawnShim = true, Containers.Linux.ISyscalls? sys = null, Func<EngineOptions, EngineOptions>? configure = null)
    {
        Root = root ?? Path.Combine(Path.GetTempPath(), "containers-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Options = new EngineOptions { Root = Root, MachineStateDirectory = TestBridge.MachineState, BridgeName = TestBridge.Name, BridgeSubnet = TestBridge.Subnet, DnsUpstreams = hostResolvers ? [] : [Networking.FakeDnsUpstream.Shared.Endpoint.ToString()], Registry = registry ?? new(), PrespawnShim = prespawnShim };
        Options = configure?.Invoke(Options) ?? Options;
        Engine = new ContainerEngine(Options, null, sys ?? Containers.Linux.LinuxSyscalls.Instance);
        watcher = new FileSystemWatcher(Path.Combine(Root, "containers")) { EnableRaisingEvents = true };
        watcher.Created += (_, e) =>
        {
            lock (seen)
            {
                seen.Add(e.Name!);
            }
        };
    }

    private readonly FileSystemWatcher watcher;
    private readonly HashSet<string> seen = [];

    public string Root { get; }

    public EngineOptions Options { get; }

    public ContainerEngine Engine { get; }

    public ContainerBuilder Busybox(params string[] command) => Engine.FromRootfs(TestRootfs.Path).WithCommand(command);

    public Task<ExecResult> RunAsync(ContainerBuilder builder) => RunAsync(builder.ToSpec());

    /// <summary>Runs <paramref name="spec"/> to its end: its exit code and output (stdout and stderr as they came).</summary>
    public async Task<ExecResult> RunAsync(ContainerSpec spec)
    {
        var output = new System.Text.StringBuilder();
        var c = await Engine.StartAsync(spec, (_, bytes) =>
        {
            lock (output)
            {
                output.Append(System.Text.Encoding.UTF8.GetString(bytes.Span));
            }
        });
        await using (c)
        {
            var exit = await c.WaitAsync();
            lock (output)
            {
                return new ExecResult(exit.ExitCode, output.ToString(), "");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        foreach (var s in Engine.List(all: true))
        {
            await Engine.Get(s.Id).RemoveAsync(force: true);
        }

        var networks = Engine.Networks.List().Where(n => !n.IsDefault).ToArray();
        Engine.Networks.Prune();
        foreach (var n in networks)
        {
            Assert.False(LinkExists(n.BridgeName), $"bridge of network {n.Name} left behind");
            Assert.False(HasBridgeRules(n.BridgeName), $"firewall rules of network {n.Name} left behind");
            foreach (var id in SeenIds)
            {
                Assert.False(LinkExists(Containers.Networking.BridgeNetwork.HostVeth(id, n.Id)), $"veth of {id} on {n.Name} left behind");
            }
        }

        AssertNothingLeft();
        watcher.Dispose();
        for (var i = 0; ; i++)
        {
            try
            {
                Directory.Delete(Root, true); // races with the engine emptying its trash in the background
                break;
            }
            catch (IOException) when (i < 50)
            {
                await Task.Delay(20);
            }
        }
    }

    /// <summary>Every container this root ever had: its cgroups and host-side veth are gone too.</summary>
    private void AssertNoCgroupOrVeth()
    {
        var nat = NatRules();
        foreach (var id in SeenIds)
        {
            Assert.False(CgroupExists(id), $"cgroup of {id} left behind");
            Assert.False(LinkExists("vcd" + id[..11]), $"veth of {id} left behind");
            Assert.DoesNotContain("containers-dotnet:" + id, nat, StringComparison.Ordinal);
        }
    }

    private string[] SeenIds
    {
        get
        {
            lock (seen)
            {
                return seen.Where(n => n.Length == 64).ToArray();
            }
        }
    }

    /// <summary>No cgroup, veth, mount or process of this root is left.</summary>
    public void AssertNothingLeft()
    {
        var ids = Directory.Exists(Path.Combine(Root, "containers")) ? Directory.GetDirectories(Path.Combine(Root, "containers")).Select(Path.GetFileName).ToArray() : [];
        Assert.Empty(ids);
        AssertNoCgroupOrVeth();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            Assert.DoesNotContain(Root, line, StringComparison.Ordinal);
        }
    }

    /// <summary>True when a cgroup of <paramref name="id"/> exists in any hierarchy.</summary>
    public static bool CgroupExists(string id) =>
        Directory.EnumerateDirectories("/sys/fs/cgroup").Select(h => Path.Combine(h, "containers-dotnet")).Where(Directory.Exists)
            .Any(p => Directory.Exists(Path.Combine(p, id)) || Directory.EnumerateDirectories(p).Any(g => Directory.Exists(Path.Combine(g, id))));

    public static bool LinkExists(string name) => Directory.Exists("/sys/class/net/" + name);

    /// <summary>The local port forwarding rules (empty without iptables).</summary>
    public static string NatRules() => Rules("nat");

    /// <summary>Every rule of an iptables table (<c>iptables -S</c>), or empty without iptables.</summary>
    public static string Rules(string table)
    {
        if (!File.Exists("/usr/sbin/iptables"))
        {
            return "";
        }

        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/sbin/iptables", ["-w", "-t", table, "-S"]) { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text;
    }

    /// <summary>Whether a rule of the bridge <paramref name="bridge"/> (its comment) is in the filter or nat table.</summary>
    public static bool HasBridgeRules(string bridge) =>
        (Rules("filter") + Rules("nat")).Contains("containers-dotnet-net:" + bridge + "\"", StringComparison.Ordinal);

    /// <summary>GETs <paramref name="url"/>, retrying while the server in the container is still starting.</summary>
    public static async Task<string?> GetWhenUpAsync(string url)
    {
        using var http = new HttpClient();
        return await GetWhenUpAsync(http, url);
    }

    /// <summary>GETs <paramref name="url"/> with <paramref name="http"/> (a handler reaching containers by name, say), retrying while the server starts.</summary>
    public static async Task<string?> GetWhenUpAsync(HttpClient http, string url)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                return await http.GetStringAsync(new Uri(url));
            }
            catch (HttpRequestException)
            {
                await Task.Delay(20);
            }
        }

        return null;
    }

}
