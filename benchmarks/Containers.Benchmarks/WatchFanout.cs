using System.Diagnostics;
using System.Text;
using Containers.Orchestration.Storage;

namespace Containers.Benchmarks;

/// <summary>
/// <c>watch-fanout WATCHERS CHANGES [ETCD_URLS]</c>: WATCHERS watches of one resource on one store (what an API
/// server's watch cache serves to its clients, as kube-apiserver's cacher) while CHANGES ConfigMaps are written, on
/// the embedded store and, when URLS are given, on etcd. Prints the writes' rate, the time until every watcher has
/// every event, and the delay from a write's acknowledgement to each watcher's receipt of it (median, p99, worst).
/// </summary>
internal static class WatchFanout
{
    public static async Task RunAsync(int watchers, int changes, string? endpoints)
    {
        string dir = Path.Combine("/dev/shm", "containers-fanout-bench-" + Environment.ProcessId);
        try
        {
            await using (var embedded = EmbeddedObjectStore.Open(dir))
            {
                await RunOnAsync("embedded", embedded, watchers, changes);
            }

            if (endpoints is not null)
            {
                string prefix = $"/bench-{Environment.ProcessId}/registry";
                var options = new EtcdStoreOptions { Endpoints = endpoints.Split(','), Prefix = prefix, CompactionInterval = null, MinimumThreadPoolThreads = 128 };
                await using (var etcd = await EtcdObjectStore.OpenAsync(options))
                {
                    await RunOnAsync("etcd", etcd, watchers, changes);
                }

                await EtcdCluster.DeleteAllAsync(options.Endpoints, prefix);
            }
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static async Task RunOnAsync(string name, IObjectStore store, int watchers, int changes)
    {
        // warm: code jitted, connections made
        for (int i = 0; i < 100; i++)
        {
            store.Create(new ObjectKey("configmaps", "warm", $"w{i}"), Encoding.UTF8.GetBytes($$$"""{"metadata":{"name":"w{{{i}}}","namespace":"warm"}}"""));
        }

        long from = store.Revision;
        var acked = new long[changes];
        var revisions = new long[changes];
        var received = new long[watchers][];
        var receivedRevision = new long[watchers][];
        using var stop = new CancellationTokenSource();
        int started = 0;
        var tasks = new Task[watchers];
        for (int w = 0; w < watchers; w++)
        {
            int me = w;
            received[me] = new long[changes];
            receivedRevision[me] = new long[changes];
            tasks[me] = Task.Run(async () =>
            {
                int n = 0;
                var e = store.WatchAsync("configmaps", "fanout", from, stop.Token).GetAsyncEnumerator(stop.Token);
                Interlocked.Increment(ref started);
                try
                {
                    while (n < changes && await e.MoveNextAsync())
                    {
                        received[me][n] = Stopwatch.GetTimestamp();
                        receivedRevision[me][n] = e.Current.Object.Revision;
                        n++;
                    }
                }
                finally
                {
                    await e.DisposeAsync();
                }
            });
        }

        while (Volatile.Read(ref started) < watchers)
        {
            await Task.Delay(10);
        }

        long before = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        long begin = Stopwatch.GetTimestamp();
        for (int i = 0; i < changes; i++)
        {
            var written = store.Create(new ObjectKey("configmaps", "fanout", $"c{i}"), Encoding.UTF8.GetBytes($$$"""{"metadata":{"name":"c{{{i}}}","namespace":"fanout"},"data":{"n":"{{{i}}}"}}"""));
            acked[i] = Stopwatch.GetTimestamp();
            revisions[i] = written.Revision;
        }

        var writes = clock.Elapsed;
        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromMinutes(10));
        var all = Stopwatch.GetElapsedTime(begin, received.Max(r => r[changes - 1]));
        await stop.CancelAsync();

        var ackOf = new Dictionary<long, long>(changes);
        for (int i = 0; i < changes; i++)
        {
            ackOf[revisions[i]] = acked[i];
        }

        var delays = new List<double>(watchers * changes);
        int outOfOrder = 0;
        for (int w = 0; w < watchers; w++)
        {
            for (int n = 0; n < changes; n++)
            {
                if (n > 0 && receivedRevision[w][n] <= receivedRevision[w][n - 1])
                {
                    outOfOrder++;
                }

                delays.Add(Math.Max(0, Stopwatch.GetElapsedTime(ackOf[receivedRevision[w][n]], received[w][n]).TotalMilliseconds));
            }
        }

        delays.Sort();
        Console.WriteLine($"{name,-9} {watchers} watchers x {changes} changes: writes {changes / writes.TotalSeconds:0} /s ({writes.TotalSeconds:0.00} s); every watcher had every event after {all.TotalSeconds:0.00} s"
            + $" ({(double)watchers * changes / all.TotalSeconds / 1e6:0.00} M events/s delivered); ack -> receipt median {delays[delays.Count / 2]:0.00} ms, p99 {delays[(int)(delays.Count * 0.99)]:0.00} ms, worst {delays[^1]:0.0} ms;"
            + $" out of order {outOfOrder}; heap growth {(GC.GetTotalMemory(forceFullCollection: true) - before) / 1024.0 / 1024:0.0} MB");
    }
}
