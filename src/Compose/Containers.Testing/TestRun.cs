using System.Globalization;

namespace Containers.Testing;

/// <summary>
/// The test run: one engine shared by every fixture of the process (images stay cached between test classes), one
/// label on everything the run makes, and a sweep at start-up that removes what a killed run (kill -9) left behind.
/// </summary>
public static class TestRun
{
    /// <summary>The label every container, network and volume of a run carries: <c>pid-starttime</c> of the test process.</summary>
    public const string Label = "org.containers-dotnet.test-run";

    private static readonly Lazy<ContainerEngine> SharedEngine = new(() =>
    {
        var options = Options!;
        var hadBridge = Directory.Exists("/sys/class/net/" + options.BridgeName);
        var engine = new ContainerEngine(Options);
        Sweep(engine);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
            // the default bridge (made by a build's RUN step, say) and its rules go with the run that made it, unless something uses it
            if (!hadBridge)
            {
                _ = engine.Networks.RemoveDefaultBridge();
            }
        };
        return engine;
    });

    /// <summary>The cgroup subtree of this run under containers-dotnet: every fixture's containers live in it.</summary>
    public static string CgroupParent => "test-run-" + Id;

    /// <summary>This run's id: the process id and its start time (unique across pid reuse).</summary>
    public static string Id { get; } = $"{Environment.ProcessId}-{StartTime(Environment.ProcessId)}";

    /// <summary>
    /// The engine options of the shared engine: root CONTAINERS_TEST_ROOT or /var/lib/containers-dotnet-tests; names that
    /// are not containers' go to CONTAINERS_DNS_UPSTREAM, else nowhere (127.0.0.1:9, the discard port): tests stay on
    /// this machine unless they ask; the rest as <see cref="EngineOptions"/>' defaults. Set it before the first fixture.
    /// </summary>
    public static EngineOptions Options { get; set; } = new()
    {
        Root = Environment.GetEnvironmentVariable("CONTAINERS_TEST_ROOT") ?? "/var/lib/containers-dotnet-tests",
        DnsUpstreams = Environment.GetEnvironmentVariable("CONTAINERS_DNS_UPSTREAM") is { Length: > 0 } dns ? [.. dns.Split(',')] : ["127.0.0.1:9"],
    };

    /// <summary>The engine every fixture uses unless it brings its own.</summary>
    public static ContainerEngine Engine => SharedEngine.Value;

    /// <summary>Removes the containers, networks and volumes of runs whose process is gone. Returns how many things it removed.</summary>
    public static int Sweep(ContainerEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var removed = 0;
        foreach (var c in engine.List(all: true).Where(c => Dead(c.Spec.Labels.GetValueOrDefault(Label))))
        {
            engine.Get(c.Id).RemoveAsync(force: true).GetAwaiter().GetResult();
            removed++;
        }

        foreach (var n in engine.Networks.List().Where(n => Dead(n.Labels.GetValueOrDefault(Label))))
        {
            engine.Networks.Remove(n.Name);
            removed++;
        }

        foreach (var v in engine.Volumes.List().Where(v => Dead(v.Labels.GetValueOrDefault(Label))))
        {
            SeededVolume.Release(v.Mountpoint);
            engine.Volumes.Remove(v.Name, force: true);
            removed++;
        }

        // whatever is still in a dead run's cgroup subtree (a container whose record is gone, say) is killed, the subtree removed
        foreach (var group in CgroupRoots().SelectMany(r => Directory.Exists(r) ? Directory.EnumerateDirectories(r, "test-run-*") : []))
        {
            if (Dead(Path.GetFileName(group)["test-run-".Length..]))
            {
                RemoveGroup(group);
            }
        }

        return removed;
    }

    private static IEnumerable<string> CgroupRoots() =>
        Directory.Exists("/sys/fs/cgroup") ? Directory.EnumerateDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup").Select(h => Path.Combine(h, "containers-dotnet")) : [];

    private static void RemoveGroup(string dir)
    {
        foreach (var child in Directory.EnumerateDirectories(dir))
        {
            RemoveGroup(child);
        }

        for (var attempt = 0; attempt < 50; attempt++)
        {
            foreach (var pid in File.Exists(Path.Combine(dir, "cgroup.procs")) ? File.ReadAllLines(Path.Combine(dir, "cgroup.procs")) : [])
            {
                if (int.TryParse(pid, CultureInfo.InvariantCulture, out var p))
                {
                    try
                    {
                        System.Diagnostics.Process.GetProcessById(p).Kill();
                    }
                    catch (ArgumentException)
                    {
                    }
                    catch (InvalidOperationException)
                    {
                    }
                }
            }

            try
            {
                Directory.Delete(dir);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(20);
            }
        }
    }

    private static bool Dead(string? id)
    {
        if (id is null || id == Id)
        {
            return false;
        }

        var parts = id.Split('-');
        return parts.Length != 2 || !int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pid) || StartTime(pid) != parts[1];
    }

    private static string StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        }
        catch (IOException)
        {
            return "gone";
        }
    }
}
