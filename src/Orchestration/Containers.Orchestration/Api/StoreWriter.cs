using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Api;

/// <summary>
/// The last step of every update: the prepared object goes to the store at the expected revision (409 when it moved
/// on, 404 when it went), a write that changes nothing is not stored (the resourceVersion stays, as kube-apiserver
/// does), and an object marked for deletion whose last finalizer went is deleted instead.
/// </summary>
internal sealed class StoreWriter(IObjectStore store)
{
    /// <summary>
    /// Writes <paramref name="updated"/> over <paramref name="current"/> (expected at revision <paramref name="expected"/>);
    /// a no-op write is not stored. <paramref name="changed"/>: when the write changes only the status (<c>status</c>) or
    /// the status and spec.nodeName (<c>binding</c>), the no-op check compares only those, first as bytes against
    /// <paramref name="currentStored"/> (the stored form of <paramref name="current"/>) when given.
    /// </summary>
    public JsonObject Write(ResourceType type, JsonObject current, JsonObject updated, long expected, bool dryRun, string? changed = null, StoredObject? currentStored = null)
    {
        // a resourceVersion in updated stays: the store writes the new revision over it (and a status write's bytes
        // stay those of the stored object, whose metadata need not be built to drop one)
        var meta = (JsonObject)updated["metadata"]!;
        if (dryRun)
        {
            return updated;
        }

        if (Json.Has(meta, "deletionTimestamp") && meta["finalizers"] is not JsonArray { Count: > 0 } && type.Strategy.GoesWhenFinalized(meta))
        {
            // the last finalizer went: the object goes
            try
            {
                return ObjectApi.View(store.Delete(ObjectApi.Key(type, current), expected));
            }
            catch (StoreConflictException)
            {
                throw ApiException.Conflict(type, Json.Name(current));
            }
        }

        // no-op writes do not bump the resourceVersion (as kube-apiserver): compared without either's resourceVersion.
        // A status or binding write is made from the stored bytes, so its bytes match them when nothing changed (the
        // same length with other bytes can still be equal as JSON: another order of the same properties)
        ReadOnlyMemory<byte>? bytes = null; // this thread's serialization buffer (see Json.Serialized): the store copies it
        bool same;
        if (changed is null || currentStored is null)
        {
            same = changed is null ? SameIgnoringVersion(updated, current) : SameStatus();
        }
        else
        {
            bytes = Json.Serialized(updated);
            same = bytes.Value.Span.SequenceEqual(currentStored.Json.Span) || (bytes.Value.Length == currentStored.Json.Length && SameStatus());
        }

        bool SameStatus() => JsonNode.DeepEquals(updated["status"], current["status"])
            && (changed != "binding" || Json.Str(updated, "spec", "nodeName") == Json.Str(current, "spec", "nodeName"));

        if (same)
        {
            meta["resourceVersion"] = Json.Str(current, "metadata", "resourceVersion"); // the caller's copy, equal to what is stored
            return updated;
        }

        try
        {
            var written = store.Update(ObjectApi.Key(type, current), bytes ?? Json.Serialized(updated), expected, changed);
            return store.Forwards ? ObjectApi.View(written) : ObjectApi.WithRevision(updated, written);
        }
        catch (StoreConflictException)
        {
            throw ApiException.Conflict(type, Json.Name(current));
        }
        catch (StoreNotFoundException)
        {
            throw ApiException.NotFound(type, Json.Name(current));
        }
    }

    /// <summary>Deep equality of two objects, ignoring metadata.resourceVersion (neither is changed).</summary>
    private static bool SameIgnoringVersion(JsonObject a, JsonObject b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (name, value) in a)
        {
            if (!b.TryGetPropertyValue(name, out var other))
            {
                return false;
            }

            if (name == "metadata" && value is JsonObject ma && other is JsonObject mb)
            {
                int count = 0;
                foreach (var (k, v) in ma)
                {
                    if (k == "resourceVersion")
                    {
                        continue;
                    }

                    count++;
                    if (!mb.TryGetPropertyValue(k, out var w) || !JsonNode.DeepEquals(v, w))
                    {
                        return false;
                    }
                }

                if (count != mb.Count(p => p.Key != "resourceVersion"))
                {
                    return false;
                }
            }
            else if (!JsonNode.DeepEquals(value, other))
            {
                return false;
            }
        }

        return true;
    }
}
