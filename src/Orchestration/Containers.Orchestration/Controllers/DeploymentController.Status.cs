namespace Containers.Orchestration.Controllers;

/// <content>The Deployment's status: replicas counted over its ReplicaSets, and the Available and Progressing conditions.</content>
internal sealed partial class DeploymentController
{
    private ReconcileResult WriteStatus(JsonObject d, JsonObject? newRs, List<JsonObject> owned, long replicas, long unavailable, bool paused, string? reason, string? message)
    {
        owned = owned.Select(rs => sets.Get(Json.Namespace(rs), Json.Name(rs)) ?? rs).ToList();
        if (newRs is not null)
        {
            newRs = sets.Get(Json.Namespace(newRs), Json.Name(newRs)) ?? newRs;
            if (!owned.Any(rs => Json.Name(rs) == Json.Name(newRs)))
            {
                owned.Add(newRs);
            }
        }

        long total = owned.Sum(rs => Json.Int(rs, "status", "replicas") ?? 0);
        long updated = newRs is null ? 0 : Json.Int(newRs, "status", "replicas") ?? 0;
        long ready = owned.Sum(rs => Json.Int(rs, "status", "readyReplicas") ?? 0);
        long available = owned.Sum(rs => Json.Int(rs, "status", "availableReplicas") ?? 0);
        var now = api.Time.GetUtcNow();
        bool complete = newRs is not null && updated == replicas && available >= replicas && total == replicas
            && (Json.Int(newRs, "status", "observedGeneration") ?? 0) >= (Json.Int(newRs, "metadata", "generation") ?? 1);
        TimeSpan? requeue = null;
        string newName = newRs is null ? "" : Json.Name(newRs);
        string revision = newRs is null ? "" : Revision(newRs).ToString(CultureInfo.InvariantCulture);
        api.Mutate(ResourceType.Deployments, Json.Namespace(d), Json.Name(d), o =>
        {
            bool changed = false;
            if (revision.Length > 0 && Json.Str(o, "metadata", "annotations", RevisionAnnotation) != revision)
            {
                Json.Obj(o, "metadata", "annotations")[RevisionAnnotation] = revision;
                changed = true;
            }

            return changed;
        });
        api.Mutate(ResourceType.Deployments, Json.Namespace(d), Json.Name(d), o =>
        {
            var before = o["status"]?.DeepClone();
            var s = Json.Obj(o, "status");
            s["observedGeneration"] = Json.Int(o, "metadata", "generation") ?? 1;
            s["replicas"] = total;
            s["updatedReplicas"] = updated;
            s["readyReplicas"] = ready;
            s["availableReplicas"] = available;
            s["unavailableReplicas"] = Math.Max(0, Math.Max(replicas, total) - available);
            foreach (string zero in new[] { "readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas", "replicas" })
            {
                if (Json.Int(s, zero) == 0)
                {
                    s.Remove(zero);
                }
            }

            bool minimum = available >= replicas - unavailable;
            PodState.SetCondition(s, "Available", minimum ? "True" : "False", minimum ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                minimum ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", now);
            var progressing = Json.Items(s, "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Progressing");
            long deadline = Json.Int(o, "spec", "progressDeadlineSeconds") ?? 600;
            if (paused)
            {
                PodState.SetCondition(s, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now);
            }
            else if (complete)
            {
                PodState.SetCondition(s, "Progressing", "True", "NewReplicaSetAvailable", $"ReplicaSet \"{newName}\" has successfully progressed.", now);
            }
            else if (reason is not null)
            {
                PodState.SetCondition(s, "Progressing", "True", reason, message, now);
                requeue = TimeSpan.FromSeconds(deadline);
            }
            else if (progressing is not null && Json.Str(progressing, "reason") == "ProgressDeadlineExceeded")
            {
                // stays until the rollout moves again
                if (before is JsonObject b && Json.Int(b, "updatedReplicas") != updated || Json.Int(before, "availableReplicas") != available)
                {
                    PodState.SetCondition(s, "Progressing", "True", "ReplicaSetUpdated", $"ReplicaSet \"{newName}\" is progressing.", now);
                }
            }
            else
            {
                bool moved = before is not JsonObject prev || Json.Int(prev, "updatedReplicas") != (updated == 0 ? null : updated) || Json.Int(prev, "availableReplicas") != (available == 0 ? null : available)
                    || Json.Str(progressing, "reason") is "DeploymentPaused" or "DeploymentResumed" or "NewReplicaSetAvailable" or null;
                var last = Json.ParseTime(Json.Str(progressing, "lastUpdateTime")) ?? now;
                if (moved)
                {
                    PodState.SetCondition(s, "Progressing", "True", "ReplicaSetUpdated", $"ReplicaSet \"{newName}\" is progressing.", now);
                    Json.Items(s, "conditions").First(c => Json.Str(c, "type") == "Progressing")["lastUpdateTime"] = Json.Time(now);
                    requeue = TimeSpan.FromSeconds(deadline);
                }
                else if (last.AddSeconds(deadline) <= now)
                {
                    PodState.SetCondition(s, "Progressing", "False", "ProgressDeadlineExceeded", $"ReplicaSet \"{newName}\" has timed out progressing.", now);
                }
                else
                {
                    requeue = last.AddSeconds(deadline) - now;
                }
            }

            // Available first, Progressing second, as kubectl describe prints them
            var conditions = (JsonArray)s["conditions"]!;
            var ordered = conditions.OfType<JsonObject>().OrderBy(c => Json.Str(c, "type") == "Available" ? 0 : 1).Select(c => c.DeepClone()).ToList();
            s["conditions"] = new JsonArray([.. ordered]);
            return !JsonNode.DeepEquals(before, s);
        }, "status");
        return new ReconcileResult(requeue);
    }
}
