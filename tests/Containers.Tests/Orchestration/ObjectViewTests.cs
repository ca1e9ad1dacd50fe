using System.Text;
using System.Text.Json.Nodes;
using Containers.Orchestration.Api;
using Containers.Orchestration.Storage;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>
/// How the control plane reads what it stores: one shared parse per revision with the revision written in, views over
/// it that are copy-on-write, reads that build no nodes, writes that copy what nobody changed, and status and binding
/// writes made from the stored bytes.
/// </summary>
public sealed class ObjectViewTests : IDisposable
{
    private const string Pod = """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","uid":"u1","labels":{"app":"web"},
         "ownerReferences":[{"kind":"ReplicaSet","name":"rs","uid":"r1","controller":true}]},
         "spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"10m"}}}],"priority":0,"enableServiceLinks":true,"nodeName":null},
         "status":{"phase":"Pending"}}
        """;

    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-views-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Builds every node of a tree (JsonNode.Parse alone builds them lazily, as views do).</summary>
    private static JsonObject Built(JsonObject tree)
    {
        static void Visit(JsonNode? n)
        {
            if (n is JsonObject o)
            {
                foreach (var (_, v) in o)
                {
                    Visit(v);
                }
            }
            else if (n is JsonArray a)
            {
                foreach (var v in a)
                {
                    Visit(v);
                }
            }
        }

        Visit(tree);
        return tree;
    }

