using System.Globalization;

namespace Containers.Tests.Runtime;

/// <summary>
/// An engine without a shim pool (the CLI's) makes a container's cgroup before its shim, and the thread that spawns the
/// shim joins it first (v1: <c>tasks</c> &lt;- 0), so the shim is born in it; that thread also brings the loopback up
/// for <c>--network none</c>. The group must hold the container and its limits, and nothing of the engine once started.
/// </summary>
public sealed class EarlyCgroupTests
{
    [Fact]
    public async Task A_container_started_without_a_pool_is_born_in_its_own_cgroup_with_its_limits_and_none_of_the_engines_threads()
    {
        await using var t = new TestEngine(prespawnShim: false);
        Assert.Equal("v1", t.Engine.CgroupVersion); // this machine kind; the v2 backend moves the shim after its spawn
        await using var c = await t.Busybox("sleep", "30").WithMemoryLimit(64 * 1024 * 1024).WithPidsLimit(50).StartAsync();
        await AssertInItsOwnGroupAsync(c, 64 * 1024 * 1024, 50);
    }

    [Fact]
    public async Task A_container_joining_anothers_namespaces_is_born_in_its_own_cgroup_too()
    {
        // a pod's containers join its sandbox's network, uts and ipc namespaces; --pid container:X joins X's pids
        await using var t = new TestEngine(prespawnShim: false);
        await using var sandbox = await t.Busybox("sleep", "30").WithNetwork("none").StartAsync();
        await using var c = await t.Busybox("sleep", "30").WithNetwork("container:" + sandbox.Id).WithPidMode("container:" + sandbox.Id).WithMemoryLimit(32 * 1024 * 1024).WithPidsLimit(20).StartAsync();
        await AssertInItsOwnGroupAsync(c, 32 * 1024 * 1024, 20);
        await AssertInItsOwnGroupAsync(sandbox, null, null);
        // and it is in the namespaces it joined
        foreach (var ns in new[] { "net", "uts", "ipc", "pid" })
        {
            Assert.Equal(Link($"/proc/{sandbox.State.Pid}/ns/{ns}"), Link($"/proc/{c.State.Pid}/ns/{ns}"));
        }

        var ps = await c.ExecAsync(["ps", "-o", "args"]);
        Assert.Contains("sleep 30", ps.Stdout, StringComparison.Ordinal);
        static string? Link(string path) => new FileInfo(path).LinkTarget;
    }

    /// <summary>The container's process is in its group in every v1 hierarchy, no thread of this process is, and the limits are written.</summary>
    private static async Task AssertInItsOwnGroupAsync(Container c, long? memory, int? pids)
    {
        string key = c.State.Spec.CgroupKey(c.Id);
        int pid = c.State.Pid;
        foreach (var controller in new[] { "memory", "pids", "cpu", "freezer", "devices" })
        {
            string dir = Path.Combine("/sys/fs/cgroup", controller, "containers-dotnet", key);
            var procs = (await File.ReadAllLinesAsync(Path.Combine(dir, "cgroup.procs"))).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToList();
            Assert.Contains(pid, procs);
            Assert.DoesNotContain(Environment.ProcessId, procs);
            var tasks = (await File.ReadAllLinesAsync(Path.Combine(dir, "tasks"))).ToHashSet();
            var ours = Directory.GetDirectories("/proc/self/task").Select(d => Path.GetFileName(d)).Where(tasks.Contains).ToList();
            Assert.True(ours.Count == 0, $"threads of the engine left in {controller}: {string.Join(", ", ours)}");
        }

        if (memory is { } m)
        {
            Assert.Equal(m.ToString(CultureInfo.InvariantCulture), (await File.ReadAllTextAsync($"/sys/fs/cgroup/memory/containers-dotnet/{key}/memory.limit_in_bytes")).Trim());
        }

        if (pids is { } p)
        {
            Assert.Equal(p.ToString(CultureInfo.InvariantCulture), (await File.ReadAllTextAsync($"/sys/fs/cgroup/pids/containers-dotnet/{key}/pids.max")).Trim());
        }

        // the payload sees a cgroup namespace rooted at its own group
        var inside = await c.ExecAsync(["cat", "/proc/self/cgroup"]);
        Assert.Contains(":memory:/\n", inside.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Network_none_has_its_loopback_up_and_reachable()
    {
        await using var t = new TestEngine(prespawnShim: false);
        var r = await t.RunAsync(t.Busybox("sh", "-c", "cat /sys/class/net/lo/flags; ls /sys/class/net").WithNetwork("none"));
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("0x9", lines[0]); // IFF_UP | IFF_LOOPBACK
        Assert.Equal(["lo"], lines[1..]);
    }

    [Fact]
    public async Task The_default_seccomp_filter_is_cached_in_the_root_and_a_damaged_cache_file_is_compiled_again()
    {
        await using var t = new TestEngine(prespawnShim: false);
        var first = await t.RunAsync(t.Busybox("grep", "^Seccomp:", "/proc/self/status"));
        Assert.Equal("Seccomp:\t2", first.Stdout.Trim()); // filter mode
        string cache = Path.Combine(t.Root, "cache", "seccomp");
        var file = Assert.Single(Directory.GetFiles(cache, "default-*.bpf"));
        var program = await File.ReadAllBytesAsync(file);
        Assert.True(program.Length > 0 && program.Length % 8 == 0, $"{file}: {program.Length} bytes");

        // a damaged file (not whole instructions) is not loaded: compiled again and replaced
        await File.WriteAllBytesAsync(file, [1, 2, 3]);
        var second = await t.RunAsync(t.Busybox("grep", "^Seccomp:", "/proc/self/status"));
        Assert.Equal("Seccomp:\t2", second.Stdout.Trim());
        Assert.Equal(program, await File.ReadAllBytesAsync(file));

        // another capability set has a filter of its own
        var more = await t.RunAsync(t.Busybox("true").WithCapAdd("SYS_ADMIN"));
        Assert.Equal(0, more.ExitCode);
        Assert.Equal(2, Directory.GetFiles(cache, "default-*.bpf").Length);
    }
}
