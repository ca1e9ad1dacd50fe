using System.Diagnostics;
using System.Text;
using Containers.Orchestration.Storage;

namespace Containers.Benchmarks;

/// <summary>
/// <c>store-etcd N URLS</c>: the etcd store against the embedded one, side by side on the same machine: N pod-sized
/// creates one after another (each returns once the write is in etcd and in the store's watch cache), the open of a
/// second store on the same prefix (list into its cache), and the latency from a write on one store to its event on
/// another store's watch (two API servers), median and 99th percentile over N writes.
/// </summary>
internal static class EtcdStoreBench
{
    public static async Task RunAsync(int count, string endpoints)
    {
        string prefix = $"/bench-{Environment.ProcessId}/registry";
        var options = new EtcdStoreOptions { Endpoints = endpoints.Split(','), Prefix = prefix, CompactionInterval = null };
        string dir = Path.Combine("/dev/shm", "containers-store-bench-" + Environment.ProcessId);
        try
        {
            await using (var embedded = EmbeddedObjectStore.Open(dir))
            {
                Console.WriteLine($"embedded: {Fill(embedded, count, "e").TotalMilliseconds * 1000 / count:0} us per create");
            }

            await using var one = await EtcdObjectStore.OpenAsync(options);
            Fill(one, Math.Min(200, count), "warm"); // connections made, code jitted
            Console.WriteLine($"etcd:     {Fill(one, count, "x").TotalMilliseconds * 1000 / count:0} us per create (CAS transaction, then seen by the watch cache)");
            var sw = Stopwatch.StartNew();
            await using var two = await EtcdObjectStore.OpenAsync(options);
            Console.WriteLine($"etcd:     a second store opened (listed {two.List("pods").Items.Count} objects) in {sw.Elapsed.TotalMilliseconds:0} ms");

            var latencies = new List<double>();
            using var stop = new CancellationTokenSource();
            var seen = new Dictionary<long, long>();
            var ready = new TaskCompletionSource();
            var watching = Task.Run(async () =>
            {
                var e = two.WatchAsync("configmaps", "bench", two.Revision, stop.Token).GetAsyncEnumerator(stop.Token);
                ready.SetResult();
                try
                {
                    while (await e.MoveNextAsync())
                    {
                        lock (seen)
                        {
                            seen[e.Current.Object.Revision] = Stopwatch.GetTimestamp();
                            Monitor.PulseAll(seen);
                        }
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });
            await ready.Task;
            await Task.Delay(100);
            for (int i = 0; i < count; i++)
            {
                long start = Stopwatch.GetTimestamp();
                var written = one.Create(new ObjectKey("configmaps", "bench", $"c{i}"), Encoding.UTF8.GetBytes($$$"""{"metadata":{"name":"c{{{i}}}"}}"""));
                lock (seen)
                {
                    while (!seen.ContainsKey(written.Revision))
                    {
                        Monitor.Wait(seen);
                    }

                    latencies.Add(Stopwatch.GetElapsedTime(start, seen[written.Revision]).TotalMilliseconds);
                }
            }

            await stop.CancelAsync();
            await watching;
            latencies.Sort();
            Console.WriteLine($"etcd:     write on one store to its event on another's watch: median {latencies[latencies.Count / 2]:0.00} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:0.00} ms");
            await EtcdCluster.DeleteAllAsync(options.Endpoints, prefix);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static TimeSpan Fill(IObjectStore store, int count, string tag)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            store.Create(new ObjectKey("pods", "default", $"{tag}-{i}"), Encoding.UTF8.GetBytes($$$"""{"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{tag}}}-{{{i}}}","namespace":"default","labels":{"app":"webapp"}},"spec":{"containers":[{"name":"webapp","image":"localhost/webapp:1"}],"nodeName":"node-1"},"status":{"phase":"Running"}}"""));
        }

        return sw.Elapsed;
    }
}
