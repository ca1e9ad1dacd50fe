using System.Text;
using System.Text.Json.Nodes;
using Containers.Orchestration.Storage;

namespace Containers.Tests.Orchestration;

/// <summary>
/// One contract for every <see cref="IObjectStore"/>, after the conformance tests kube-apiserver runs against its etcd
/// store (k8s.io/apiserver/pkg/storage/testing): conflicts on create and on a stale revision, list and watch consistency
/// under concurrent writes, ordering, deletions with their last state, resume after a restart, 410 after compaction,
/// and no lost update under concurrent compare-and-swap. Each concrete class runs all of them on its store.
/// </summary>
public abstract class ObjectStoreConformance : IAsyncLifetime
{
    private readonly List<IObjectStore> opened = [];

    /// <summary>Opens the test's store (again, after a restart: the same data).</summary>
    protected abstract Task<IObjectStore> OpenStoreAsync();

    /// <summary>Whether a reopened store can replay changes made before it was closed (etcd keeps its history; the embedded store starts its window at open).</summary>
    protected abstract bool KeepsHistoryAcrossRestart { get; }

    /// <inheritdoc/>
    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc/>
    public virtual async Task DisposeAsync()
    {
        foreach (var store in opened)
        {
            await store.DisposeAsync();
        }
    }

    private async Task<IObjectStore> OpenAsync()
    {
        var store = await OpenStoreAsync();
        opened.Add(store);
        return store;
    }

    private async Task CloseAsync(IObjectStore store)
    {
        opened.Remove(store);
        await store.DisposeAsync();
    }

    private static ReadOnlyMemory<byte> Obj(string name, int n = 0) => Encoding.UTF8.GetBytes($$"""{"metadata":{"name":"{{name}}"},"n":{{n}}}""");

    private static int N(StoredObject o) => (int)JsonNode.Parse(o.Json.Span)!["n"]!;

    private static string Rv(StoredObject o) => (string)JsonNode.Parse(o.Json.Span)!["metadata"]!["resourceVersion"]!;

    private static async Task<List<WatchEvent>> CollectAsync(IAsyncEnumerable<WatchEvent> watch, Func<List<WatchEvent>, bool> enough)
    {
        var seen = new List<WatchEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await foreach (var e in watch.WithCancellation(timeout.Token))
        {
            seen.Add(e);
            if (enough(seen))
            {
                break;
            }
        }

        return seen;
    }

