using Containers.DockerApi.Models;
using System.Threading.Channels;

namespace Containers.DockerApi;

/// <summary>
/// GET /events: what the API does (container, image, network and volume actions) as it happens, and what other
/// processes on the same root do to containers, seen by comparing the store every 250 ms while someone listens
/// (the comparison stops with the last listener).
/// </summary>
internal sealed class EventHub(ContainerEngine engine) : IDisposable
{
    private readonly Lock gate = new();
    private readonly Queue<EventMessage> recent = new();
    private readonly Dictionary<string, ContainerStatus> known = [];
    private ImmutableList<Channel<EventMessage>> subscribers = [];

    /// <summary>How many clients follow the events now (info's NEventsListener).</summary>
    public int Listeners => subscribers.Count;
    private CancellationTokenSource? watcher;

    public void Publish(string type, string action, string id, string? name = null, params (string Key, string Value)[] attributes)
    {
        var now = DateTimeOffset.UtcNow;
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (name is not null)
        {
            attrs["name"] = name;
        }

        var container = type == "container";
        if (container && Subject(id) is { } subject)
        {
            // dockerd puts the image and every label of the container in a container event's attributes; clients
            // match their containers by them (the Dev Containers CLI waits for a start event carrying its labels)
            attrs["image"] = subject.Spec.Image ?? "";
            foreach (var (k, v) in subject.Spec.Labels)
            {
                attrs.TryAdd(k, v);
            }
        }

        foreach (var (k, v) in attributes)
        {
            attrs[k] = v;
        }

        var e = new EventMessage
        {
            Type = type,
            Action = action,
            Actor = new EventActor { ID = id, Attributes = attrs },
            Time = now.ToUnixTimeSeconds(),
            TimeNano = now.ToUnixTimeMilliseconds() * 1_000_000,
            Status = container ? action : null,
            Id = container ? id : null,
        };
        if (container)
        {
            lock (gate)
            {
                if (action == "destroy")
                {
                    known.Remove(id);
                }
                else if (StatusOf(action) is { } s)
                {
                    known[id] = s;
                }
            }
        }

        lock (gate)
        {
            recent.Enqueue(e);
            while (recent.Count > 512)
            {
                recent.Dequeue();
            }
        }

        foreach (var ch in subscribers)
        {
            ch.Writer.TryWrite(e);
        }
    }

