using System.Text;
using Containers.Orchestration.Storage;

namespace Containers.Tests.Orchestration;

/// <summary>The embedded object store: etcd's contract (revisions, compare-and-swap, watch from a revision), kept on disk.</summary>
public sealed class ObjectStoreTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-store-" + Guid.NewGuid().ToString("N")[..8]);

    private static ReadOnlyMemory<byte> Json(string s) => Encoding.UTF8.GetBytes(s);

    private static string Text(StoredObject? o) => o is null ? "" : Encoding.UTF8.GetString(o.Json.Span);

    public void Dispose()
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task What_the_store_keeps_carries_the_revision_of_its_last_write()
    {
        var web = new ObjectKey("pods", "default", "web");
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            Assert.Equal("""{"metadata":{"resourceVersion":"1","name":"web"},"spec":1}""", Text(store.Create(web, Json("""{"metadata":{"name":"web"},"spec":1}"""))));
            Assert.Equal("""{"kind":"Pod","metadata":{"name":"web","resourceVersion":"2"}}""", Text(store.Update(web, Json("""{"kind":"Pod","metadata":{"name":"web","resourceVersion":"1"}}"""))));
            Assert.Equal("""{"metadata":{"resourceVersion":"3"}}""", Text(store.Update(web, Json("""{"metadata":{}}"""))));
            Assert.Equal("""{"metadata":{"resourceVersion":"4"}}""", Text(store.Delete(web))); // the deletion's revision
            store.Create(web, Json("""{"metadata":{"name":"web"}}"""));
        }

        // a log written before the store kept revisions in objects: the revision is written in when it is read back
        File.AppendAllText(Path.Combine(dir, "objects.log"), """{"op":"put","rv":9,"r":"pods","ns":"default","n":"old","o":{"metadata":{"name":"old"}}}""" + "\n");
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            Assert.Equal("""{"metadata":{"resourceVersion":"5","name":"web"}}""", Text(store.Get(web)));
            Assert.Equal("""{"metadata":{"resourceVersion":"9","name":"old"}}""", Text(store.Get(new ObjectKey("pods", "default", "old"))));
        }
    }

    [Fact]
    public async Task Writes_get_increasing_revisions_and_lose_races_with_a_conflict()
    {
        await using var store = EmbeddedObjectStore.Open(dir);
        var web = new ObjectKey("pods", "default", "web");
        var a = store.Create(web, Json("""{"spec":1}"""));
        var b = store.Create(new ObjectKey("pods", "other", "web"), Json("""{"spec":2}"""));
        var node = store.Create(new ObjectKey("nodes", null, "n1"), Json("""{}"""));
        Assert.Equal([1L, 2L, 3L], [a.Revision, b.Revision, node.Revision]);
        Assert.Throws<StoreConflictException>(() => store.Create(web, Json("{}")));

        var updated = store.Update(web, Json("""{"spec":3}"""), expectedRevision: 1);
        Assert.Equal(4, updated.Revision);
        var stale = Assert.Throws<StoreConflictException>(() => store.Update(web, Json("""{"spec":4}"""), expectedRevision: 1));
        Assert.Contains("pods/default/web has been modified", stale.Message, StringComparison.Ordinal);
        Assert.Equal("""{"spec":3}""", Text(store.Get(web)));

        Assert.Equal(["default", "other"], store.List("pods").Items.Select(o => o.Key.Namespace));
        Assert.Equal(["other"], store.List("pods", "other").Items.Select(o => o.Key.Namespace));
        Assert.Equal(4, store.List("pods").Revision);
        Assert.Empty(store.List("services").Items);

        var deleted = store.Delete(web);
        Assert.Equal((5L, """{"spec":3}"""), (deleted.Revision, Text(deleted)));
        Assert.Null(store.Get(web));
        Assert.Throws<StoreNotFoundException>(() => store.Delete(web));
        Assert.Throws<StoreNotFoundException>(() => store.Update(web, Json("{}")));
    }

    [Fact]
    public async Task Json_with_line_breaks_is_kept_on_one_log_line()
    {
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            var pretty = store.Create(new ObjectKey("configmaps", "default", "pretty"), Json("{\n  \"data\": {\r\n    \"k\": \"a\\nb\"\n  }\n}"));
            Assert.Equal("""{"data":{"k":"a\nb"}}""", Text(pretty));
            store.Create(new ObjectKey("configmaps", "default", "after"), Json("{}"));
        }

        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            Assert.Equal("""{"data":{"k":"a\nb"}}""", Text(store.Get(new ObjectKey("configmaps", "default", "pretty"))));
            Assert.NotNull(store.Get(new ObjectKey("configmaps", "default", "after")));
        }
    }

    [Fact]
    public async Task A_reopened_store_has_every_object_at_its_revision_and_drops_a_torn_last_write()
    {
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            store.Create(new ObjectKey("configmaps", "default", "a"), Json("""{"data":{"k":"v1"}}"""));
            store.Create(new ObjectKey("configmaps", "default", "b"), Json("""{"data":{}}"""));
            store.Update(new ObjectKey("configmaps", "default", "a"), Json("""{"data":{"k":"v2"}}"""));
            store.Delete(new ObjectKey("configmaps", "default", "b"));
            Assert.Throws<IOException>(() => EmbeddedObjectStore.Open(dir)); // one owner at a time
        }

        await File.AppendAllTextAsync(Path.Combine(dir, "objects.log"), """{"op":"put","rv":5,"r":"configmaps","ns":"default","n":"c","o":{"da"""); // a crash mid-write

        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            Assert.Equal(4, store.Revision);
            Assert.Equal("""{"data":{"k":"v2"}}""", Text(store.Get(new ObjectKey("configmaps", "default", "a"))));
            Assert.Equal(3, store.Get(new ObjectKey("configmaps", "default", "a"))!.Revision);
            Assert.Null(store.Get(new ObjectKey("configmaps", "default", "b")));
            Assert.Null(store.Get(new ObjectKey("configmaps", "default", "c")));
            Assert.Equal(5, store.Create(new ObjectKey("configmaps", "default", "c"), Json("{}")).Revision);
        }

        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            Assert.Equal(["a", "c"], store.List("configmaps").Items.Select(o => o.Key.Name));
        }
    }

    [Fact]
    public async Task A_watch_replays_the_changes_after_its_revision_then_follows_live_ones()
    {
        await using var store = EmbeddedObjectStore.Open(dir, new EmbeddedStoreOptions { WatchWindow = 3 });
        store.Create(new ObjectKey("pods", "default", "a"), Json("{}"));                 // 1
        store.Create(new ObjectKey("pods", "kube-system", "dns"), Json("{}"));           // 2
        store.Create(new ObjectKey("services", "default", "a"), Json("{}"));             // 3
        store.Update(new ObjectKey("pods", "default", "a"), Json("""{"v":2}"""));        // 4

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var seen = new List<(WatchEventType, string, long)>();
        var watch = Task.Run(async () =>
        {
            await foreach (var e in store.WatchAsync("pods", "default", 1, cts.Token))
            {
                seen.Add((e.Type, e.Object.Key.Name, e.Object.Revision));
                if (seen.Count == 3)
                {
                    break;
                }
            }
        });
        await Task.Delay(100);
        store.Create(new ObjectKey("pods", "other", "x"), Json("{}"));                   // 5: another namespace
        store.Delete(new ObjectKey("pods", "default", "a"));                             // 6
        store.Create(new ObjectKey("pods", "default", "b"), Json("{}"));                 // 7
        await watch;
        Assert.Equal([(WatchEventType.Modified, "a", 4L), (WatchEventType.Deleted, "a", 6L), (WatchEventType.Added, "b", 7L)], seen);

        // changes older than the window: the client must list again
        await Assert.ThrowsAsync<StoreGoneException>(async () =>
        {
            await foreach (var unused in store.WatchAsync("pods", null, 1, cts.Token))
            {
            }
        });
    }

    [Fact]
    public async Task Compaction_keeps_the_live_objects_only()
    {
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            var key = new ObjectKey("leases", "default", "leader");
            store.Create(key, Json("""{"n":0}"""));
            for (var i = 1; i <= 3000; i++)
            {
                store.Update(key, Json($$"""{"n":{{i}}}"""));
            }
        }

        Assert.True(File.ReadAllLines(Path.Combine(dir, "objects.log")).Length < 1100);
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            Assert.Equal((3001L, """{"n":3000}"""), (store.Revision, Text(store.Get(new ObjectKey("leases", "default", "leader")))));
        }
    }

    [Fact]
    public async Task Events_are_kept_on_disk_only_and_read_back_the_same_through_writes_compactions_and_a_reopen()
    {
        static ObjectKey Event(int i) => new("events", "default", $"web-{i}.17f3a9c2");
        static string Body(int i, int n) => $$"""{"metadata":{"name":"web-{{i}}"},"message":"Started container é{{i}} \"x\"","count":{{n}}}""";
        var expected = new Dictionary<ObjectKey, (long Revision, string Json)>();
        StoredObject early;
        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            var pod = store.Create(new ObjectKey("pods", "default", "web"), Json("""{"metadata":{"name":"web"}}"""));
            early = store.Create(Event(0), Json(Body(0, 1)));
            Assert.False(early.InMemory); // its line is in the file: the bytes are read back from there
            Assert.True(pod.InMemory); // other resources stay in memory
            Assert.Equal("""{"metadata":{"resourceVersion":"2","name":"web-0"},"message":"Started container é0 \"x\"","count":1}""", Text(early));

            // writes beside each other (batched into shared flushes), updates and deletions, then enough rewrites of
            // one key to compact the log under the objects read before
            await Task.WhenAll(Enumerable.Range(1, 4).Select(t => Task.Run(() =>
            {
                for (var i = t; i < 600; i += 4)
                {
                    store.Create(Event(i), Json(Body(i, 1)));
                }
            })));
            for (var i = 1; i < 600; i += 3)
            {
                store.Update(Event(i), Json(Body(i, 2)));
            }

            for (var i = 2; i < 600; i += 5)
            {
                store.Delete(Event(i));
            }

            var lease = new ObjectKey("leases", "default", "leader");
            store.Create(lease, Json("""{"n":0}"""));
            for (var n = 1; n <= 2500; n++)
            {
                store.Update(lease, Json($$"""{"n":{{n}}}"""));
            }

            Assert.True(File.ReadAllLines(Path.Combine(dir, "objects.log")).Length < 2000); // compacted
            Assert.Equal("""{"metadata":{"resourceVersion":"2","name":"web-0"},"message":"Started container é0 \"x\"","count":1}""", Text(early)); // read before the compaction
            foreach (var o in store.List("events").Items)
            {
                Assert.False(o.InMemory);
                expected[o.Key] = (o.Revision, Text(o));
            }

            Assert.Equal(600 - 120, expected.Count);
            Assert.Contains("\"count\":2", expected[Event(4)].Json, StringComparison.Ordinal);
            Assert.StartsWith("""{"metadata":{"resourceVersion":""", expected[Event(3)].Json, StringComparison.Ordinal);
            Assert.Contains("\",\"name\":\"web-3\"},\"message\":\"Started container é3", expected[Event(3)].Json, StringComparison.Ordinal);
            store.Create(Event(1000), Json(Body(1000, 1)));
            expected[Event(1000)] = (store.Revision, Text(store.Get(Event(1000))));
        }

        await using (var store = EmbeddedObjectStore.Open(dir))
        {
            var events = store.List("events").Items;
            Assert.All(events, o => Assert.False(o.InMemory));
            Assert.Equal(expected.OrderBy(e => e.Key.Name, StringComparer.Ordinal).Select(e => (e.Key, e.Value.Revision, e.Value.Json)), events.OrderBy(o => o.Key.Name, StringComparer.Ordinal).Select(o => (o.Key, o.Revision, Text(o))));
            var again = store.Update(Event(1000), Json(Body(1000, 3)));
            Assert.Contains("\"count\":3", Text(store.Get(Event(1000))), StringComparison.Ordinal);
            Assert.Equal(Text(again), Text(store.Get(Event(1000))));
        }
    }

    [Fact]
    public void A_parse_is_shared_while_in_use_and_let_go_after_two_periods_without_use()
    {
        var stored = new StoredObject(new ObjectKey("pods", "default", "web"), 1, Json("""{"metadata":{"name":"web"}}"""));
        int parses = 0;
        object Parse(StoredObject _)
        {
            parses++;
            return new object();
        }

        var first = stored.Parsed(Parse);
        Assert.Same(first, stored.Parsed(Parse)); // shared (one period ending meanwhile cannot let it go: two must)
        Assert.Equal(1, parses);
        Assert.True(StoredObject.RecentParses.Listed > 0);

        StoredObject.RecentParses.EndPeriod();
        StoredObject.RecentParses.EndPeriod(); // two periods without a use (the timer ending more only lets go sooner)
        var again = stored.Parsed(Parse);
        Assert.NotSame(first, again);
        Assert.Equal(2, parses);
    }
}
