using System.Text.Json.Nodes;
using Containers.Orchestration.Api;
using Containers.Orchestration.Storage;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>Events expire an hour after they were last written, as kube-apiserver's --event-ttl has etcd do.</summary>
public sealed class EventExpiryTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-events-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task An_event_goes_an_hour_after_it_was_last_written()
    {
        var time = new ManualTime(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = EmbeddedObjectStore.Open(dir);
        var api = new ObjectApi(store, time);
        var pod = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = new JsonObject { ["name"] = "web", ["namespace"] = "default", ["uid"] = "u1" } };
        api.RecordEvent(pod, "Normal", "Pulled", "image present", "kubelet", "node-1");
        api.RecordEvent(pod, "Normal", "Started", "started", "kubelet", "node-1");
        await api.FlushEventsAsync();

        time.Now += TimeSpan.FromMinutes(30);
        api.RecordEvent(pod, "Normal", "Started", "started", "kubelet", "node-1"); // a repeat: counted, and fresh again
        await api.FlushEventsAsync();
        Assert.Equal(0, api.ExpireEvents(TimeSpan.FromHours(1)));

        time.Now += TimeSpan.FromMinutes(31);
        Assert.Equal(1, api.ExpireEvents(TimeSpan.FromHours(1)));
        var left = Assert.Single(Events());
        Assert.Equal(("Started", 2L), (KJson.Str(left, "reason"), KJson.Int(left, "count")));

        time.Now += TimeSpan.FromMinutes(30);
        Assert.Equal(1, api.ExpireEvents(TimeSpan.FromHours(1)));
        Assert.Empty(Events());

        List<JsonObject> Events() => [.. api.List(ResourceType.Events, "default").Items];
    }

    private sealed class ManualTime(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
