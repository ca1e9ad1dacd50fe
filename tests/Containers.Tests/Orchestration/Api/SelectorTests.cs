using System.Text.Json.Nodes;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration.Api;

/// <summary>Label and field selectors, as k8s.io/apimachinery's labels and fields packages test them: tables of selector, labels, match.</summary>
public sealed class SelectorTests
{
    private static readonly Dictionary<string, string> Web = new() { ["app"] = "web", ["tier"] = "front", ["env"] = "prod" };

    [Theory]
    [InlineData("", true)]
    [InlineData("app=web", true)]
    [InlineData("app==web", true)]
    [InlineData("app=db", false)]
    [InlineData("app!=db", true)]
    [InlineData("app!=web", false)]
    [InlineData("missing!=x", true)]
    [InlineData("app=web,tier=front", true)]
    [InlineData("app=web,tier=back", false)]
    [InlineData("app in (web,db)", true)]
    [InlineData("app in (db)", false)]
    [InlineData("app notin (db,cache)", true)]
    [InlineData("app notin (web)", false)]
    [InlineData("missing notin (x)", true)]
    [InlineData("env", true)]
    [InlineData("missing", false)]
    [InlineData("!missing", true)]
    [InlineData("!app", false)]
    [InlineData("app in (web, db),env=prod,!canary", true)]
    [InlineData(" app = web ", true)]
    public void A_label_selector_matches_as_kubernetes_does(string selector, bool matches) =>
        Assert.Equal(matches, LabelSelector.Parse(selector).Matches(Web));

    [Theory]
    [InlineData("app in web", "expected a parenthesized set of values")]
    [InlineData("app=web,,tier=front", "empty requirement")]
    public void A_malformed_label_selector_is_a_400_naming_it(string selector, string message)
    {
        var e = Assert.Throws<ApiException>(() => LabelSelector.Parse(selector));
        Assert.Equal(400, e.Code);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"matchLabels":{"app":"web"}}""", true)]
    [InlineData("""{"matchLabels":{"app":"db"}}""", false)]
    [InlineData("""{"matchExpressions":[{"key":"tier","operator":"In","values":["front","back"]}]}""", true)]
    [InlineData("""{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["front"]}]}""", false)]
    [InlineData("""{"matchExpressions":[{"key":"env","operator":"Exists"}]}""", true)]
    [InlineData("""{"matchExpressions":[{"key":"env","operator":"DoesNotExist"}]}""", false)]
    [InlineData("""{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"canary","operator":"DoesNotExist"}]}""", true)]
    public void A_label_selector_object_matches_as_its_query_form(string selector, bool matches)
    {
        var parsed = LabelSelector.FromObject(JsonNode.Parse(selector));
        Assert.Equal(matches, parsed.Matches(Web));
        Assert.Equal(matches, LabelSelector.Parse(parsed.ToString()).Matches(Web)); // ToString round-trips
    }

    [Fact]
    public void An_unknown_operator_is_refused()
    {
        var e = Assert.Throws<ApiException>(() => LabelSelector.FromObject(JsonNode.Parse("""{"matchExpressions":[{"key":"a","operator":"Gt"}]}""")));
        Assert.Contains("operator \"Gt\"", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("metadata.name=web-1", true)]
    [InlineData("metadata.name==web-1", true)]
    [InlineData("metadata.name!=web-1", false)]
    [InlineData("spec.nodeName=node-1", true)]
    [InlineData("spec.nodeName=node-2", false)]
    [InlineData("status.phase=Running,spec.nodeName=node-1", true)]
    [InlineData("status.phase!=Pending", true)]
    [InlineData("spec.missing=", true)]
    [InlineData("spec.missing!=", false)]
    public void A_field_selector_compares_dotted_paths(string selector, bool matches)
    {
        var pod = JsonNode.Parse("""{"metadata":{"name":"web-1"},"spec":{"nodeName":"node-1"},"status":{"phase":"Running"}}""")!;
        Assert.Equal(matches, FieldSelector.Parse(selector).Matches(pod));
    }

    [Fact]
    public void A_field_selector_without_an_operator_is_a_400() =>
        Assert.Equal(400, Assert.Throws<ApiException>(() => FieldSelector.Parse("spec.nodeName")).Code);
}
