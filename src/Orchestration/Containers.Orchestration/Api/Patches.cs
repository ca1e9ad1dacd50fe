namespace Containers.Orchestration.Api;

/// <summary>
/// The three PATCH flavours the API serves: JSON merge patch (RFC 7386), Kubernetes' strategic merge patch (lists merged
/// by their merge keys for the kinds served, <c>$patch</c>, <c>$retainKeys</c>, <c>$setElementOrder</c> and
/// <c>$deleteFromPrimitiveList</c> directives as kubectl sends them) and JSON patch (RFC 6902).
/// </summary>
public static class Patches
{
    /// <summary>The content type of a JSON merge patch.</summary>
    public const string MergePatch = "application/merge-patch+json";

    /// <summary>The content type of a strategic merge patch.</summary>
    public const string StrategicMergePatch = "application/strategic-merge-patch+json";

    /// <summary>The content type of a server-side apply (the object's configuration, YAML or JSON).</summary>
    public const string ApplyPatch = "application/apply-patch+yaml";

    /// <summary>The content type of a JSON patch.</summary>
    public const string JsonPatch = "application/json-patch+json";

    // merge keys of the lists of the kinds served (k8s.io/api patchMergeKey tags); lists not named here are replaced.
    // Written here, not derived: the kinds' schemas come from the KubernetesClient models (see KindSchemas), which
    // carry field names, types and descriptions but not the Go types' patchStrategy and patchMergeKey tags
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["ephemeralContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["volumeMounts"] = "mountPath",
        ["volumeDevices"] = "devicePath",
        ["imagePullSecrets"] = "name",
        ["ownerReferences"] = "uid",
        ["conditions"] = "type",
        ["hostAliases"] = "ip",
        ["addresses"] = "type",
        ["topologySpreadConstraints"] = "topologyKey",
        ["resourceClaims"] = "name",
    };

    private static readonly HashSet<string> MergedPrimitiveLists = new(StringComparer.Ordinal) { "finalizers" };

    /// <summary>Applies a patch of <paramref name="contentType"/> to <paramref name="target"/> (which is not modified) and returns the result.</summary>
    public static JsonObject Apply(JsonObject target, string contentType, ReadOnlySpan<byte> patch)
    {
        string type = contentType.Split(';')[0].Trim();
        if (type == JsonPatch)
        {
            JsonArray ops;
            try
            {
                ops = JsonNode.Parse(patch) as JsonArray ?? throw ApiException.BadRequest("a JSON patch must be an array of operations");
            }
            catch (System.Text.Json.JsonException e)
            {
                throw ApiException.BadRequest($"the patch is not valid JSON: {e.Message}");
            }

            return ApplyJsonPatch(target, ops);
        }

        var doc = Json.Parse(patch);
        return type switch
        {
            MergePatch => (JsonObject)Merge(target.DeepClone(), doc, strategic: false, parentKey: "")!,
            StrategicMergePatch => (JsonObject)Merge(target.DeepClone(), doc, strategic: true, parentKey: "")!,
            ApplyPatch => throw ApiException.BadRequest("an apply patch is served by ObjectApi.Apply (server-side apply), not as a patch"),
            _ => throw new ApiException(415, "UnsupportedMediaType", $"the patch type \"{type}\" is not supported"),
        };
    }

    /// <summary>RFC 7386 merge (or strategic merge) of <paramref name="patch"/> into <paramref name="target"/> (modified and returned).</summary>
    internal static JsonNode? Merge(JsonNode? target, JsonNode? patch, bool strategic, string parentKey)
    {
        if (patch is not JsonObject p)
        {
            return patch?.DeepClone();
        }

        if (strategic && Json.Str(p, "$patch") is { } directive)
        {
            if (directive == "replace")
            {
                var copy = (JsonObject)p.DeepClone();
                copy.Remove("$patch");
                return copy;
            }

            if (directive == "delete")
            {
                return null;
            }
        }

        var result = target as JsonObject ?? [];
        List<string>? retain = null;
        foreach (var (key, value) in p)
        {
            if (strategic && key.StartsWith('$'))
            {
                if (key == "$retainKeys" && value is JsonArray keys)
                {
                    retain = [.. keys.Select(k => k?.GetValue<string>() ?? "")];
                }
                else if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal) && value is JsonArray remove)
                {
                    string list = key["$deleteFromPrimitiveList/".Length..];
                    if (result[list] is JsonArray existing)
                    {
                        var drop = remove.Select(x => x?.ToJsonString()).ToHashSet(StringComparer.Ordinal);
                        foreach (var item in existing.Where(x => drop.Contains(x?.ToJsonString())).ToList())
                        {
                            existing.Remove(item);
                        }
                    }
                }

                continue; // $setElementOrder/...: the order of the merged list is kept as it was, new items appended
            }

