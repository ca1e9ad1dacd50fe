using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Containers;

namespace Containers.Benchmarks;

/// <summary>
/// <c>/bin/true</c> in a fully isolated container (pid, mount, uts, ipc, net, cgroup namespaces; overlay rootfs;
/// pivot_root; /proc, /dev, /sys; capabilities dropped; cgroups created and removed) through the API, start to removal.
/// The CLI and crun figures come from benchmarks/run-true.sh (hyperfine, side by side).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InProcessConfig))]
public class RunTrueBenchmark
{
    private string rootfs = "";
    private string root = "";
    private ContainerEngine engine = null!;
    private Containers.Runtime.ContainerSpec spec = null!;

    [Params("none", "bridge")]
    public string Network { get; set; } = "none";

    [GlobalSetup]
    public void Setup()
    {
        rootfs = Environment.GetEnvironmentVariable("BENCH_ROOTFS") ?? MakeRootfs();
        // BENCH_ROOT (a tmpfs, say) takes the disk out: on this VM's ext4, file creation slows 10-30x for minutes after large deletes
        root = Environment.GetEnvironmentVariable("BENCH_ROOT") is { } under ? Directory.CreateDirectory(Path.Combine(under, "containers-bench-" + Environment.ProcessId)).FullName : Directory.CreateTempSubdirectory("containers-bench-").FullName;
        engine = new ContainerEngine(new EngineOptions { Root = root, BridgeName = "cdbench0", BridgeSubnet = "10.215.0.0/16", MachineStateDirectory = Path.Combine(root, "machine") });
        spec = engine.FromRootfs(rootfs).WithCommand("/bin/true").WithNetwork(Network).WithAutoRemove().ToSpec();
    }

    [Benchmark]
    public async Task<int> RunTrue()
    {
        var c = await engine.StartAsync(spec).ConfigureAwait(false);
        var exit = await c.WaitAsync().ConfigureAwait(false);
        return exit.ExitCode;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await engine.DisposeAsync().ConfigureAwait(false);
        Directory.Delete(root, true);
        if (Environment.GetEnvironmentVariable("BENCH_ROOTFS") is null)
        {
            Directory.Delete(rootfs, true);
        }

        if (Directory.Exists("/sys/class/net/cdbench0"))
        {
            using var ip = System.Diagnostics.Process.Start("ip", ["link", "del", "cdbench0"]);
            await ip.WaitForExitAsync().ConfigureAwait(false);
        }
    }

    private static string MakeRootfs()
    {
        var dir = Directory.CreateTempSubdirectory("containers-bench-rootfs-").FullName;
        Directory.CreateDirectory(Path.Combine(dir, "bin"));
        File.Copy("/bin/busybox", Path.Combine(dir, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(dir, "bin/true"), "busybox");
        File.CreateSymbolicLink(Path.Combine(dir, "bin/sh"), "busybox");
        return dir;
    }

    private sealed class InProcessConfig : BenchmarkDotNet.Configs.ManualConfig
    {
        public InProcessConfig() => AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(5).WithIterationCount(20));
    }
}