    [Fact]
    public async Task A_create_is_read_back_with_its_revision_as_resource_version_and_a_second_create_conflicts()
    {
        var store = await OpenAsync();
        var key = new ObjectKey("pods", "default", "web");
        var created = store.Create(key, Obj("web", 1));
        Assert.Equal(created.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture), Rv(created));
        Assert.Equal(created.Revision, store.Get(key)!.Revision);
        Assert.Equal(1, N(store.Get(key)!));
        Assert.Equal(created.Revision, store.Revision);
        Assert.Throws<StoreConflictException>(() => store.Create(key, Obj("web", 2)));
        Assert.Equal(1, N(store.Get(key)!)); // the refused create changed nothing
        Assert.Null(store.Get(new ObjectKey("pods", "default", "other")));
        Assert.Null(store.Get(new ObjectKey("pods", "kube-system", "web")));
    }

    [Fact]
    public async Task Updates_and_deletes_check_the_revision_they_are_given_and_a_missing_object_is_not_found()
    {
        var store = await OpenAsync();
        var key = new ObjectKey("deployments.apps", "default", "web");
        var v1 = store.Create(key, Obj("web", 1));
        var v2 = store.Update(key, Obj("web", 2), v1.Revision);
        Assert.True(v2.Revision > v1.Revision);
        var stale = Assert.Throws<StoreConflictException>(() => store.Update(key, Obj("web", 3), v1.Revision));
        Assert.Contains(v2.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture), stale.Message, StringComparison.Ordinal);
        Assert.Throws<StoreConflictException>(() => store.Delete(key, v1.Revision));
        Assert.Equal(2, N(store.Get(key)!));
        var v3 = store.Update(key, Obj("web", 3)); // unconditional
        Assert.Equal(3, N(v3));
        var missing = new ObjectKey("deployments.apps", "default", "nope");
        Assert.Throws<StoreNotFoundException>(() => store.Update(missing, Obj("nope")));
        Assert.Throws<StoreNotFoundException>(() => store.Update(missing, Obj("nope"), v3.Revision));
        Assert.Throws<StoreNotFoundException>(() => store.Delete(missing));
        var deleted = store.Delete(key, v3.Revision);
        Assert.True(deleted.Revision > v3.Revision);
        Assert.Equal(3, N(deleted)); // its last state, at the deletion's revision
        Assert.Equal(deleted.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture), Rv(deleted));
        Assert.Null(store.Get(key));
        Assert.Throws<StoreNotFoundException>(() => store.Delete(key));
        var again = store.Create(key, Obj("web", 9)); // a name is free again once deleted
        Assert.True(again.Revision > deleted.Revision);
    }

    [Fact]
    public async Task Every_write_gets_a_new_revision_above_the_last_across_resources_and_resource_revisions_follow_their_own_writes()
    {
        var store = await OpenAsync();
        long last = store.Revision;
        var revisions = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            revisions.Add(store.Create(new ObjectKey("pods", "default", $"p{i}"), Obj($"p{i}")).Revision);
            revisions.Add(store.Create(new ObjectKey("nodes", null, $"n{i}"), Obj($"n{i}")).Revision);
            revisions.Add(store.Create(new ObjectKey("configmaps", "ns" + i, "c"), Obj("c")).Revision);
        }

        Assert.True(revisions[0] > last);
        Assert.Equal(revisions.Order(), revisions);
        Assert.Equal(revisions.Count, revisions.Distinct().Count());
        Assert.Equal(revisions[^1], store.Revision);
        long pods = store.ResourceRevision("pods");
        Assert.True(pods >= revisions[^3]);
        store.Update(new ObjectKey("nodes", null, "n0"), Obj("n0", 1));
        Assert.Equal(pods, store.ResourceRevision("pods")); // no pod changed
        Assert.True(store.ResourceRevision("nodes") > pods);
    }

    [Fact]
    public async Task A_list_is_ordered_by_namespace_then_name_and_filtered_by_namespace()
    {
        var store = await OpenAsync();
        foreach (var (ns, name) in new[] { ("b", "z"), ("a", "y"), ("b", "a"), ("a", "b"), ("c", "m") })
        {
            store.Create(new ObjectKey("services", ns, name), Obj(name));
        }

        store.Create(new ObjectKey("secrets", "a", "s"), Obj("s"));
        store.Create(new ObjectKey("namespaces", null, "a"), Obj("a"));
        var (all, at) = store.List("services");
        Assert.Equal(["a/b", "a/y", "b/a", "b/z", "c/m"], all.Select(o => $"{o.Key.Namespace}/{o.Key.Name}"));
        Assert.Equal(store.Revision, at);
        Assert.Equal(["a", "z"], store.List("services", "b").Items.Select(o => o.Key.Name));
        Assert.Empty(store.List("services", "d").Items);
        Assert.Empty(store.List("ingresses.networking.k8s.io").Items);
        Assert.Equal(["a"], store.List("namespaces").Items.Select(o => o.Key.Name));
        Assert.All(all, o => Assert.Equal(o.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture), Rv(o)));
    }

    [Fact]
    public async Task A_watch_from_a_lists_revision_sees_every_later_change_once_and_in_order_while_writers_race()
    {
        var store = await OpenAsync();
        for (int i = 0; i < 20; i++)
        {
            store.Create(new ObjectKey("pods", "default", $"p{i}"), Obj($"p{i}"));
        }

        using var writersDone = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (int i = 0; i < 25; i++)
            {
                var key = new ObjectKey("pods", "default", $"p{(w * 5) + (i % 5)}");
                var current = store.Get(key)!;
                try
                {
                    store.Update(key, Obj(key.Name, N(current) + 1), current.Revision);
                }
                catch (StoreConflictException)
                {
                    // lost a race: fine for this test
                }

                if (i % 10 == 0)
                {
                    store.Create(new ObjectKey("pods", "default", $"w{w}-{i}"), Obj("new"));
                }
            }
        })).ToList();
        await Task.Delay(5);
        var (items, listedAt) = store.List("pods");
        await Task.WhenAll(writers);
        long end = store.Revision;
        var events = end == listedAt ? [] : await CollectAsync(store.WatchAsync("pods", null, listedAt), seen => seen[^1].Object.Revision >= end);

        // revisions strictly increase, every one after the list's
        Assert.All(events, e => Assert.True(e.Object.Revision > listedAt));
        Assert.Equal(events.Select(e => e.Object.Revision).Order(), events.Select(e => e.Object.Revision));
        Assert.Equal(events.Count, events.Select(e => e.Object.Revision).Distinct().Count());

        // the list plus the events is exactly the store's state now
        var state = items.ToDictionary(o => o.Key.Name, N);
        foreach (var e in events)
        {
            Assert.Equal(e.Type == WatchEventType.Added, !state.ContainsKey(e.Object.Key.Name));
            state[e.Object.Key.Name] = N(e.Object);
        }

        Assert.Equal(store.List("pods").Items.ToDictionary(o => o.Key.Name, N), state);
    }

    [Fact]
    public async Task Concurrent_compare_and_swap_loses_no_update()
    {
        var store = await OpenAsync();
        var key = new ObjectKey("configmaps", "default", "counter");
        store.Create(key, Obj("counter"));
        int conflicts = 0;
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                while (true)
                {
                    var current = store.Get(key)!;
                    try
                    {
                        store.Update(key, Obj("counter", N(current) + 1), current.Revision);
                        break;
                    }
                    catch (StoreConflictException)
                    {
                        Interlocked.Increment(ref conflicts);
                    }
                }
            }
        })));
        Assert.Equal(120, N(store.Get(key)!));
    }

    [Fact]
    public async Task A_watch_replays_from_its_revision_filters_by_namespace_and_reports_a_deletion_with_the_last_state()
    {
        var store = await OpenAsync();
        var a = new ObjectKey("pods", "a", "x");
        var b = new ObjectKey("pods", "b", "x");
        var start = store.Revision;
        store.Create(a, Obj("x", 1));
        store.Create(b, Obj("x", 1));
        store.Create(new ObjectKey("services", "a", "x"), Obj("x"));
        store.Update(a, Obj("x", 2));
        var deleted = store.Delete(a);
        var inA = await CollectAsync(store.WatchAsync("pods", "a", start), seen => seen.Count == 3);
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified, WatchEventType.Deleted], inA.Select(e => e.Type));
        Assert.All(inA, e => Assert.Equal(a, e.Object.Key));
        Assert.Equal(deleted.Revision, inA[2].Object.Revision);
        Assert.Equal(2, N(inA[2].Object));

        // live: a watch from now sees the next change only
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var live = CollectAsync(store.WatchAsync("pods", null, store.Revision, stop.Token), seen => seen.Count == 1);
        await Task.Delay(50);
        var made = store.Create(new ObjectKey("pods", "c", "y"), Obj("y"));
        var got = Assert.Single(await live);
        Assert.Equal(made.Revision, got.Object.Revision);
        Assert.Equal(WatchEventType.Added, got.Type);
    }

    [Fact]
    public async Task After_a_restart_objects_keep_their_revisions_and_a_watch_resumes_from_the_last_revision_seen()
    {
        var store = await OpenAsync();
        var first = store.Create(new ObjectKey("pods", "default", "a"), Obj("a", 1));
        var second = store.Create(new ObjectKey("pods", "default", "b"), Obj("b", 1));
        var node = store.Create(new ObjectKey("nodes", null, "n1"), Obj("n1"));
        await CloseAsync(store);

        store = await OpenAsync();
        Assert.Equal(first.Revision, store.Get(new ObjectKey("pods", "default", "a"))!.Revision);
        Assert.Equal(second.Revision, store.Get(new ObjectKey("pods", "default", "b"))!.Revision);
        Assert.Equal(node.Revision, store.Get(new ObjectKey("nodes", null, "n1"))!.Revision);
        Assert.True(store.Revision >= node.Revision);
        var third = store.Update(new ObjectKey("pods", "default", "a"), Obj("a", 2), first.Revision);
        var resumed = await CollectAsync(store.WatchAsync("pods", null, node.Revision), seen => seen.Count == 1);
        Assert.Equal(third.Revision, Assert.Single(resumed).Object.Revision);
        if (KeepsHistoryAcrossRestart)
        {
            var replayed = await CollectAsync(store.WatchAsync("pods", null, first.Revision), seen => seen.Count == 2);
            Assert.Equal([second.Revision, third.Revision], replayed.Select(e => e.Object.Revision));
        }
    }

    [Fact]
    public async Task A_watch_from_before_a_compaction_is_gone_and_one_from_after_it_is_served()
    {
        var store = await OpenAsync();
        var revisions = new List<long>();
        for (int i = 0; i < 6; i++)
        {
            revisions.Add(store.Create(new ObjectKey("pods", "default", $"p{i}"), Obj($"p{i}")).Revision);
        }

        store.Compact(revisions[3]);
        await Assert.ThrowsAsync<StoreGoneException>(() => CollectAsync(store.WatchAsync("pods", null, revisions[1]), _ => true));
        await Assert.ThrowsAsync<StoreGoneException>(() => CollectAsync(store.WatchAsync("pods", "default", revisions[2]), _ => true));
        var after = await CollectAsync(store.WatchAsync("pods", null, revisions[3]), seen => seen.Count == 2);
        Assert.Equal(revisions[4..], after.Select(e => e.Object.Revision));
        Assert.Equal(6, store.List("pods").Items.Count); // objects are untouched
    }
}

