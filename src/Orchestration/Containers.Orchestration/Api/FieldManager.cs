using System.Globalization;
using System.Text;

namespace Containers.Orchestration.Api;

/// <summary>
/// Field ownership, as kube-apiserver's field manager keeps it in <c>metadata.managedFields</c> (FieldsV1): each
/// manager owns the fields it applied (operation Apply) or last changed (operation Update). Server-side apply merges a
/// manager's configuration into the object (lists with merge keys by key, as strategic merge), removes the fields it
/// applied before and no longer does (unless another manager owns them), and answers 409 naming the fields another
/// manager owns with another value, unless forced, when their ownership moves. A field is a path of segments:
/// <c>f:NAME</c> (a field), <c>k:{"KEY":VALUE}</c> (an item of a list with merge key KEY), <c>v:VALUE</c> (an item of a
/// set of scalars, as finalizers) and <c>.</c> (the item itself).
/// </summary>
internal static class FieldManager
{
    private const char Sep = '\u0001';
    private static readonly HashSet<string> SystemMetadata = new(StringComparer.Ordinal)
    {
        "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName",
    };

    /// <summary>One entry of managedFields.</summary>
    private sealed record Entry(string Manager, string Operation, string? ApiVersion, string? Time, string? Subresource, HashSet<string> Paths);

    /// <summary>
    /// Checks a fieldManager as kube-apiserver does: at most 128 characters, all printable. Throws 400 naming it.
    /// </summary>
    public static void Validate(string? manager, bool required)
    {
        if (string.IsNullOrEmpty(manager))
        {
            if (required)
            {
                throw ApiException.BadRequest("PATCH requests of type application/apply-patch+yaml must name a fieldManager (the fieldManager query parameter)");
            }

            return;
        }

        if (manager.Length > 128)
        {
            throw ApiException.BadRequest($"fieldManager: Too long: may not be more than 128 bytes");
        }

        if (manager.Any(c => char.IsControl(c) || (char.IsWhiteSpace(c) && c != ' ')))
        {
            throw ApiException.BadRequest($"fieldManager: Invalid value: {JsonValue.Create(manager).ToJsonString()}: must consist of printable characters");
        }
    }

    /// <summary>
    /// Server-side apply of <paramref name="config"/> by <paramref name="manager"/> onto <paramref name="live"/> (null:
    /// the object does not exist yet). Returns the object to store, with its managedFields. Throws 409 listing the
    /// conflicts unless <paramref name="force"/>.
    /// </summary>
    public static JsonObject Apply(JsonObject? live, JsonObject config, string manager, bool force, string apiVersion, DateTimeOffset now)
    {
        var applied = Paths(config);
        var entries = Read(live);
        var mine = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Apply" && e.Subresource is null);
        var conflicts = new List<(string Manager, string Path)>();
        if (live is not null)
        {
            foreach (var e in entries.Where(e => !ReferenceEquals(e, mine) && e.Subresource is null))
            {
                foreach (string p in e.Paths.Where(applied.Contains).Where(p => !p.EndsWith(Sep + ".", StringComparison.Ordinal)))
                {
                    if (!JsonNode.DeepEquals(ValueAt(live, p), ValueAt(config, p)))
                    {
                        conflicts.Add((e.Manager, p));
                    }
                }
            }
        }

        if (conflicts.Count > 0 && !force)
        {
            var lines = conflicts.Select(c => $"conflict with \"{c.Manager}\"{(entries.First(e => e.Manager == c.Manager).Operation == "Update" ? $" using {entries.First(e => e.Manager == c.Manager).ApiVersion}" : "")}: {Display(c.Path)}").ToList();
            string message = conflicts.Count == 1 ? $"Apply failed with 1 conflict: {lines[0]}" : $"Apply failed with {conflicts.Count} conflicts: {string.Join("\n", lines)}";
            throw new ApiException(409, "Conflict", message, details: new JsonObject
            {
                ["causes"] = new JsonArray([.. conflicts.Select((c, i) => (JsonNode)new JsonObject { ["reason"] = "FieldManagerConflict", ["message"] = lines[i], ["field"] = Display(c.Path) })]),
            });
        }

        foreach (var (owner, path) in conflicts)
        {
            foreach (var e in entries.Where(e => e.Manager == owner))
            {
                e.Paths.Remove(path); // forced: the field is the applier's now
            }
        }

        var target = live is null ? new JsonObject() : Json.Clone(live);
        Json.Obj(target, "metadata").Remove("managedFields");
        var patch = Json.Clone(config);
        Json.Obj(patch, "metadata").Remove("managedFields");
        var merged = (JsonObject)Patches.Merge(target, patch, strategic: true, parentKey: "")!;

        // what this manager applied before and no longer does goes, unless another manager owns it
        var others = entries.Where(e => !ReferenceEquals(e, mine)).SelectMany(e => e.Paths).ToHashSet(StringComparer.Ordinal);
        foreach (string p in (mine?.Paths ?? []).Where(p => !applied.Contains(p) && !others.Contains(p)).OrderByDescending(p => p.Length))
        {
            Remove(merged, p);
        }

        var result = entries.Where(e => !ReferenceEquals(e, mine) && e.Paths.Count > 0).ToList();
        bool same = mine is not null && mine.Paths.SetEquals(applied) && mine.ApiVersion == apiVersion;
        result.Add(new Entry(manager, "Apply", apiVersion, same ? mine!.Time : Json.Time(now), null, applied));
        Write(merged, result);
        return merged;
    }

