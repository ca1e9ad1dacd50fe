using System.Diagnostics;
using System.Globalization;
using Containers.Helm.Charts;
using Containers.Helm.Engine;
using Containers.Helm.Tests;

namespace Containers.Benchmarks;

/// <summary>
/// helm-render CHART N: renders a chart N times with our engine and N times with the Go reference renderer (Go's
/// text/template, Sprig, sigs.k8s.io/yaml: the tests' helmrender.go), same templates and values, and prints the
/// time per render of each and our allocations per render. "scaffold" is helm create's chart; "scaffold50" is that
/// chart with its deployment template copied to 50 templates.
/// </summary>
internal static class HelmRender
{
    public static int Run(string which, int n)
    {
        string root = Directory.CreateTempSubdirectory("helm-bench-").FullName;
        try
        {
            string dir = ChartScaffold.Create("web", root);
            if (which == "scaffold50")
            {
                string deployment = File.ReadAllText(Path.Combine(dir, "templates", "deployment.yaml"));
                for (int i = 1; i <= 50 - 9; i++)
                {
                    File.WriteAllText(Path.Combine(dir, "templates", $"deployment-{i:D2}.yaml"), deployment.Replace("{{ include \"web.fullname\" . }}", $"{{{{ include \"web.fullname\" . }}}}-{i}", StringComparison.Ordinal));
                }
            }

            var chart = Chart.Load(dir);
            var values = ChartValues.Prepare(chart, SetParser.Merge([], [], ["ingress.enabled=true,autoscaling.enabled=true"], [], []));
            var release = new ReleaseOptions("bench", "default");
            var top = HelmEngine.RenderValues(chart, values, release);
            var engine = new HelmEngine();
            int templates = chart.Templates.Count;
            for (int i = 0; i < Math.Min(n, 20); i++)
            {
                engine.Render(chart, top);
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread();
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++)
            {
                engine.Render(chart, top);
            }

            sw.Stop();
            double ours = sw.Elapsed.TotalMilliseconds / n;
            double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / n;
            double kb = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 1024.0 / n;
            using var reference = new ReferenceRenderer();
            var (_, timing) = reference.Render(chart, values, release, strict: false, repeat: n);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{which}: {templates} templates, {n} renders"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  ours: {ours:F3} ms per render (CPU {cpuMs:F3} ms, {kb:F0} KiB allocated)"));
            Console.WriteLine($"  Go text/template + Sprig (reference): {timing}");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
