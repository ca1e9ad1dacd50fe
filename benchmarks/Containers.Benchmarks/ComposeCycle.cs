using System.Diagnostics;
using Containers.Compose;

namespace Containers.Benchmarks;

/// <summary>
/// <c>compose-cycle FILE RUNS ROOT TAR</c>: up then down of a compose file through the C# API, in one process (the
/// way a test fixture or an app host uses it), after one warm-up cycle; prints each cycle and the median.
/// </summary>
internal static class ComposeCycle
{
    public static async Task<int> RunAsync(string file, int runs, string root, string busyboxTar)
    {
        await using var engine = new ContainerEngine(new EngineOptions { Root = root });
        await using (var tar = File.OpenRead(busyboxTar))
        {
            await engine.Images.ImportAsync(tar, "localhost/busybox:bench", new Containers.Images.Oci.ContainerConfig { Env = ["PATH=/bin"] }).ConfigureAwait(false);
        }

        var compose = new ComposeEngine(engine);
        var project = ComposeLoader.Load(new ComposeOptions { Files = [file], ProjectName = "api" });
        foreach (var inProcess in new[] { true, false })
        {
            var times = new List<double>();
            for (var i = 0; i <= runs; i++)
            {
                var sw = Stopwatch.StartNew();
                await compose.UpAsync(project, new UpOptions { InProcess = inProcess }).ConfigureAwait(false);
                await compose.DownAsync(project).ConfigureAwait(false);
                if (i > 0)
                {
                    times.Add(sw.Elapsed.TotalMilliseconds);
                }
            }

            times.Sort();
            Console.WriteLine($"API (ComposeEngine.UpAsync + DownAsync, {(inProcess ? "in process" : "detached monitors: dotnet exec each")}), {runs} cycles: median {times[times.Count / 2]:0} ms, min {times[0]:0} ms, max {times[^1]:0} ms");
        }

        return 0;
    }
}