    /// <summary>
    /// Records an Update by <paramref name="manager"/> from <paramref name="old"/> (null on create) to
    /// <paramref name="updated"/> (changed in place): the fields it set or changed are its own, taken from other managers.
    /// Managed fields the request itself changed are kept as it sent them.
    /// </summary>
    public static void RecordUpdate(JsonObject? old, JsonObject updated, string manager, string apiVersion, DateTimeOffset now)
    {
        if (old is not null && !JsonNode.DeepEquals(Json.At(old, "metadata", "managedFields"), Json.At(updated, "metadata", "managedFields")))
        {
            return; // the client wrote managedFields itself (kubectl's migration from client-side apply)
        }

        var entries = Read(old);
        var after = Paths(updated);
        var before = old is null ? [] : Paths(old);
        var changed = after.Where(p => old is null || !before.Contains(p) || !JsonNode.DeepEquals(ValueAt(old, p), ValueAt(updated, p))).ToHashSet(StringComparer.Ordinal);
        foreach (var e in entries)
        {
            e.Paths.ExceptWith(changed);
            e.Paths.IntersectWith(after); // fields that went are nobody's
        }

        var mine = entries.FirstOrDefault(e => e.Manager == manager && e.Operation == "Update" && e.Subresource is null);
        if (changed.Count > 0)
        {
            entries.Remove(mine!);
            mine = new Entry(manager, "Update", apiVersion, Json.Time(now), null, [.. mine?.Paths ?? [], .. changed]);
            entries.Add(mine);
        }

        Write(updated, [.. entries.Where(e => e.Paths.Count > 0)]);
    }

    private static List<Entry> Read(JsonObject? obj) =>
        [.. Json.Items(obj, "metadata", "managedFields").Select(m => new Entry(
            Json.Str(m, "manager") ?? "",
            Json.Str(m, "operation") ?? "Update",
            Json.Str(m, "apiVersion"),
            Json.Str(m, "time"),
            Json.Str(m, "subresource"),
            FromFieldsV1(Json.At(m, "fieldsV1") as JsonObject)))];

    private static void Write(JsonObject obj, List<Entry> entries)
    {
        var meta = Json.Obj(obj, "metadata");
        if (entries.Count == 0)
        {
            meta.Remove("managedFields");
            return;
        }

        meta["managedFields"] = new JsonArray([.. entries.Select(e =>
        {
            var m = new JsonObject { ["manager"] = e.Manager, ["operation"] = e.Operation, ["apiVersion"] = e.ApiVersion, ["time"] = e.Time, ["fieldsType"] = "FieldsV1", ["fieldsV1"] = ToFieldsV1(e.Paths) };
            if (e.Subresource is not null)
            {
                m["subresource"] = e.Subresource;
            }

            return (JsonNode)m;
        })]);
    }

