using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Api;

/// <summary>
/// How an update is made from the stored object and the one sent, as kube-apiserver's update path: through the main
/// resource, the identity metadata, generation and (unless the kind lets spec writes change it) the status stay as
/// stored; through <c>status</c> only the status changes; a <c>binding</c> sets spec.nodeName with the status. Then the
/// kind's defaults, allocation and validation run.
/// </summary>
internal sealed class UpdateMerge(ObjectApi api, Lock allocation)
{
    /// <summary>The object to store when <paramref name="incoming"/> (the caller's own copy: changed and returned) is written over <paramref name="current"/> through <paramref name="subresource"/>.</summary>
    public JsonObject Merge(ResourceType type, JsonObject current, JsonObject incoming, string? subresource)
    {
        JsonObject result;
        if (subresource == "status")
        {
            // everything but the status stays as stored: take the incoming copy (the caller's own) and put back what differs
            foreach (var name in incoming.Select(p => p.Key).Where(k => k != "status" && !current.ContainsKey(k)).ToList())
            {
                incoming.Remove(name);
            }

            foreach (var (name, value) in current)
            {
                if (name != "status" && !JsonNode.DeepEquals(incoming[name], value))
                {
                    incoming[name] = value?.DeepClone();
                }
            }

            if (!incoming.ContainsKey("status") && current["status"] is { } status)
            {
                incoming["status"] = status.DeepClone();
            }

            return incoming;
        }

        if (subresource == "approval" && type == Kinds.CertificateSigningRequestStrategy.Type)
        {
            // certificatesigningrequests/approval (kubectl certificate approve|deny): only status.conditions change;
            // an Approved or Denied condition stays once given, and a request is never both
            result = current.DeepClone().AsObject();
            var given = Json.Items(incoming, "status", "conditions").Select(c => c.DeepClone()).ToList();
            foreach (var decided in Json.Items(current, "status", "conditions").Where(c => Json.Str(c, "type") is "Approved" or "Denied"))
            {
                if (!given.Any(c => Json.Str(c, "type") == Json.Str(decided, "type")))
                {
                    throw ApiException.Invalid(type, Json.Name(current) ?? "", [("status.conditions", $"Forbidden: updates may not remove a condition of type \"{Json.Str(decided, "type")}\"")]);
                }
            }

            if (given.Any(c => Json.Str(c, "type") == "Approved") && given.Any(c => Json.Str(c, "type") == "Denied"))
            {
                throw ApiException.Invalid(type, Json.Name(current) ?? "", [("status.conditions", "Invalid value: Approved and Denied conditions are mutually exclusive")]);
            }

            var now = Json.Time(api.Time.GetUtcNow());
            foreach (var c in given.OfType<JsonObject>())
            {
                c["status"] ??= "True";
                c["lastUpdateTime"] ??= now;
                c["lastTransitionTime"] ??= now;
            }

            Json.Obj(result, "status")["conditions"] = new JsonArray([.. given]);
            result["metadata"]!["resourceVersion"] = Json.Str(incoming, "metadata", "resourceVersion") is { } rv ? rv : Json.Str(current, "metadata", "resourceVersion");
            return result;
        }

        if (subresource == "binding" && type.Strategy.HasBinding)
        {
            // the scheduler's one write: spec.nodeName and the PodScheduled condition together (pods/binding)
            var status = incoming["status"];
            incoming.Remove("status");
            result = Merge(type, current, incoming, null);
            result["status"] = status;
            return result;
        }

        if (subresource is not null)
        {
            throw new ApiException(404, "NotFound", $"the server could not find the requested resource ({subresource})");
        }

        result = incoming;
        result["apiVersion"] = type.ApiVersion;
        result["kind"] = type.Kind;
        var meta = Json.Obj(result, "metadata");
        var oldMeta = (JsonObject)current["metadata"]!;
        foreach (string keep in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name", "generation" })
        {
            if (oldMeta[keep] is { } v)
            {
                meta[keep] = v.DeepClone();
            }
            else
            {
                meta.Remove(keep);
            }
        }

        if (type.HasStatus && !type.Strategy.StatusWritableWithSpec)
        {
            if (current["status"] is { } status)
            {
                result["status"] = status.DeepClone();
            }
            else
            {
                result.Remove("status");
            }
        }

        Admission.Default(type, result, api);
        if (type.HasGeneration)
        {
            if (!JsonNode.DeepEquals(result["spec"], current["spec"]))
            {
                meta["generation"] = (Json.Int(oldMeta, "generation") ?? 1) + 1;
            }
        }

        if (type.Strategy.Allocates)
        {
            lock (allocation)
            {
                type.Strategy.Allocate(api, result, current);
            }
        }

        Admission.Validate(type, result, current);
        return result;
    }

    /// <summary>
    /// A status or binding write made from the stored revision: a fresh view of it (so nothing else the change did
    /// survives) with the changed copy's status and, for a binding, its spec.nodeName (generation bumped when
    /// that changes). Nothing else is compared or rebuilt, so a pod's status write costs its status, not the whole tree.
    /// </summary>
    public static JsonObject KeepAllBut(ResourceType type, StoredObject stored, JsonObject changed, string subresource)
    {
        var result = ObjectApi.View(stored);
        if (changed["status"] is { } status)
        {
            changed.Remove("status");
            result["status"] = status;
        }
        else if (type.HasStatus)
        {
            result.Remove("status");
        }

        if (subresource == "binding" && Json.Str(changed, "spec", "nodeName") is { } node && Json.Str(result, "spec", "nodeName") != node)
        {
            Json.Obj(result, "spec")["nodeName"] = node;
            var meta = Json.Obj(result, "metadata");
            meta["generation"] = (Json.Int(meta, "generation") ?? 1) + 1;
        }

        return result;
    }
}
