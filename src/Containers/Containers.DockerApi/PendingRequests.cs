using System.Collections.Concurrent;
using System.Diagnostics;

namespace Containers.DockerApi;

/// <summary>The requests in progress, for <see cref="DockerApiServer.PendingRequests"/>.</summary>
internal sealed class PendingRequests
{
    private readonly ConcurrentDictionary<long, (string What, long Started)> requests = new();
    private long next;

    public IDisposable Begin(string method, string target)
    {
        var id = Interlocked.Increment(ref next);
        requests[id] = ($"{method} {target}", Stopwatch.GetTimestamp());
        return new Ending(this, id);
    }

    public IReadOnlyList<string> Snapshot() =>
        [.. requests.OrderBy(r => r.Key).Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Value.What} {Stopwatch.GetElapsedTime(r.Value.Started).TotalSeconds:0.0} s"))];

    private sealed class Ending(PendingRequests owner, long id) : IDisposable
    {
        public void Dispose() => owner.requests.TryRemove(id, out _);
    }
}