    /// <summary>The leaf paths of an object's fields (not its status, kind, apiVersion or system metadata).</summary>
    internal static HashSet<string> Paths(JsonObject obj)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in obj)
        {
            if (key is "apiVersion" or "kind" or "status" || value is null)
            {
                continue;
            }

            if (key == "metadata" && value is JsonObject meta)
            {
                foreach (var (mk, mv) in meta)
                {
                    if (!SystemMetadata.Contains(mk) && mv is not null)
                    {
                        Walk(mv, "f:metadata" + Sep + "f:" + mk, mk, "metadata", paths);
                    }
                }

                continue;
            }

            Walk(value, "f:" + key, key, "", paths);
        }

        return paths;
    }

    private static void Walk(JsonNode node, string path, string key, string parentKey, HashSet<string> paths)
    {
        switch (node)
        {
            case JsonObject o when o.Count > 0:
                foreach (var (k, v) in o)
                {
                    if (v is not null)
                    {
                        Walk(v, path + Sep + "f:" + k, k, key, paths);
                    }
                }

                break;
            case JsonArray a when Patches.MergeKeyOf(key, parentKey) is { } mergeKey && a.All(i => i is JsonObject io && io[mergeKey] is not null):
                foreach (var item in a.OfType<JsonObject>())
                {
                    string itemPath = path + Sep + "k:" + new JsonObject { [mergeKey] = item[mergeKey]!.DeepClone() }.ToJsonString();
                    paths.Add(itemPath + Sep + ".");
                    Walk(item, itemPath, key, parentKey, paths);
                }

                break;
            case JsonArray a when Patches.IsSetOfScalars(key):
                foreach (var item in a)
                {
                    paths.Add(path + Sep + "v:" + (item?.ToJsonString() ?? "null"));
                }

                break;
            default:
                paths.Add(path); // a scalar, an empty object, or an atomic list
                break;
        }
    }

    /// <summary>The value at a path (null when absent; true for a present item marker or set member).</summary>
    private static JsonNode? ValueAt(JsonNode? node, string path)
    {
        foreach (string seg in path.Split(Sep))
        {
            if (node is null)
            {
                return null;
            }

            if (seg == ".")
            {
                return JsonValue.Create(true);
            }

            if (seg.StartsWith("f:", StringComparison.Ordinal))
            {
                node = (node as JsonObject)?[seg[2..]];
            }
            else if (seg.StartsWith("k:", StringComparison.Ordinal))
            {
                var key = JsonNode.Parse(seg[2..]) as JsonObject;
                node = (node as JsonArray)?.OfType<JsonObject>().FirstOrDefault(i => key!.All(kv => JsonNode.DeepEquals(i[kv.Key], kv.Value)));
            }
            else if (seg.StartsWith("v:", StringComparison.Ordinal))
            {
                string value = seg[2..];
                return (node as JsonArray)?.Any(i => (i?.ToJsonString() ?? "null") == value) == true ? JsonValue.Create(true) : null;
            }
        }

        return node;
    }

    /// <summary>Removes the field (or list item, or set member) at a path.</summary>
    private static void Remove(JsonNode root, string path)
    {
        var segs = path.Split(Sep);
        JsonNode? node = root;
        for (int i = 0; i < segs.Length - 1 && node is not null; i++)
        {
            string seg = segs[i];
            if (i == segs.Length - 2 && segs[^1] == "." && seg.StartsWith("k:", StringComparison.Ordinal) && node is JsonArray items)
            {
                var key = JsonNode.Parse(seg[2..]) as JsonObject;
                foreach (var item in items.OfType<JsonObject>().Where(it => key!.All(kv => JsonNode.DeepEquals(it[kv.Key], kv.Value))).ToList())
                {
                    items.Remove(item);
                }

                return;
            }

            node = ValueAt(node, seg);
        }

        string last = segs[^1];
        if (last.StartsWith("f:", StringComparison.Ordinal) && node is JsonObject o)
        {
            o.Remove(last[2..]);
        }
        else if (last.StartsWith("v:", StringComparison.Ordinal) && node is JsonArray set)
        {
            foreach (var item in set.Where(x => (x?.ToJsonString() ?? "null") == last[2..]).ToList())
            {
                set.Remove(item);
            }
        }
    }

    /// <summary>FieldsV1: the paths as a tree of segments, each leaf {}.</summary>
    private static JsonObject ToFieldsV1(IEnumerable<string> paths)
    {
        var root = new JsonObject();
        foreach (string p in paths.Order(StringComparer.Ordinal))
        {
            var node = root;
            foreach (string seg in p.Split(Sep))
            {
                if (node[seg] is not JsonObject child)
                {
                    child = [];
                    node[seg] = child;
                }

                node = child;
            }
        }

        return root;
    }

    private static HashSet<string> FromFieldsV1(JsonObject? tree)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        void Visit(JsonObject node, string prefix)
        {
            foreach (var (seg, child) in node)
            {
                string path = prefix.Length == 0 ? seg : prefix + Sep + seg;
                if (child is JsonObject { Count: > 0 } c)
                {
                    Visit(c, path);
                }
                else
                {
                    paths.Add(path);
                }
            }
        }

        if (tree is not null)
        {
            Visit(tree, "");
        }

        return paths;
    }

    /// <summary>A path as kube-apiserver writes it in conflicts: <c>.spec.template.spec.containers[name="web"].image</c>.</summary>
    private static string Display(string path)
    {
        var text = new StringBuilder();
        foreach (string seg in path.Split(Sep))
        {
            if (seg.StartsWith("f:", StringComparison.Ordinal))
            {
                text.Append('.').Append(seg[2..]);
            }
            else if (seg.StartsWith("k:", StringComparison.Ordinal) && JsonNode.Parse(seg[2..]) is JsonObject key)
            {
                text.Append('[').Append(string.Join(",", key.Select(kv => $"{kv.Key}={kv.Value?.ToJsonString()}"))).Append(']');
            }
            else if (seg.StartsWith("v:", StringComparison.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"[{seg[2..]}]");
            }
        }

        return text.ToString();
    }
}
