// cluster-reconcile PODS NODES [DIR], NativeAOT (see the project file and ClusterReconcile.cs)
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: ClusterReconcile.Aot PODS NODES [DIR]");
    return 125;
}

return await Containers.Benchmarks.ClusterReconcile.RunAsync(
    int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture),
    int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture),
    args.Length > 2 ? args[2] : null).ConfigureAwait(false);
