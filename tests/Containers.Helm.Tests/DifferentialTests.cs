using Containers.Helm.Charts;
using Containers.Helm.Engine;
using Containers.Helm.Functions;

namespace Containers.Helm.Tests;

/// <summary>
/// Renders charts with our engine and with the Go reference renderer, and requires byte-identical output:
/// helm create's scaffold (defaults, then ingress, autoscaling and serviceAccount switched on), and a chart of our
/// own using what popular charts use.
/// </summary>
public sealed class DifferentialTests(ReferenceRenderer reference) : IClassFixture<ReferenceRenderer>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("helm-diff-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    public static TheoryData<string> ScaffoldSettings() =>
    [
        "",
        "ingress.enabled=true,autoscaling.enabled=true,serviceAccount.create=true",
        "ingress.enabled=true,ingress.className=nginx,ingress.annotations.kubernetes\\.io/ingress\\.class=nginx,ingress.tls[0].secretName=web-tls,ingress.tls[0].hosts[0]=chart-example.local",
        "serviceAccount.create=false,serviceAccount.name=builder,podAnnotations.a=b,podLabels.team=web,nodeSelector.disk=ssd,replicaCount=3",
        "resources.limits.cpu=100m,resources.limits.memory=128Mi,autoscaling.enabled=true,autoscaling.targetMemoryUtilizationPercentage=80,service.type=NodePort",
    ];

    [Theory]
    [MemberData(nameof(ScaffoldSettings))]
    public void HelmCreateScaffoldRendersByteIdentical(string set)
    {
        string dir = ChartScaffold.Create("web", root);
        AssertSame(dir, set);
    }

    [Theory]
    [InlineData("")]
    [InlineData("replicas=2,config.debug=true,extraEnv[0].name=A,extraEnv[0].value=b")]
    [InlineData("cache.enabled=false,global.env=prod")]
    [InlineData("cache.port=7000,global.region=eu,nothing=null,config.level=null")]
    public void OwnChartWithPopularFunctionsRendersByteIdentical(string set) =>
        AssertSame(Path.Combine(AppContext.BaseDirectory, "Charts", "popular"), set);

    private void AssertSame(string chartDir, string set)
    {
        var chart = Chart.Load(chartDir);
        var user = SetParser.Merge([], [], set.Length == 0 ? [] : [set], [], []);
        // --set integers are int64 in Helm; through JSON the reference would see float64: keep the test to what both read alike
        var values = ChartValues.Prepare(chart, (Dictionary<string, object?>)ToFloats(user)!);
        var release = new ReleaseOptions("rel", "apps");
        var ours = new HelmEngine().Render(chart, HelmEngine.RenderValues(chart, values, release));
        var (theirs, error) = reference.Render(chart, values, release);
        Assert.Null(error);
        Assert.Equal(theirs!.Keys, ours.Keys);
        foreach (var (name, text) in theirs)
        {
            Assert.True(text == ours[name], $"{name} differs:\n--- go\n{text}\n--- ours\n{ours[name]}");
        }
    }

    private static object? ToFloats(object? v) => v switch
    {
        long l => (double)l,
        Dictionary<string, object?> m => m.ToDictionary(kv => kv.Key, kv => ToFloats(kv.Value), StringComparer.Ordinal),
        List<object?> list => list.Select(ToFloats).ToList(),
        _ => v,
    };
}
