using System.Text;
using Containers.Orchestration.Storage;

namespace Containers.Benchmarks;

/// <summary>
/// <c>store-fill N [DIR]</c>: N pod-sized objects (a Deployment's pod as kubectl would see it, ~1 KB of JSON) written
/// into a fresh embedded object store, then the store reopened (log replay): time for each and managed bytes per object.
/// </summary>
internal static class StoreFill
{
    private const string Pod = """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME","namespace":"default","uid":"6f1c2a4e-0d1b-4c36-9a51-3b3c2f1f7e01","resourceVersion":"0","generation":1,"creationTimestamp":"2026-11-26T06:00:00Z","labels":{"app":"webapp","pod-template-hash":"7c9d8b6f5d"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"webapp-7c9d8b6f5d","uid":"0b9f0a52-2a51-4d8e-9f5e-1f7c9c3c2a10","controller":true,"blockOwnerDeletion":true}]},"spec":{"containers":[{"name":"webapp","image":"localhost/webapp:1","ports":[{"containerPort":3000,"protocol":"TCP"}],"env":[{"name":"USER_NAME","valueFrom":{"secretKeyRef":{"name":"mongo-secret","key":"mongo-user"}}},{"name":"DB_URL","valueFrom":{"configMapKeyRef":{"name":"mongo-config","key":"mongo-url"}}}],"resources":{},"imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"nodeName":"node-17"},"status":{"phase":"Running","podIP":"10.240.17.23"}}""";

    public static async Task RunAsync(int count, string? under)
    {
        var dir = Path.Combine(under ?? Path.GetTempPath(), "containers-store-bench-" + Environment.ProcessId);
        try
        {
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var store = EmbeddedObjectStore.Open(dir);
            for (var i = 0; i < count; i++)
            {
                store.Create(new ObjectKey("pods", "default", "webapp-" + i), Encoding.UTF8.GetBytes(Pod.Replace("NAME", "webapp-" + i, StringComparison.Ordinal)));
            }

            var write = sw.Elapsed;
            var after = GC.GetTotalMemory(forceFullCollection: true);
            await store.DisposeAsync();
            sw.Restart();
            await using (var reopened = EmbeddedObjectStore.Open(dir))
            {
                if (reopened.List("pods").Items.Count != count)
                {
                    throw new InvalidOperationException("replay lost objects");
                }
            }

            Console.WriteLine($"{count} pod objects ({Pod.Length} bytes of JSON each): written in {write.TotalMilliseconds:0} ms ({write.TotalMilliseconds * 1000 / count:0.0} us each), {(after - before) / count} managed bytes per object in the store, replayed in {sw.Elapsed.TotalMilliseconds:0} ms");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
