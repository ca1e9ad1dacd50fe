using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// The revision history of a DaemonSet or StatefulSet as ControllerRevisions (kube's controller history): each
/// distinct pod template is one revision named <c>PARENT-HASH</c>, holding the patch that brings the template back
/// (<c>{"spec":{"template":{…,"$patch":"replace"}}}</c>, what <c>kubectl rollout undo</c> applies), numbered in the
/// order the templates were last used: going back to an old template renumbers its revision as the newest.
/// </summary>
internal static class ControllerHistory
{
    /// <summary>The label naming a pod's (and a revision's) revision.</summary>
    public const string HashLabel = "controller-revision-hash";

    /// <summary>The patch a revision holds for <paramref name="parent"/>'s current template.</summary>
    public static JsonObject Data(JsonObject parent)
    {
        var template = Json.Clone(Json.Obj(Json.Clone(parent), "spec", "template"));
        template["$patch"] = "replace";
        return new JsonObject { ["spec"] = new JsonObject { ["template"] = template } };
    }

    /// <summary>The hash of a revision's data (FNV-32a, SafeEncodeString), probed with the parent's collision count.</summary>
    public static string Hash(JsonObject data, long collisionCount)
    {
        var probe = Json.Clone(data);
        if (collisionCount > 0)
        {
            probe["collisionCount"] = collisionCount; // a different hash for the same data once names collided
        }

        return DeploymentController.TemplateHash(probe);
    }

    /// <summary>The revisions <paramref name="parent"/> controls (from the shared cache), oldest first.</summary>
    public static List<JsonObject> Owned(Informer revisions, JsonObject parent)
    {
        string uid = Json.Uid(parent);
        return [.. revisions.OwnedBy(uid).Where(r => Json.Str(PodState.ControllerOf(r), "uid") == uid).OrderBy(r => Json.Int(r, "revision") ?? 0)];
    }

    /// <summary>
    /// The revision of <paramref name="parent"/>'s current template, made when none holds it, renumbered as the newest
    /// when an older one does (a rollback); with every other revision, oldest first.
    /// </summary>
    public static (JsonObject Current, List<JsonObject> Others) Sync(ObjectApi api, Informer revisions, ResourceType parentType, JsonObject parent)
    {
        var owned = Owned(revisions, parent);
        var data = Data(parent);
        long max = owned.Count == 0 ? 0 : owned.Max(r => Json.Int(r, "revision") ?? 0);
        string ns = Json.Namespace(parent) ?? "default";
        var equal = owned.LastOrDefault(r => JsonNode.DeepEquals(Json.At(r, "data"), data));
        if (equal is not null)
        {
            var others = owned.Where(r => !ReferenceEquals(r, equal)).ToList();
            if ((Json.Int(equal, "revision") ?? 0) < max)
            {
                equal = api.Mutate(ControllerRevisionStrategy.Type, ns, Json.Name(equal), r =>
                {
                    r["revision"] = max + 1;
                    return true;
                }) ?? throw ApiException.NotFound(ControllerRevisionStrategy.Type, Json.Name(equal));
            }

            return (equal, others);
        }

        long collisions = Json.Int(parent, "status", "collisionCount") ?? 0;
        string hash = Hash(data, collisions);
        string name = $"{Json.Name(parent)[..Math.Min(Json.Name(parent).Length, 223)]}-{hash}";
        var labels = new JsonObject();
        foreach (var (k, v) in Json.Map(parent, "spec", "template", "metadata", "labels"))
        {
            labels[k] = v;
        }

        labels[HashLabel] = hash;
        var revision = new JsonObject
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "ControllerRevision",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["labels"] = labels,
                ["ownerReferences"] = new JsonArray(PodState.ControllerReference(parent)),
            },
            ["data"] = data,
            ["revision"] = max + 1,
        };
        try
        {
            return (api.CreateOwned(ControllerRevisionStrategy.Type, ns, revision), owned);
        }
        catch (ApiException e) when (e.Code == 409)
        {
            // made already (a cache behind its writes) or another template hashed alike: the next collision count
            var existing = api.TryGet(ControllerRevisionStrategy.Type, ns, name);
            if (existing is not null && JsonNode.DeepEquals(Json.At(existing, "data"), data) && Json.Str(PodState.ControllerOf(existing), "uid") == Json.Uid(parent))
            {
                return (existing, owned);
            }

            api.Mutate(parentType, ns, Json.Name(parent), p =>
            {
                Json.Obj(p, "status")["collisionCount"] = collisions + 1;
                return true;
            }, "status");
            throw;
        }
    }

    /// <summary>The hash a revision's pods carry.</summary>
    public static string HashOf(JsonObject revision) =>
        Json.Map(revision, "metadata", "labels").GetValueOrDefault(HashLabel) ?? "";

    /// <summary>Deletes the oldest of <paramref name="others"/> beyond <paramref name="limit"/>, sparing those live pods still run (<paramref name="inUse"/>).</summary>
    public static void Truncate(ObjectApi api, List<JsonObject> others, long limit, Func<JsonObject, bool> inUse)
    {
        var spare = others.Where(r => !inUse(r)).ToList();
        foreach (var r in spare.Take(Math.Max(0, spare.Count - (int)Math.Max(0, limit))))
        {
            try
            {
                api.Delete(ControllerRevisionStrategy.Type, Json.Namespace(r), Json.Name(r));
            }
            catch (ApiException e) when (e.Code == 404)
            {
            }
        }
    }
}
