using System.Text;
using System.Text.Json.Nodes;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration.Api;

/// <summary>JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch, as tables of target, patch and result.</summary>
public sealed class PatchTests
{
    private static string Apply(string target, string contentType, string patch) =>
        Patches.Apply(JsonNode.Parse(target)!.AsObject(), contentType, Encoding.UTF8.GetBytes(patch)).ToJsonString();

    [Theory]
    [InlineData("""{"a":"b"}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"b":"c"}""", """{"a":"b","b":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"a":null}""", """{}""")]
    [InlineData("""{"a":"b","b":"c"}""", """{"a":null}""", """{"b":"c"}""")]
    [InlineData("""{"a":["b"]}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":{"b":"c"}}""", """{"a":{"b":"d","c":null}}""", """{"a":{"b":"d"}}""")]
    [InlineData("""{"a":[{"b":"c"}]}""", """{"a":[1]}""", """{"a":[1]}""")]
    [InlineData("""{"e":null}""", """{"a":1}""", """{"e":null,"a":1}""")]
    public void Merge_patch_follows_rfc_7386(string target, string patch, string result) =>
        Assert.Equal(result, Apply(target, Patches.MergePatch, patch));

    [Theory]
    [InlineData("""{"a":1}""", """[{"op":"add","path":"/b","value":2}]""", """{"a":1,"b":2}""")]
    [InlineData("""{"a":[1,2]}""", """[{"op":"add","path":"/a/1","value":9}]""", """{"a":[1,9,2]}""")]
    [InlineData("""{"a":[1,2]}""", """[{"op":"add","path":"/a/-","value":3}]""", """{"a":[1,2,3]}""")]
    [InlineData("""{"a":1,"b":2}""", """[{"op":"remove","path":"/a"}]""", """{"b":2}""")]
    [InlineData("""{"a":1}""", """[{"op":"replace","path":"/a","value":5}]""", """{"a":5}""")]
    [InlineData("""{"a":{"x":1}}""", """[{"op":"move","from":"/a/x","path":"/b"}]""", """{"a":{},"b":1}""")]
    [InlineData("""{"a":{"x":1}}""", """[{"op":"copy","from":"/a","path":"/b"}]""", """{"a":{"x":1},"b":{"x":1}}""")]
    [InlineData("""{"a":1}""", """[{"op":"test","path":"/a","value":1},{"op":"replace","path":"/a","value":2}]""", """{"a":2}""")]
    [InlineData("""{"a/b":1,"m~n":2}""", """[{"op":"remove","path":"/a~1b"},{"op":"remove","path":"/m~0n"}]""", """{}""")]
    public void Json_patch_follows_rfc_6902(string target, string patch, string result) =>
        Assert.Equal(result, Apply(target, Patches.JsonPatch, patch));

    [Theory]
    [InlineData("""{"a":1}""", """[{"op":"test","path":"/a","value":2}]""")]
    [InlineData("""{"a":1}""", """[{"op":"remove","path":"/missing"}]""")]
    [InlineData("""{"a":1}""", """{"op":"add"}""")]
    public void A_json_patch_that_cannot_apply_is_refused(string target, string patch) =>
        Assert.InRange(Assert.Throws<ApiException>(() => Apply(target, Patches.JsonPatch, patch)).Code, 400, 422);

    [Theory]
    // lists with a merge key merge by it: containers by name, env by name, volumeMounts by mountPath
    [InlineData(
        """{"spec":{"containers":[{"name":"a","image":"x:1"},{"name":"b","image":"y:1"}]}}""",
        """{"spec":{"containers":[{"name":"b","image":"y:2"}]}}""",
        """{"spec":{"containers":[{"name":"a","image":"x:1"},{"name":"b","image":"y:2"}]}}""")]
    [InlineData(
        """{"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"1"}]}]}}""",
        """{"spec":{"containers":[{"name":"a","env":[{"name":"B","value":"2"}]}]}}""",
        """{"spec":{"containers":[{"name":"a","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}}""")]
    [InlineData(
        """{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}""",
        """{"spec":{"containers":[{"name":"a","$patch":"delete"}]}}""",
        """{"spec":{"containers":[{"name":"b"}]}}""")]
    [InlineData(
        """{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}""",
        """{"spec":{"containers":[{"name":"c"},{"$patch":"replace"}]}}""",
        """{"spec":{"containers":[{"name":"c"}]}}""")]
    // lists without one are replaced, as a merge patch does
    [InlineData(
        """{"spec":{"containers":[{"name":"a","args":["x","y"]}]}}""",
        """{"spec":{"containers":[{"name":"a","args":["z"]}]}}""",
        """{"spec":{"containers":[{"name":"a","args":["z"]}]}}""")]
    // maps merge, null deletes
    [InlineData(
        """{"metadata":{"labels":{"a":"1","b":"2"}}}""",
        """{"metadata":{"labels":{"b":null,"c":"3"}}}""",
        """{"metadata":{"labels":{"a":"1","c":"3"}}}""")]
    public void Strategic_merge_patch_merges_lists_by_their_keys(string target, string patch, string result) =>
        Assert.Equal(result, Apply(target, Patches.StrategicMergePatch, patch));

    [Fact]
    public void The_target_is_not_changed()
    {
        var target = JsonNode.Parse("""{"a":{"b":1}}""")!.AsObject();
        Patches.Apply(target, Patches.MergePatch, """{"a":{"b":2}}"""u8);
        Assert.Equal("""{"a":{"b":1}}""", target.ToJsonString());
    }
}