            if (value is null)
            {
                result.Remove(key);
            }
            else if (strategic && value is JsonArray list && MergeKeyFor(key, parentKey) is { } mergeKey)
            {
                result[key] = MergeList(result[key] as JsonArray, list, mergeKey, key);
            }
            else if (strategic && value is JsonArray primitives && MergedPrimitiveLists.Contains(key))
            {
                var merged = result[key] as JsonArray ?? [];
                var seen = merged.Select(x => x?.ToJsonString()).ToHashSet(StringComparer.Ordinal);
                foreach (var item in primitives.Where(x => seen.Add(x?.ToJsonString())))
                {
                    merged.Add(item?.DeepClone());
                }

                result[key] = merged.Parent is null ? merged : merged.DeepClone();
            }
            else if (value is JsonObject)
            {
                var existing = result[key];
                result.Remove(key);
                var merged = Merge(existing is JsonObject ? existing : null, value, strategic, key);
                if (merged is not null)
                {
                    result[key] = merged;
                }
            }
            else
            {
                result[key] = StripDirectives(value.DeepClone());
            }
        }

        if (retain is not null)
        {
            foreach (string key in result.Select(kv => kv.Key).Where(k => !retain.Contains(k)).ToList())
            {
                result.Remove(key);
            }
        }

        return result;
    }

    /// <summary>The merge key of the list field <paramref name="key"/> under <paramref name="parentKey"/>, or null for an atomic list.</summary>
    internal static string? MergeKeyOf(string key, string parentKey) => MergeKeyFor(key, parentKey);

    /// <summary>Whether the list field <paramref name="key"/> is a set of scalars (finalizers).</summary>
    internal static bool IsSetOfScalars(string key) => MergedPrimitiveLists.Contains(key);

    private static string? MergeKeyFor(string key, string parentKey) => key switch
    {
        "ports" => parentKey is "containers" or "initContainers" or "ephemeralContainers" ? "containerPort" : parentKey == "spec" ? "port" : null,
        _ => MergeKeys.GetValueOrDefault(key),
    };

    private static JsonArray MergeList(JsonArray? existing, JsonArray patch, string mergeKey, string listKey)
    {
        var result = new JsonArray();
        var items = existing?.Select(x => x?.DeepClone()).ToList() ?? [];
        if (patch.OfType<JsonObject>().Any(x => Json.Str(x, "$patch") == "replace"))
        {
            items.Clear();
        }

        foreach (var patchItem in patch)
        {
            if (patchItem is not JsonObject po)
            {
                items.Add(patchItem?.DeepClone());
                continue;
            }

            if (Json.Str(po, "$patch") == "replace")
            {
                continue;
            }

            string? keyValue = po[mergeKey]?.ToJsonString();
            int at = keyValue is null ? -1 : items.FindIndex(x => x is JsonObject xo && xo[mergeKey]?.ToJsonString() == keyValue);
            if (Json.Str(po, "$patch") == "delete")
            {
                if (at >= 0)
                {
                    items.RemoveAt(at);
                }

                continue;
            }

            if (at >= 0)
            {
                items[at] = Merge(items[at], po, strategic: true, parentKey: listKey);
            }
            else
            {
                items.Add(Merge(null, po, strategic: true, parentKey: listKey));
            }
        }

        foreach (var item in items)
        {
            result.Add(item);
        }

        return result;
    }

    private static JsonNode? StripDirectives(JsonNode? node)
    {
        if (node is JsonObject o)
        {
            foreach (string key in o.Select(kv => kv.Key).Where(k => k.StartsWith('$')).ToList())
            {
                o.Remove(key);
            }

            foreach (var (_, v) in o)
            {
                StripDirectives(v);
            }
        }
        else if (node is JsonArray a)
        {
            foreach (var v in a)
            {
                StripDirectives(v);
            }
        }

        return node;
    }

    private static JsonObject ApplyJsonPatch(JsonObject target, JsonArray ops)
    {
        JsonNode doc = target.DeepClone();
        int index = 0;
        foreach (var node in ops)
        {
            string op = Json.Str(node, "op") ?? throw ApiException.BadRequest($"JSON patch operation {index}: missing \"op\"");
            string path = Json.Str(node, "path") ?? throw ApiException.BadRequest($"JSON patch operation {index}: missing \"path\"");
            var value = Json.At(node, "value");
            switch (op)
            {
                case "add":
                    doc = Add(doc, path, value?.DeepClone(), insert: true);
                    break;
                case "replace":
                    _ = Get(doc, path) ?? throw ApiException.BadRequest($"JSON patch operation {index}: replace: \"{path}\" does not exist");
                    doc = Add(doc, path, value?.DeepClone(), insert: false);
                    break;
                case "remove":
                    Remove(doc, path, index);
                    break;
                case "move":
                case "copy":
                    string from = Json.Str(node, "from") ?? throw ApiException.BadRequest($"JSON patch operation {index}: missing \"from\"");
                    var moved = Get(doc, from)?.DeepClone() ?? throw ApiException.BadRequest($"JSON patch operation {index}: \"{from}\" does not exist");
                    if (op == "move")
                    {
                        Remove(doc, from, index);
                    }

                    doc = Add(doc, path, moved, insert: true);
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(doc, path), value))
                    {
                        throw new ApiException(422, "Invalid", $"JSON patch operation {index}: test failed at \"{path}\"");
                    }

                    break;
                default:
                    throw ApiException.BadRequest($"JSON patch operation {index}: unknown op \"{op}\"");
            }

            index++;
        }

        return doc as JsonObject ?? throw ApiException.BadRequest("the JSON patch replaced the object with something that is not an object");
    }

    /// <summary>The reference tokens of a JSON pointer (RFC 6901): "" is the whole document, "/a~1b" the key "a/b".</summary>
    private static string[] Pointer(string path)
    {
        if (path.Length == 0)
        {
            return [];
        }

        if (path[0] != '/')
        {
            throw ApiException.BadRequest($"JSON patch: \"{path}\" is not a JSON pointer (it must start with '/')");
        }

        return [.. path[1..].Split('/').Select(p => p.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];
    }

    private static JsonNode? Get(JsonNode? doc, string path) => Resolve(doc, Pointer(path));

    /// <summary>The node the tokens lead to, or null.</summary>
    private static JsonNode? Resolve(JsonNode? doc, ReadOnlySpan<string> parts)
    {
        foreach (string p in parts)
        {
            doc = doc switch
            {
                JsonObject o => o[p],
                JsonArray a when int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int i) && i < a.Count => a[i],
                _ => null,
            };
        }

        return doc;
    }

    private static JsonNode Add(JsonNode doc, string path, JsonNode? value, bool insert)
    {
        var parts = Pointer(path);
        if (parts.Length == 0)
        {
            return value ?? throw ApiException.BadRequest("a JSON patch cannot replace the whole object with null");
        }

        var parent = Resolve(doc, parts.AsSpan(0, parts.Length - 1));
        string last = parts[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a when last == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(last, out int i) && i >= 0 && i <= a.Count:
                if (insert)
                {
                    a.Insert(i, value);
                }
                else
                {
                    a[i] = value;
                }

                break;
            default:
                throw ApiException.BadRequest($"JSON patch: the parent of \"{path}\" does not exist");
        }

        return doc;
    }

    private static void Remove(JsonNode doc, string path, int index)
    {
        var parts = Pointer(path);
        var parent = parts.Length == 0 ? null : Resolve(doc, parts.AsSpan(0, parts.Length - 1));
        bool removed = parent switch
        {
            JsonObject o => o.Remove(parts[^1]),
            JsonArray a when int.TryParse(parts[^1], out int i) && i >= 0 && i < a.Count => Do(() => a.RemoveAt(i)),
            _ => false,
        };
        if (!removed)
        {
            throw ApiException.BadRequest($"JSON patch operation {index}: remove: \"{path}\" does not exist");
        }

        static bool Do(Action a)
        {
            a();
            return true;
        }
    }
}
