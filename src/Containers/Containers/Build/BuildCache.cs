using System.Text.Json.Serialization;

namespace Containers.Build;

/// <summary>A layer a build step made: its blob, media type, size and diff ID.</summary>
internal sealed record LayerRef(string Blob, long Size, string MediaType, string DiffId);

/// <summary>What a cached step made: its history entry and, for RUN, COPY and ADD, its layer.</summary>
internal sealed record CacheEntry(HistoryEntry History, LayerRef? Layer);

[JsonSerializable(typeof(CacheEntry))]
internal sealed partial class BuildJsonContext : JsonSerializerContext;

/// <summary>
/// The build cache under the root (<c>build-cache/&lt;key&gt;.json</c>): the key hashes the parent step's key, the
/// instruction, the build args it uses and the content it copies. Survives restarts; an entry whose layer was
/// pruned from the store is a miss (and is removed).
/// </summary>
internal sealed class BuildCache(string dir, ImageStore store)
{
    public string Dir => dir;

    public CacheEntry? Get(string key)
    {
        var path = Path.Combine(dir, key + ".json");
        if (!File.Exists(path))
        {
            return null;
        }

        CacheEntry? entry;
        try
        {
            entry = JsonSerializer.Deserialize(File.ReadAllBytes(path), BuildJsonContext.Default.CacheEntry);
        }
        catch (JsonException)
        {
            entry = null;
        }

        if (entry?.Layer is { } l && !(store.Content.Exists(Digest.Parse(l.Blob)) && store.Snapshots.Exists(ChainOf(key))))
        {
            entry = null;
        }

        if (entry is null)
        {
            File.Delete(path);
        }

        return entry;
    }

    public void Put(string key, CacheEntry entry, Digest? chain)
    {
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, key + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(entry, BuildJsonContext.Default.CacheEntry));
        File.Move(tmp, Path.Combine(dir, key + ".json"), overwrite: true);
        if (chain is { } c)
        {
            File.WriteAllText(Path.Combine(dir, key + ".chain"), c.ToString());
        }
    }

    private Digest ChainOf(string key)
    {
        var path = Path.Combine(dir, key + ".chain");
        return File.Exists(path) && Digest.TryParse(File.ReadAllText(path).Trim(), out var d) ? d : Digest.Of([]);
    }
}