/// <summary>The contract on the embedded store.</summary>
public sealed class EmbeddedStoreConformanceTests : ObjectStoreConformance
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-store-" + Guid.NewGuid().ToString("N")[..8]);

    /// <inheritdoc/>
    protected override bool KeepsHistoryAcrossRestart => false;

    /// <inheritdoc/>
    protected override Task<IObjectStore> OpenStoreAsync() => Task.FromResult<IObjectStore>(EmbeddedObjectStore.Open(dir));

    /// <inheritdoc/>
    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(dir, recursive: true);
    }
}

/// <summary>The contract on etcd (a real etcd 3.4 member; each test under a key prefix of its own).</summary>
public sealed class EtcdStoreConformanceTests(EtcdStoreConformanceTests.Etcd etcd) : ObjectStoreConformance, IClassFixture<EtcdStoreConformanceTests.Etcd>
{
    private readonly string prefix = "/t" + Guid.NewGuid().ToString("N")[..8] + "/registry";

    /// <inheritdoc/>
    protected override bool KeepsHistoryAcrossRestart => true;

    /// <inheritdoc/>
    protected override async Task<IObjectStore> OpenStoreAsync() =>
        await EtcdObjectStore.OpenAsync(new EtcdStoreOptions { Endpoints = [etcd.Server.Url], Prefix = prefix, CompactionInterval = null });

    /// <summary>One etcd for the class.</summary>
    public sealed class Etcd : IAsyncLifetime
    {
        /// <summary>The member.</summary>
        public EtcdServer Server { get; private set; } = null!;

        /// <inheritdoc/>
        public async Task InitializeAsync() => Server = await EtcdServer.StartAsync();

        /// <inheritdoc/>
        public async Task DisposeAsync() => await Server.DisposeAsync();
    }
}
