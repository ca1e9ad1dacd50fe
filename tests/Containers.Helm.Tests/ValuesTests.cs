using Containers.Helm.Charts;
using Containers.Helm.Engine;

namespace Containers.Helm.Tests;

/// <summary>Values as Helm computes them: --set parsing, coalescing with defaults, subcharts, globals, conditions and import-values.</summary>
public sealed class ValuesTests
{
    public static TheoryData<string, string> SetCases() => new()
    {
        { "a=b", """{"a":"b"}""" },
        { "a=1,b=true,c=null,d=0,e=007,f=1.5", """{"a":1,"b":true,"c":null,"d":0,"e":"007","f":"1.5"}""" },
        { "a.b.c=d", """{"a":{"b":{"c":"d"}}}""" },
        { "list[0].name=x,list[2]=z", """{"list":[{"name":"x"},null,"z"]}""" },
        { "name={a,b,c}", """{"name":["a","b","c"]}""" },
        { @"a\.b=c,d=e\,f", """{"a.b":"c","d":"e,f"}""" },
        { "a[0][1]=x", """{"a":[[null,"x"]]}""" },
    };

    [Theory]
    [MemberData(nameof(SetCases))]
    public void Set_is_parsed_as_helm_parses_it(string set, string json)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        SetParser.ParseInto(set, values);
        Assert.Equal(json, Functions.GoJson.Serialize(values));
    }

    [Fact]
    public void Set_string_json_and_literal_type_as_helm_does()
    {
        var values = SetParser.Merge([], ["j={\"x\":[1,2]}"], ["n=5"], ["s=5"], [], ["lit=a,b=c"]);
        Assert.Equal("""{"j":{"x":[1,2]},"lit":"a,b=c","n":5,"s":"5"}""", Functions.GoJson.Serialize(values));
        Assert.IsType<long>(values["n"]);
        var error = Assert.Throws<ChartException>(() => SetParser.ParseInto("a", []));
        Assert.Equal("failed parsing --set data \"a\": key \"a\" has no value", error.Message);
    }

    private static string Render(string set)
    {
        var chart = Chart.Load(Path.Combine(AppContext.BaseDirectory, "Charts", "popular"));
        var values = ChartValues.Prepare(chart, SetParser.Merge([], [], set.Length == 0 ? [] : [set], [], []));
        var files = new HelmEngine().Render(chart, HelmEngine.RenderValues(chart, values, new ReleaseOptions("rel", "apps")));
        return string.Join("\n", files.Select(f => "### " + f.Key + "\n" + f.Value));
    }

    [Fact]
    public void Subcharts_get_their_values_the_globals_and_export_to_the_parent()
    {
        string all = Render("");
        Assert.Contains("cacheHost: \"cache.local\"", all, StringComparison.Ordinal);   // import-values from the child's exports
        Assert.Contains("subchart: \"6380\"", all, StringComparison.Ordinal);           // the parent's values for the child win over its defaults
        Assert.Contains("port: 6380", all, StringComparison.Ordinal);
        Assert.Contains("env: \"test\"", all, StringComparison.Ordinal);                // the parent's globals reach the child
        Assert.Contains("region: \"local\"", all, StringComparison.Ordinal);            // the child's own global default stays
        Assert.Contains("root: \"false\"", all, StringComparison.Ordinal);
        Assert.Contains("parentName: \"cache\"", all, StringComparison.Ordinal);        // the parent's define wins over the child's (run with the child's .Chart)
        Assert.DoesNotContain("overridden-by-subchart", all, StringComparison.Ordinal);
        Assert.Contains("### popular/charts/cache/templates/service.yaml", all, StringComparison.Ordinal);

        string disabled = Render("cache.enabled=false");
        Assert.DoesNotContain("charts/cache/templates/service.yaml", disabled, StringComparison.Ordinal);
        Assert.Contains("level: info", Render(""), StringComparison.Ordinal);
        Assert.DoesNotContain("level:", Render("config.level=null"), StringComparison.Ordinal); // null removes a default
    }
}
