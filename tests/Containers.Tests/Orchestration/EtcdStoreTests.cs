using System.Text;
using Containers.Orchestration.Storage;
using Google.Protobuf;

namespace Containers.Tests.Orchestration;

/// <summary>What the etcd store adds to the common contract: kube-apiserver's key layout, event leases, several servers on one etcd, and an etcd restart under a running store.</summary>
public sealed class EtcdStoreTests : IAsyncLifetime
{
    private EtcdServer etcd = null!;

    public async Task InitializeAsync() => etcd = await EtcdServer.StartAsync();

    public async Task DisposeAsync() => await etcd.DisposeAsync();

    private static ReadOnlyMemory<byte> Obj(string name, int n = 0) => Encoding.UTF8.GetBytes($$"""{"metadata":{"name":"{{name}}"},"n":{{n}}}""");

    private Task<EtcdObjectStore> OpenAsync(TimeSpan? eventTtl = null) =>
        EtcdObjectStore.OpenAsync(new EtcdStoreOptions { Endpoints = [etcd.Url], CompactionInterval = null, EventTtl = eventTtl });

    [Fact]
    public void Keys_follow_kube_apiservers_layout_and_parse_back()
    {
        var keys = new EtcdKeys();
        foreach (var (key, path) in new (ObjectKey, string)[]
        {
            (new("pods", "default", "web"), "/registry/pods/default/web"),
            (new("nodes", null, "node-1"), "/registry/nodes/node-1"),
            (new("deployments.apps", "prod", "api"), "/registry/deployments/prod/api"),
            (new("leases.coordination.k8s.io", "kube-system", "kube-scheduler"), "/registry/leases/kube-system/kube-scheduler"),
            (new("clusterroles.rbac.authorization.k8s.io", null, "admin"), "/registry/clusterroles/admin"),
            (new("events", "default", "e1"), "/registry/events/default/e1"),
            (new("events.events.k8s.io", "default", "e1"), "/registry/events.k8s.io/events/default/e1"),
            (new("widgets.example.com", "default", "w"), "/registry/example.com/widgets/default/w"),
            (new("clusterwidgets.example.com", null, "w"), "/registry/example.com/clusterwidgets/w"),
        })
        {
            Assert.Equal(path, keys.Of(key));
            Assert.Equal(key, keys.Parse(path));
        }

        Assert.Null(keys.Parse("/registry/pods"));
        Assert.Null(keys.Parse("/elsewhere/pods/default/x"));
        Assert.Equal("/cluster-a/registry/pods/default/web", new EtcdKeys("/cluster-a/registry/").Of(new ObjectKey("pods", "default", "web")));
        Assert.Throws<ArgumentException>(() => new EtcdKeys("registry"));
        Assert.Equal("/registry0"u8.ToArray(), EtcdKeys.RangeEnd("/registry/"u8));
    }

    [Fact]
    public async Task Objects_are_kept_under_their_keys_with_mod_revision_as_resource_version_and_events_carry_a_lease()
    {
        await using var store = await OpenAsync(TimeSpan.FromMinutes(10));
        var pod = store.Create(new ObjectKey("pods", "default", "web"), Obj("web"));
        var ev = store.Create(new ObjectKey("events", "default", "web.1"), Obj("web.1"));
        store.Create(new ObjectKey("events", "default", "web.2"), Obj("web.2"));

        using var client = new dotnet_etcd.EtcdClient(etcd.Url);
        var kv = client.GetConnection().KVClient;
        var raw = kv.Range(new Etcdserverpb.RangeRequest { Key = ByteString.CopyFromUtf8("/registry/pods/default/web") }).Kvs.Single();
        Assert.Equal(pod.Revision, raw.ModRevision);
        Assert.Equal(0, raw.Lease);
        Assert.Contains("\"name\":\"web\"", raw.Value.ToStringUtf8(), StringComparison.Ordinal);

        var events = kv.Range(new Etcdserverpb.RangeRequest { Key = ByteString.CopyFromUtf8("/registry/events/"), RangeEnd = ByteString.CopyFrom(EtcdKeys.RangeEnd("/registry/events/"u8)) }).Kvs;
        Assert.Equal(2, events.Count);
        Assert.Equal(ev.Revision, events[0].ModRevision);
        Assert.NotEqual(0, events[0].Lease);
        Assert.Equal(events[0].Lease, events[1].Lease); // one lease for a minute of event writes
        var ttl = client.GetConnection().LeaseClient.LeaseTimeToLive(new Etcdserverpb.LeaseTimeToLiveRequest { ID = events[0].Lease });
        Assert.InRange(ttl.TTL, 600, 660);

        // when the lease runs out, etcd deletes the events and the store's watch cache hears of it
        client.GetConnection().LeaseClient.LeaseRevoke(new Etcdserverpb.LeaseRevokeRequest { ID = events[0].Lease });
        var until = DateTime.UtcNow.AddSeconds(10);
        while (store.List("events").Items.Count > 0 && DateTime.UtcNow < until)
        {
            await Task.Delay(20);
        }

        Assert.Empty(kv.Range(new Etcdserverpb.RangeRequest { Key = ByteString.CopyFromUtf8("/registry/events/"), RangeEnd = ByteString.CopyFrom(EtcdKeys.RangeEnd("/registry/events/"u8)) }).Kvs);
        Assert.Empty(store.List("events").Items);
        Assert.NotNull(store.Get(new ObjectKey("pods", "default", "web")));
    }

