using System.Collections.Concurrent;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// What a controller expects its cache to show after its own creates and deletes, per key (kube's
/// ControllerExpectations): until the cache has seen them, or five minutes have passed, the controller does not act
/// on the key again, so a cache that lags behind its writes does not make it create or delete twice.
/// </summary>
internal sealed class Expectations(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    /// <summary>Whether the controller may act on <paramref name="key"/>: every expected change was seen (or is five minutes old).</summary>
    public bool Satisfied(string key) =>
        !entries.TryGetValue(key, out var e) || (e.Adds <= 0 && e.Dels <= 0) || time.GetUtcNow() - e.At > TimeSpan.FromMinutes(5);

    /// <summary>The controller is about to make <paramref name="adds"/> objects and delete <paramref name="dels"/> for <paramref name="key"/>.</summary>
    public void Expect(string key, int adds, int dels) => entries[key] = new Entry(adds, dels, time.GetUtcNow());

    /// <summary>The cache saw (or a failure cancels) <paramref name="adds"/> creations and <paramref name="dels"/> deletions for <paramref name="key"/>.</summary>
    public void Lower(string key, int adds = 0, int dels = 0) =>
        entries.AddOrUpdate(key, _ => new Entry(0, 0, time.GetUtcNow()), (_, e) => e with { Adds = e.Adds - adds, Dels = e.Dels - dels });

    /// <summary>
    /// Lowers <paramref name="key"/>'s expectations by what a change its cache saw to one of its objects (old, new:
    /// either may be null) fulfils: a creation, or a deletion (the object went, or its deletion began).
    /// </summary>
    public void Observed(string key, JsonObject? old, JsonObject? current)
    {
        if (old is null)
        {
            Lower(key, adds: 1);
        }
        else if (current is null || (!PodState.Of(old).Deleting && PodState.Of(current).Deleting))
        {
            Lower(key, dels: 1);
        }
    }

    /// <summary>Forgets <paramref name="key"/> (its object went).</summary>
    public void Forget(string key) => entries.TryRemove(key, out _);

    private sealed record Entry(int Adds, int Dels, DateTimeOffset At);
}
