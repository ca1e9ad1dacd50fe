using BenchmarkDotNet.Running;

if (args.Length >= 2 && args[0] == "store-fill")
{
    await Containers.Benchmarks.StoreFill.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), args.Length > 2 ? args[2] : null);
    return 0;
}

if (args.Length >= 3 && args[0] == "store-etcd")
{
    await Containers.Benchmarks.EtcdStoreBench.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), args[2]);
    return 0;
}

if (args.Length >= 5 && args[0] == "volume-serve")
{
    var inv = System.Globalization.CultureInfo.InvariantCulture;
    return await Containers.Benchmarks.VolumeServe.RunAsync(args[1], long.Parse(args[2], inv), int.Parse(args[3], inv), args[4]);
}

if (args.Length >= 3 && args[0] == "volume-backup")
{
    return await Containers.Benchmarks.VolumeBackupBench.RunAsync(args[1], long.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? args[3] : null);
}

if (args.Length >= 3 && args[0] == "watch-fanout")
{
    await Containers.Benchmarks.WatchFanout.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? args[3] : null);
    return 0;
}

if (args.Length >= 3 && args[0] == "cluster-reconcile")
{
    return await Containers.Benchmarks.ClusterReconcile.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? args[3] : null);
}

if (args.Length >= 4 && args[0] == "jobs-complete")
{
    var inv = System.Globalization.CultureInfo.InvariantCulture;
    return await Containers.Benchmarks.JobsComplete.RunAsync(int.Parse(args[1], inv), int.Parse(args[2], inv), int.Parse(args[3], inv), args.Length > 4 ? args[4] : null);
}

if (args.Length >= 3 && args[0] == "statefulset-up")
{
    var inv = System.Globalization.CultureInfo.InvariantCulture;
    return await Containers.Benchmarks.WorkloadsUp.RunAsync("statefulset", int.Parse(args[1], inv), int.Parse(args[2], inv), args.Length > 3 ? args[3] : null);
}

if (args.Length >= 2 && args[0] == "daemonset-up")
{
    return await Containers.Benchmarks.WorkloadsUp.RunAsync("daemonset", 0, int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), args.Length > 2 ? args[2] : null);
}

if (args.Length >= 3 && args[0] == "helm-render")
{
    return Containers.Benchmarks.HelmRender.Run(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
}

if (args.Length >= 2 && args[0] == "run-true")
{
    await Containers.Benchmarks.RunTrueMedian.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), args.Length > 2 ? args[2] : null);
    return 0;
}

if (args.Length >= 5 && args[0] == "compose-cycle")
{
    return await Containers.Benchmarks.ComposeCycle.RunAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args[3], args[4]).ConfigureAwait(false);
}

if (args.Length >= 4 && args[0] == "fixture-cycle")
{
    return await Containers.Benchmarks.FixtureCycle.RunAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args[3]).ConfigureAwait(false);
}

BenchmarkSwitcher.FromAssembly(typeof(Containers.Benchmarks.RunTrueBenchmark).Assembly).Run(args);
return 0;