    [Fact]
    public async Task Two_stores_on_one_etcd_see_each_others_writes_and_their_races_conflict()
    {
        await using var one = await OpenAsync();
        await using var two = await OpenAsync();
        var key = new ObjectKey("configmaps", "default", "shared");
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var watched = new List<WatchEvent>();
        long from = two.Revision; // read before the writes: a task started late would begin after the create and miss it
        var watching = Task.Run(async () =>
        {
            await foreach (var e in two.WatchAsync("configmaps", "default", from, stop.Token))
            {
                watched.Add(e);
                if (watched.Count == 2)
                {
                    break;
                }
            }
        });
        var created = one.Create(key, Obj("shared", 1));
        var until = DateTime.UtcNow.AddSeconds(10);
        while (two.Get(key) is null && DateTime.UtcNow < until)
        {
            await Task.Delay(5);
        }

        Assert.Equal(created.Revision, two.Get(key)!.Revision);
        Assert.Throws<StoreConflictException>(() => two.Create(key, Obj("shared", 2)));
        var updated = two.Update(key, Obj("shared", 2), created.Revision);
        Assert.Throws<StoreConflictException>(() => one.Update(key, Obj("shared", 3), created.Revision)); // one's stale revision
        await watching;
        Assert.Equal([created.Revision, updated.Revision], watched.Select(e => e.Object.Revision));
        Assert.Equal([WatchEventType.Added, WatchEventType.Modified], watched.Select(e => e.Type));
    }

    [Fact]
    public async Task A_store_rides_out_an_etcd_restart_and_its_watch_misses_nothing()
    {
        await using var store = await OpenAsync();
        var before = store.Create(new ObjectKey("pods", "default", "a"), Obj("a"));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var watched = new List<WatchEvent>();
        var watching = Task.Run(async () =>
        {
            await foreach (var e in store.WatchAsync("pods", null, before.Revision, stop.Token))
            {
                watched.Add(e);
                if (watched.Count == 3)
                {
                    break;
                }
            }
        });

        await etcd.RestartAsync(TimeSpan.FromMilliseconds(300));

        // writes go through again once the member is back (the client reconnects), and the cache follows
        StoredObject? after = null;
        var until = DateTime.UtcNow.AddSeconds(20);
        while (after is null && DateTime.UtcNow < until)
        {
            try
            {
                after = store.Create(new ObjectKey("pods", "default", "b"), Obj("b"));
            }
            catch (ContainerException)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(after);
        var updated = store.Update(new ObjectKey("pods", "default", "a"), Obj("a", 1), before.Revision);
        var deleted = store.Delete(new ObjectKey("pods", "default", "b"));
        await watching;
        Assert.Equal([after.Revision, updated.Revision, deleted.Revision], watched.Select(e => e.Object.Revision));
        Assert.Equal(1, (int)System.Text.Json.Nodes.JsonNode.Parse(store.Get(new ObjectKey("pods", "default", "a"))!.Json.Span)!["n"]!);
    }
}
