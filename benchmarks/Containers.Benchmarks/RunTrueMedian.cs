using Containers;

namespace Containers.Benchmarks;

/// <summary>
/// <c>run-true N [ROOT]</c>: /bin/true start to exit and removal through the API, N times after 5 warm-ups, with the
/// engine root in ROOT (say a tmpfs, to take the disk out): from an idle engine (50 ms between runs, so its pooled shim
/// is ready, as when an app or a test starts a container now and then) and back to back (each start also waits for
/// the pool's refill); prints medians and means.
/// </summary>
internal static class RunTrueMedian
{
    public static async Task RunAsync(int runs, string? under)
    {
        var rootfs = Directory.CreateTempSubdirectory("containers-bench-rootfs-").FullName;
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin/true"), "busybox");
        var root = under is null ? Directory.CreateTempSubdirectory("containers-bench-").FullName : Directory.CreateDirectory(Path.Combine(under, "containers-bench-" + Environment.ProcessId)).FullName;
        try
        {
            await using var engine = new ContainerEngine(new EngineOptions { Root = root, BridgeName = "cdbench0", BridgeSubnet = "10.215.0.0/16", MachineStateDirectory = Path.Combine(root, "machine") });
            var spec = engine.FromRootfs(rootfs).WithCommand("/bin/true").WithNetwork("none").WithAutoRemove().ToSpec();
            foreach (var (mode, pause) in new[] { ("from idle", 50), ("back to back", 0) })
            {
                var times = new List<double>();
                for (var i = 0; i < runs + 5; i++)
                {
                    if (pause > 0)
                    {
                        await Task.Delay(pause);
                    }

                    var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    var c = await engine.StartAsync(spec);
                    await c.WaitAsync();
                    var ms = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    if (i >= 5)
                    {
                        times.Add(ms);
                    }
                }

                times.Sort();
                Console.WriteLine($"/bin/true, --network none, {mode}, root {root}: median {times[times.Count / 2]:0.00} ms, mean {times.Average():0.00} ms, min {times[0]:0.00} ms, p10/p25/p75/p90 {times[times.Count / 10]:0.0}/{times[times.Count / 4]:0.0}/{times[times.Count * 3 / 4]:0.0}/{times[times.Count * 9 / 10]:0.0} ms ({runs} runs)");
            }
        }
        finally
        {
            Directory.Delete(root, true);
            Directory.Delete(rootfs, true);
        }
    }
}