    private static StoredObject Stored(string json, long revision = 7) =>
        new(new ObjectKey("pods", "default", "web"), revision, Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_view_carries_its_revision_and_a_change_to_it_stays_its_own()
    {
        var stored = Stored(Pod);
        var a = ObjectApi.View(stored);
        var b = ObjectApi.View(stored);
        Assert.Equal(("web", "7"), (KJson.Name(a), KJson.Str(a, "metadata", "resourceVersion")));

        KJson.Obj(a, "status")["phase"] = "Running";
        KJson.Obj(a, "metadata", "labels")["tier"] = "front";
        Assert.Equal(("Pending", 1), (KJson.Str(b, "status", "phase"), KJson.Labels(b).Count));
        Assert.Equal("Pending", KJson.Str(ObjectApi.View(stored), "status", "phase"));

        // what was changed is written as changed, the rest as it was parsed
        var written = JsonNode.Parse(KJson.Bytes(a))!.AsObject();
        var expected = JsonNode.Parse(Pod)!.AsObject();
        expected["status"]!["phase"] = "Running";
        expected["metadata"]!["labels"]!["tier"] = "front";
        expected["metadata"]!["resourceVersion"] = "7";
        Assert.True(JsonNode.DeepEquals(expected, written), written.ToJsonString());
    }

    [Theory]
    [InlineData("""{"metadata":{"name":"x","resourceVersion":"77"},"spec":{}}""", """{"metadata":{"name":"x","resourceVersion":"5"},"spec":{}}""")]
    [InlineData("""{"kind":"Pod","metadata":{}}""", """{"kind":"Pod","metadata":{"resourceVersion":"5"}}""")]
    [InlineData("""{"spec":{"metadata":{"name":"inner"}},"metadata":{"name":"x"}}""", """{"spec":{"metadata":{"name":"inner"}},"metadata":{"resourceVersion":"5","name":"x"}}""")]
    [InlineData("""{"kind":"Status"}""", """{"kind":"Status"}""")]
    public void The_revision_is_written_into_metadata_once_whatever_the_bytes_held(string stored, string expected)
    {
        var view = ObjectApi.View(Stored(stored, revision: 5));
        Assert.Equal(expected, Encoding.UTF8.GetString(KJson.Bytes(view)));
    }

    [Fact]
    public void A_template_hashes_the_same_however_its_json_was_written()
    {
        const string Compact = """{"metadata":{"labels":{"app":"café<1>"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}""";
        const string Written = "{ \"metadata\": {\"labels\": {\"app\": \"caf\\u00e9\\u003C1\\u003E\"}},\t\"spec\": {\"containers\": [ {\"name\": \"c\", \"image\": \"busybox\"} ]} }";
        var built = Built(JsonNode.Parse(Compact)!.AsObject());
        var asParsed = JsonNode.Parse(Written)!.AsObject();
        Assert.Equal(Containers.Orchestration.Controllers.DeploymentController.TemplateHash(built), Containers.Orchestration.Controllers.DeploymentController.TemplateHash(asParsed));
        Assert.NotEqual(KJson.Bytes(built), KJson.Bytes(asParsed)); // the fast form keeps what it was given
    }

    [Fact]
    public void Reads_of_a_view_build_nothing_and_agree_with_a_built_tree()
    {
        var stored = Stored(Pod);
        var view = ObjectApi.View(stored);
        var built = Built(JsonNode.Parse(Pod)!.AsObject());
        foreach (var tree in new[] { view, built })
        {
            Assert.Equal("busybox", KJson.Str(KJson.ReadItems(tree, "spec", "containers").Single(), "image"));
            Assert.Equal("10m", KJson.Read(tree, "spec", "containers") is JsonArray c ? KJson.Str(c[0], "resources", "requests", "cpu") : null);
            Assert.Equal(0, KJson.Int(tree, "spec", "priority"));
            Assert.True(KJson.Bool(tree, "spec", "enableServiceLinks"));
            Assert.Null(KJson.Str(tree, "spec", "nodeName")); // JSON null
            Assert.False(KJson.Has(tree, "spec", "nodeName"));
            Assert.True(KJson.Has(tree, "status", "phase"));
            Assert.Null(KJson.Str(tree, "spec", "priority")); // a number is not a string
            Assert.Null(KJson.Str(tree, "metadata", "missing", "deeper"));
            Assert.Equal(new Dictionary<string, string> { ["app"] = "web" }, KJson.Labels(tree));
        }

        // the view is still as parsed: it compares as JSON (a built one answers null: compare nodes)
        Assert.True(KJson.SameIgnoringVersion(view, ObjectApi.View(Stored(Pod, revision: 8)), "metadata"));
        Assert.False(KJson.SameIgnoringVersion(view, ObjectApi.View(Stored(Pod.Replace("\"u1\"", "\"u2\"", StringComparison.Ordinal))), "metadata"));
        Assert.Null(KJson.SameIgnoringVersion(view, built, "metadata"));

        // once changed, reads see the change
        KJson.Obj(view, "spec")["nodeName"] = "node-1";
        Assert.Equal("node-1", KJson.Str(view, "spec", "nodeName"));
        Assert.Null(KJson.SameIgnoringVersion(view, ObjectApi.View(stored), "metadata"));
    }

    [Fact]
    public async Task Status_and_binding_writes_keep_everything_else_as_stored()
    {
        await using var store = EmbeddedObjectStore.Open(dir);
        var api = new ObjectApi(store);
        var pod = api.Create(ResourceType.Pods, "default", JsonNode.Parse("""{"metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}""")!.AsObject());
        long created = long.Parse(KJson.Str(pod, "metadata", "resourceVersion")!, System.Globalization.CultureInfo.InvariantCulture);

        // through status, a change of the spec is dropped
        var after = api.Mutate(ResourceType.Pods, "default", "web", p =>
        {
            KJson.Obj(p, "status")["phase"] = "Running";
            KJson.Obj(p, "spec")["hostname"] = "sneaky";
            return true;
        }, "status")!;
        var stored = api.Get(ResourceType.Pods, "default", "web");
        Assert.Equal(("Running", null), (KJson.Str(stored, "status", "phase"), KJson.Str(stored, "spec", "hostname")));
        Assert.Equal(KJson.Str(after, "metadata", "resourceVersion"), KJson.Str(stored, "metadata", "resourceVersion"));

        // the same status again writes nothing
        long before = store.Revision;
        api.Mutate(ResourceType.Pods, "default", "web", p =>
        {
            KJson.Obj(p, "status")["phase"] = "Running";
            return true;
        }, "status");
        Assert.Equal(before, store.Revision);

        // a binding sets the node and the status, and counts a new generation
        api.Mutate(ResourceType.Pods, "default", "web", p =>
        {
            KJson.Obj(p, "spec")["nodeName"] = "node-1";
            KJson.Obj(p, "status")["phase"] = "Pending";
            KJson.Obj(p, "metadata")["labels"] = new JsonObject { ["dropped"] = "yes" };
            return true;
        }, "binding");
        stored = api.Get(ResourceType.Pods, "default", "web");
        Assert.Equal(("node-1", "Pending", 2L, 0), (KJson.Str(stored, "spec", "nodeName"), KJson.Str(stored, "status", "phase"), KJson.Int(stored, "metadata", "generation"), KJson.Labels(stored).Count));
        Assert.True(store.Revision > created);
    }

    [Fact]
    public async Task Deferred_writes_reach_the_log_when_their_scope_ends()
    {
        string log = Path.Combine(dir, "objects.log");
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            store.Create(new ObjectKey("events", "default", "first"), Encoding.UTF8.GetBytes("{}"));
            long durable = new FileInfo(log).Length;
            using (store.DeferDurability())
            {
                store.Create(new ObjectKey("events", "default", "second"), Encoding.UTF8.GetBytes("{}"));
                store.Create(new ObjectKey("events", "default", "third"), Encoding.UTF8.GetBytes("{}"));
                Assert.Equal(durable, new FileInfo(log).Length);
                Assert.NotNull(store.Get(new ObjectKey("events", "default", "third"))); // readable at once
            }

            Assert.True(new FileInfo(log).Length > durable);
        }

        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            Assert.Equal(["first", "second", "third"], store.List("events").Items.Select(o => o.Key.Name));
        }
    }

    [Fact]
    public void Strings_read_off_views_are_their_values_however_they_were_written()
    {
        // names and uids come from a cache of recent strings; escaped, non-ASCII and long values are decoded as they are
        string longValue = new('x', 100);
        var values = new[] { "web", "u1", @"caf\u00e9", @"a\""quoted\""", @"tab\there", longValue, "", "Running", "café" }; // as written in JSON
        var expected = new[] { "web", "u1", "café", "a\"quoted\"", "tab\there", longValue, "", "Running", "café" };
        for (int round = 0; round < 2; round++)
        {
            for (int i = 0; i < values.Length; i++)
            {
                var view = ObjectApi.View(Stored("{\"metadata\":{\"name\":\"" + values[i] + "\",\"labels\":{\"" + values[i] + "\":\"" + values[i] + "\"}}}"));
                Assert.Equal(expected[i], KJson.Str(view, "metadata", "name"));
                Assert.Equal(expected[i], Assert.Single(KJson.Labels(view)).Value);
                Assert.Equal(expected[i], Assert.Single(KJson.Labels(view)).Key);
            }
        }

        // thousands of distinct values share a bounded table: each read is still its own value
        for (int i = 0; i < 40_000; i++)
        {
            var view = ObjectApi.View(Stored($$$"""{"metadata":{"name":"pod-{{{i}}}"}}"""));
            Assert.Equal($"pod-{i}", KJson.Str(view, "metadata", "name"));
        }
    }

    [Fact]
    public void Uids_are_random_version_4_uuids_that_do_not_repeat()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < 10_000; i++)
        {
            string uid = ObjectApi.NewUid();
            Assert.Matches("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", uid);
            Assert.True(seen.Add(uid), uid);
        }
    }
}
