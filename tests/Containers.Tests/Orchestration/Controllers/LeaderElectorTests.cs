using Containers.Orchestration.Api;
using Containers.Orchestration.Api.Kinds;
using Containers.Orchestration.Controllers;
using Containers.Orchestration.Storage;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration.Controllers;

/// <summary>Leader election on a Lease: a leader that stops hands over at once, also when it stops in the middle of a renewal.</summary>
public sealed class LeaderElectorTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-election-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A store whose Lease updates wait at a gate while it is closed (a slow etcd write).</summary>
    private sealed class GatedLeaseStore(IObjectStore inner) : IObjectStore
    {
        private readonly ManualResetEventSlim open = new(true);

        public SemaphoreSlim Entered { get; } = new(0);

        public void Close() => open.Reset();

        public void Open() => open.Set();

        public long Revision => inner.Revision;

        public IReadOnlyList<string> Resources => inner.Resources;

        public StoredObject? Get(ObjectKey key) => inner.Get(key);

        public (IReadOnlyList<StoredObject> Items, long Revision) List(string resource, string? ns = null) => inner.List(resource, ns);

        public StoredObject Create(ObjectKey key, ReadOnlyMemory<byte> json) => inner.Create(key, json);

        public StoredObject Update(ObjectKey key, ReadOnlyMemory<byte> json, long? expectedRevision = null)
        {
            if (key.Resource == LeaseStrategy.Type.StoreName && !open.IsSet)
            {
                Entered.Release();
                open.Wait();
            }

            return inner.Update(key, json, expectedRevision);
        }

        public StoredObject Delete(ObjectKey key, long? expectedRevision = null) => inner.Delete(key, expectedRevision);

        public IAsyncEnumerable<WatchEvent> WatchAsync(string resource, string? ns, long fromRevision, CancellationToken cancellationToken = default) => inner.WatchAsync(resource, ns, fromRevision, cancellationToken);

        public void Compact(long revision) => inner.Compact(revision);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private static async Task EventuallyAsync(Func<bool> probe, string what, int seconds = 10)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!probe())
        {
            Assert.True(DateTime.UtcNow < until, what);
            await Task.Delay(20);
        }
    }

    private static Task LeadAsync(CancellationToken token) => Task.Delay(Timeout.Infinite, token);

    [Fact]
    public async Task A_leader_stopped_while_renewing_lets_its_renewal_land_and_releases_the_lease()
    {
        await using var store = new GatedLeaseStore(EmbeddedObjectStore.Open(dir));
        var api = new ObjectApi(store);
        var a = LeaderElector.Start(api, "kube-system", "work", LeaderElectionOptions.Fast("a"), LeadAsync);
        await EventuallyAsync(() => a.IsLeader, "a did not lead");
        await using var b = LeaderElector.Start(api, "kube-system", "work", LeaderElectionOptions.Fast("b"), LeadAsync);

        // a's next renewal (within a retry period, 1 s) is held in the store; a is stopped meanwhile
        store.Close();
        Assert.True(await store.Entered.WaitAsync(TimeSpan.FromSeconds(5)), "a did not renew");
        var stopping = a.DisposeAsync().AsTask();
        await Task.Delay(200);
        Assert.False(stopping.IsCompleted, "the stop did not wait for the renewal on its way");
        store.Open();
        await stopping;

        // released: holder cleared (or already b's), so b takes it well before the 5 s lease would have expired
        var lease = api.Get(LeaseStrategy.Type, "kube-system", "work");
        Assert.NotEqual("a", KJson.Str(lease, "spec", "holderIdentity"));
        await EventuallyAsync(() => b.IsLeader, "b did not take the released lease", seconds: 3);
        Assert.False(a.IsLeader);
    }

    [Fact]
    public async Task A_stopped_leader_releases_and_the_next_candidate_leads_and_counts_the_transition()
    {
        await using var store = EmbeddedObjectStore.Open(dir);
        var api = new ObjectApi(store);
        var a = LeaderElector.Start(api, "kube-system", "work", LeaderElectionOptions.Fast("a"), LeadAsync);
        await EventuallyAsync(() => a.IsLeader, "a did not lead");
        await using var b = LeaderElector.Start(api, "kube-system", "work", LeaderElectionOptions.Fast("b"), LeadAsync);
        await Task.Delay(300);
        Assert.False(b.IsLeader); // held and renewed: b waits

        await a.DisposeAsync();
        await EventuallyAsync(() => b.IsLeader, "b did not take the released lease", seconds: 3);
        var lease = api.Get(LeaseStrategy.Type, "kube-system", "work");
        Assert.Equal("b", KJson.Str(lease, "spec", "holderIdentity"));
        Assert.Equal(1, KJson.Int(lease, "spec", "leaseTransitions"));
    }
}
