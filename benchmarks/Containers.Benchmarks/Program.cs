using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Containers.Benchmarks.RunTrueBenchmark).Assembly).Run(args);