    /// <summary>The container an event is about (one record read), or null when it is gone.</summary>
    private ContainerState? Subject(string id)
    {
        try
        {
            return engine.Get(id).State;
        }
        catch (ContainerNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Streams events as JSON lines until the client goes, or <c>until</c> passes.</summary>
    public async Task StreamAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        var since = Seconds(ctx.Request.Query["since"]);
        var until = Seconds(ctx.Request.Query["until"]);
        var channel = Channel.CreateUnbounded<EventMessage>();
        lock (gate)
        {
            subscribers = subscribers.Add(channel);
            if (since is { } from)
            {
                foreach (var old in recent.Where(e => e.Time >= from))
                {
                    channel.Writer.TryWrite(old);
                }
            }
            else if (until is null)
            {
                // a client that starts `docker events` and `docker run` at once (the Dev Containers CLI does, and waits
                // for the start event) may connect after the start on a busy machine: the last second's container
                // events go to a new follower, so it does not wait forever for what just happened
                var recentEnough = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 - 1_000_000_000;
                foreach (var old in recent.Where(e => e.Type == "container" && e.TimeNano >= recentEnough))
                {
                    channel.Writer.TryWrite(old);
                }
            }

            if (watcher is null)
            {
                watcher = new CancellationTokenSource();
                _ = WatchAsync(watcher.Token);
            }
        }

        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync().ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync().ConfigureAwait(false);
        // true while the event is not after until; written when it matches
        async Task<bool> SendAsync(EventMessage e, CancellationToken token)
        {
            if (until is { } end && e.Time > end)
            {
                return false;
            }

            if (Matches(e, filters))
            {
                await ctx.Response.WriteAsync(DockerJsonContext.Serialize(e, j => j.EventMessage) + "\n", token).ConfigureAwait(false);
                await ctx.Response.Body.FlushAsync(token).ConfigureAwait(false);
            }

            return true;
        }

        try
        {
            // the replayed events first, whatever the time: an until already past (a slow client) still gets them, as
            // from dockerd; then live ones until it passes
            while (channel.Reader.TryRead(out var old))
            {
                if (!await SendAsync(old, ctx.RequestAborted).ConfigureAwait(false))
                {
                    return;
                }
            }

            using var limit = until is { } u ? new CancellationTokenSource(TimeSpan.FromSeconds(Math.Max(0, u - DateTimeOffset.UtcNow.ToUnixTimeSeconds()))) : new CancellationTokenSource();
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, ctx.RequestAborted);
            await foreach (var e in channel.Reader.ReadAllAsync(linked.Token).ConfigureAwait(false))
            {
                if (!await SendAsync(e, linked.Token).ConfigureAwait(false))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (gate)
            {
                subscribers = subscribers.Remove(channel);
                if (subscribers.IsEmpty && watcher is not null)
                {
                    // nobody listens: stop reading the store four times a second
                    watcher.Cancel();
                    watcher.Dispose();
                    watcher = null;
                    known.Clear();
                }
            }
        }
    }

    public void Dispose()
    {
        watcher?.Cancel();
        watcher?.Dispose();
    }

    private static bool Matches(EventMessage e, IReadOnlyDictionary<string, IReadOnlyList<string>> filters)
    {
        foreach (var (key, values) in filters)
        {
            var attrs = e.Actor.Attributes;
            var ok = key switch
            {
                "type" => values.Contains(e.Type),
                "event" => values.Any(v => e.Action.StartsWith(v, StringComparison.Ordinal)),
                "container" or "image" or "network" or "volume" => e.Type == key && values.Any(v => e.Actor.ID.StartsWith(v, StringComparison.Ordinal) || attrs.GetValueOrDefault("name") == v),
                "label" => values.All(v => v.Split('=', 2) is var kv && attrs.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1])),
                _ => true,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static long? Seconds(string? value) =>
        double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) ? (long)s : null;

    private static ContainerStatus? StatusOf(string action) => action switch
    {
        "create" => ContainerStatus.Created,
        "start" or "unpause" => ContainerStatus.Running,
        "die" or "stop" or "kill" => ContainerStatus.Exited,
        "pause" => ContainerStatus.Paused,
        _ => null,
    };

    private async Task WatchAsync(CancellationToken ct)
    {
        var initial = engine.List(all: true);
        lock (gate)
        {
            foreach (var c in initial)
            {
                known.TryAdd(c.Id, c.Status);
            }
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var now = engine.List(all: true).ToDictionary(c => c.Id);
                List<(string Action, ContainerState? State, string Id)> changes = [];
                lock (gate)
                {
                    foreach (var (id, c) in now)
                    {
                        if (!known.TryGetValue(id, out var was))
                        {
                            changes.Add(("create", c, id));
                            if (c.Status != ContainerStatus.Created)
                            {
                                changes.Add((c.IsActive ? "start" : "die", c, id));
                            }
                        }
                        else if (was != c.Status && (c.Status is ContainerStatus.Running or ContainerStatus.Exited or ContainerStatus.Paused))
                        {
                            changes.Add((c.Status switch { ContainerStatus.Running => was == ContainerStatus.Paused ? "unpause" : "start", ContainerStatus.Paused => "pause", _ => "die" }, c, id));
                        }
                    }

                    foreach (var gone in known.Keys.Where(k => !now.ContainsKey(k)).ToList())
                    {
                        changes.Add(("destroy", null, gone));
                    }
                }

                foreach (var (action, c, id) in changes)
                {
                    Publish("container", action, id, c?.Name, c is null ? [] : [("image", c.Spec.Image ?? "")]);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
