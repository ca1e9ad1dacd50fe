using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Containers.Benchmarks;

/// <summary>
/// Samples the runtime's GCAllocationTick events (one per ~100 KB allocated) by type name, so a benchmark can say what
/// its allocations are made of (turned on by an environment variable; it costs a little).
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentDictionary<string, long> bytes = new(StringComparer.Ordinal);

    /// <summary>The sampled bytes by type, largest first.</summary>
    public IEnumerable<(string Type, long Bytes)> Top(int n) =>
        bytes.OrderByDescending(kv => kv.Value).Take(n).Select(kv => (kv.Key, kv.Value));

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick is verbose
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not null && e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) && e.Payload is { } payload)
        {
            int typeIndex = e.PayloadNames!.IndexOf("TypeName");
            int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
            string type = typeIndex >= 0 ? payload[typeIndex] as string ?? "?" : "?";
            long amount = amountIndex >= 0 ? Convert.ToInt64(payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
            bytes.AddOrUpdate(type, amount, (_, v) => v + amount);
        }
    }
}
