using Containers;
using Containers.Runtime;

namespace Containers.Benchmarks;

/// <summary>
/// <c>run-true N [ROOT]</c>: /bin/true start to exit and removal through the API, N times after 5 warm-ups, with the
/// engine root in ROOT (say a tmpfs, to take the disk out): from an idle engine (50 ms between runs, so its pooled shim
/// is ready, as when an app or a test starts a container now and then) and back to back (each start also waits for
/// the pool's refill); prints medians and means. When <c>crun</c> is installed, a third round alternates a
/// <c>crun run</c> of the same rootfs and an API start, each 50 ms after the other ended (side by side in one run, both
/// from a quiet machine, so a drift of the machine's speed hits both), and prints both and their ratio; crun's figure
/// includes .NET's Process.Start of it (about as long as hyperfine's fork and exec). RUN_TRUE_SECCOMP=unconfined runs
/// without the default seccomp profile, to compare the filter's cost in interleaved runs; RUN_TRUE_INIT=1 runs with
/// <c>--init</c>.
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
            if (Environment.GetEnvironmentVariable("RUN_TRUE_SECCOMP") == ContainerSpec.SeccompUnconfined)
            {
                spec = spec with { SeccompProfile = ContainerSpec.SeccompUnconfined }; // to compare with Docker's default profile
            }

            if (Environment.GetEnvironmentVariable("RUN_TRUE_USERNS") == "1")
            {
                spec = spec with { UidMap = [new Containers.Runtime.IdMapping(0, 100000, 65536)] }; // --uidmap: a user namespace, idmapped layers
            }

            if (Environment.GetEnvironmentVariable("RUN_TRUE_INIT") == "1")
            {
                spec = spec with { Init = true }; // --init: containers-init as PID 1, the command its child
            }

            foreach (var (mode, pause) in new[] { ("from idle", 50), ("back to back", 0) })
            {
                var times = new List<double>();
                var steps = new Dictionary<string, List<double>>(StringComparer.Ordinal);
                var order = new List<string>();
                using var listener = new System.Diagnostics.ActivityListener
                {
                    ShouldListenTo = source => source.Name == ContainerDiagnostics.StartStepsSourceName,
                    Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllData,
                    ActivityStopped = step =>
                    {
                        lock (steps)
                        {
                            if (!steps.TryGetValue(step.OperationName, out var list))
                            {
                                steps[step.OperationName] = list = [];
                                order.Add(step.OperationName);
                            }

                            list.Add(step.Duration.TotalMilliseconds);
                        }
                    },
                };
                System.Diagnostics.ActivitySource.AddActivityListener(listener);
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

                listener.Dispose();
                Console.WriteLine($"/bin/true, --network none, {mode}, root {root}: {Describe(times)}");
                Console.WriteLine("  the start's steps (medians, warm-ups included): " + string.Join("; ", order.Select(step =>
                {
                    var sorted = steps[step].Order().ToList();
                    return $"{step} {sorted[sorted.Count / 2].ToString("F2", System.Globalization.CultureInfo.InvariantCulture)} ms";
                })));
            }

            if (await CrunBundleAsync(root, rootfs) is { } bundle)
            {
                var api = new List<double>();
                var crun = new List<double>();
                for (var i = 0; i < runs + 5; i++)
                {
                    await Task.Delay(50); // each from a quiet machine: the other's teardown and our pool's refill are done
                    var t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    using (var p = System.Diagnostics.Process.Start("crun", ["--root", Path.Combine(root, "crun-state"), "run", "--bundle", bundle, $"bench-{i}"]))
                    {
                        await p.WaitForExitAsync();
                        if (p.ExitCode != 0)
                        {
                            Console.WriteLine($"crun run exited with {p.ExitCode}: no side-by-side round");
                            return;
                        }
                    }

                    var crunMs = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    await Task.Delay(50);
                    t0 = System.Diagnostics.Stopwatch.GetTimestamp();
                    var c = await engine.StartAsync(spec);
                    await c.WaitAsync();
                    var apiMs = System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    if (i >= 5)
                    {
                        crun.Add(crunMs);
                        api.Add(apiMs);
                    }
                }

                Console.WriteLine($"side by side, alternating: crun run {Describe(crun)}");
                Console.WriteLine($"side by side, alternating: API       {Describe(api)}");
                Console.WriteLine($"API / crun: {Median(api) / Median(crun):0.00}x by median, {api.Average() / crun.Average():0.00}x by mean");
            }
        }
        finally
        {
            Directory.Delete(root, true);
            Directory.Delete(rootfs, true);
        }
    }

    private static double Median(List<double> times) => times.Order().ElementAt(times.Count / 2);

    private static string Describe(List<double> times)
    {
        var s = times.Order().ToList();
        return $"median {s[s.Count / 2]:0.00} ms, mean {s.Average():0.00} ms, min {s[0]:0.00} ms, p10/p25/p75/p90 {s[s.Count / 10]:0.0}/{s[s.Count / 4]:0.0}/{s[s.Count * 3 / 4]:0.0}/{s[s.Count * 9 / 10]:0.0} ms ({s.Count} runs)";
    }

    /// <summary>A crun bundle running /bin/true on <paramref name="rootfs"/> (crun's default spec: its own pid, mount, uts, ipc, net and cgroup namespaces), or null without crun.</summary>
    private static async Task<string?> CrunBundleAsync(string root, string rootfs)
    {
        var bundle = Directory.CreateDirectory(Path.Combine(root, "crun-bundle")).FullName;
        try
        {
            using var spec = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("crun", ["spec"]) { WorkingDirectory = bundle, RedirectStandardError = true });
            await spec!.WaitForExitAsync();
            if (spec.ExitCode != 0)
            {
                return null;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Console.WriteLine("crun is not installed: no side-by-side round");
            return null;
        }

        var config = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(bundle, "config.json")))!;
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new System.Text.Json.Nodes.JsonArray("/bin/true");
        config["root"]!["path"] = rootfs;
        await File.WriteAllTextAsync(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }
}
