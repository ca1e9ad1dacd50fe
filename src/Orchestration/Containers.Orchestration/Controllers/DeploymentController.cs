namespace Containers.Orchestration.Controllers;

/// <summary>
/// Rolls Deployments out through ReplicaSets as kube-controller-manager does: a ReplicaSet per pod template (named
/// by the template's hash, labelled pod-template-hash), revisions in annotations (a rollback makes an old set the
/// newest revision again), RollingUpdate within maxSurge/maxUnavailable, Recreate (old pods gone before new ones),
/// proportional scaling of the active sets when replicas change mid-rollout, pause/resume, revision history cleanup,
/// and status with the Available and Progressing conditions (ProgressDeadlineExceeded after progressDeadlineSeconds).
/// </summary>
internal sealed partial class DeploymentController : IReconciler<string>
{
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    private const string DesiredAnnotation = "deployment.kubernetes.io/desired-replicas";
    private const string MaxAnnotation = "deployment.kubernetes.io/max-replicas";
    private const string HashLabel = "pod-template-hash";
    private readonly ObjectApi api;
    private readonly Informer deployments;
    private readonly Informer sets;
    private readonly Informer pods;

    public DeploymentController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        deployments = b.For(ResourceType.Deployments);
        sets = b.Owns(ResourceType.ReplicaSets, ResourceType.Deployments).IndexOrphans();
        b.Watches(ResourceType.ReplicaSets, (_, rs) => rs is not null && PodState.ControllerOf(rs) is null ? AdoptersOf(rs) : []);
        pods = b.Watches(ResourceType.Pods, (old, pod) =>
        {
            // Recreate waits for the old pods to be gone
            if (pod is null && old is not null && PodState.ControllerOf(old) is { } owner && sets.Get(Json.Namespace(old), Json.Str(owner, "name") ?? "") is { } rs
                && PodState.ControllerOf(rs) is { } dref)
            {
                Queue.Add($"{Json.Namespace(rs)}/{Json.Str(dref, "name")}");
            }
        });
    }

    /// <summary>The deployments whose selector matches an orphaned ReplicaSet's template (they may adopt it).</summary>
    private IEnumerable<string> AdoptersOf(JsonObject rs) =>
        deployments.List(Json.Namespace(rs))
            .Where(d => LabelSelector.FromObject(Json.At(d, "spec", "selector")).Matches(Json.Map(rs, "spec", "template", "metadata", "labels")))
            .Select(PodState.Key);

    public WorkQueue<string> Queue { get; }

    /// <summary>The hash naming a template's ReplicaSet (FNV-32a of its JSON, encoded as Kubernetes' SafeEncodeString).</summary>
    public static string TemplateHash(JsonNode? template)
    {
        uint hash = 2166136261;
        foreach (byte b in Json.CanonicalBytes(template ?? new JsonObject()))
        {
            hash = (hash ^ b) * 16777619;
        }

        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return new string(hash.ToString(CultureInfo.InvariantCulture).Select(c => alphabet[c % alphabet.Length]).ToArray());
    }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var d = deployments.Get(ns, name);
        if (d is null || Json.Has(d, "metadata", "deletionTimestamp"))
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var selector = LabelSelector.FromObject(Json.At(d, "spec", "selector"));
        string uid = Json.Uid(d);
        var owned = sets.OwnedBy(uid).Where(rs => Json.Str(PodState.ControllerOf(rs), "uid") == uid).ToList();
        foreach (var orphan in sets.ByIndex(PodState.OrphanIndex, ns).Where(rs => !Json.Has(rs, "metadata", "deletionTimestamp") && selector.Matches(Json.Map(rs, "spec", "template", "metadata", "labels"))).ToList())
        {
            if (api.Mutate(ResourceType.ReplicaSets, ns, Json.Name(orphan), o => PodState.TakeOwnership(o, d)) is { } adopted)
            {
                owned.Add(adopted);
            }
        }

        owned = owned.Where(rs => !Json.Has(rs, "metadata", "deletionTimestamp")).ToList();
        var template = (JsonObject)(Json.At(d, "spec", "template") ?? new JsonObject());
        var newRs = owned.FirstOrDefault(rs => SameTemplate(rs, template));
        var oldSets = owned.Where(rs => rs != newRs).ToList();
        long maxRevision = owned.Select(Revision).DefaultIfEmpty(0).Max();
        long replicas = Json.Int(d, "spec", "replicas") ?? 1;
        bool paused = Json.Bool(d, "spec", "paused") == true;
        bool recreate = Json.Str(d, "spec", "strategy", "type") == "Recreate";
        var (surge, unavailable) = Limits(d, replicas);
        string? progressReason = null;
        string? progressMessage = null;

        if (!paused)
        {
            if (newRs is null)
            {
                long initial = recreate
                    ? (oldSets.Any(rs => (Json.Int(rs, "spec", "replicas") ?? 0) > 0 || ActivePods(rs) > 0) ? 0 : replicas)
                    : Math.Max(0, Math.Min(replicas, replicas + surge - oldSets.Sum(rs => Json.Int(rs, "spec", "replicas") ?? 0)));
                newRs = CreateSet(d, template, maxRevision + 1, initial, replicas, surge);
                progressReason = "NewReplicaSetCreated";
                progressMessage = $"Created new replica set \"{Json.Name(newRs)}\"";
                if (initial > 0)
                {
                    api.RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled up replica set {Json.Name(newRs)} from 0 to {initial}", "deployment-controller");
                }
            }
            else if (Revision(newRs) < maxRevision || Annotations(newRs).GetValueOrDefault("kubernetes.io/change-cause") != Annotations(d).GetValueOrDefault("kubernetes.io/change-cause"))
            {
                long revision = Revision(newRs) < maxRevision ? maxRevision + 1 : Revision(newRs);
                newRs = api.Mutate(ResourceType.ReplicaSets, ns, Json.Name(newRs), o =>
                {
                    var a = Json.Obj(o, "metadata", "annotations");
                    a[RevisionAnnotation] = revision.ToString(CultureInfo.InvariantCulture);
                    CopyAnnotations(d, a);
                    return true;
                }) ?? newRs;
            }

            if (recreate)
            {
                foreach (var old in oldSets.Where(rs => (Json.Int(rs, "spec", "replicas") ?? 0) > 0))
                {
                    Scale(d, old, 0, replicas, surge);
                }

                if (oldSets.All(rs => ActivePods(rs) == 0) && (Json.Int(newRs, "spec", "replicas") ?? 0) != replicas)
                {
                    Scale(d, newRs, replicas, replicas, surge);
                }
            }
            else
            {
                ScaleProportionally(d, newRs, oldSets, replicas, surge);
                Roll(d, newRs, oldSets, replicas, surge, unavailable);
            }

            Cleanup(d, oldSets);
        }
        else
        {
            // paused: only scaling
            var active = owned.Where(rs => (Json.Int(rs, "spec", "replicas") ?? 0) > 0).ToList();
            if (active.Count == 1 && (Json.Int(active[0], "spec", "replicas") ?? 0) != replicas)
            {
                Scale(d, active[0], replicas, replicas, surge);
            }
            else if (active.Count == 0 && newRs is not null && replicas > 0)
            {
                Scale(d, newRs, replicas, replicas, surge);
            }
        }

        return Task.FromResult(WriteStatus(d, newRs, owned, replicas, unavailable, paused, progressReason, progressMessage));
    }

    private int ActivePods(JsonObject rs) => pods.OwnedBy(Json.Uid(rs)).Count(PodState.IsActive);

    private static long Revision(JsonObject rs) =>
        long.TryParse(Json.Str(rs, "metadata", "annotations", RevisionAnnotation), NumberStyles.Integer, CultureInfo.InvariantCulture, out long r) ? r : 0;

    private static Dictionary<string, string> Annotations(JsonObject o) => Json.Map(o, "metadata", "annotations");

    private static bool SameTemplate(JsonObject rs, JsonObject template)
    {
        if (Json.At(rs, "spec", "template") is not JsonObject t)
        {
            return false;
        }

        var copy = Json.Clone(t);
        (Json.At(copy, "metadata", "labels") as JsonObject)?.Remove(HashLabel);
        if (Json.At(copy, "metadata", "labels") is JsonObject { Count: 0 } && Json.At(template, "metadata", "labels") is null)
        {
            ((JsonObject)copy["metadata"]!).Remove("labels");
        }

        return JsonNode.DeepEquals(Normalize(copy), Normalize(template));

        static JsonNode Normalize(JsonObject o)
        {
            var c = Json.Clone(o);
            if (c["metadata"] is JsonObject m)
            {
                m.Remove("creationTimestamp");
                if (m.Count == 0)
                {
                    c.Remove("metadata");
                }
            }

            return c;
        }
    }

    /// <summary>maxSurge rounds up, maxUnavailable down; both 0 means one unavailable (as Kubernetes).</summary>
    private static (long Surge, long Unavailable) Limits(JsonObject d, long replicas)
    {
        if (Json.Str(d, "spec", "strategy", "type") == "Recreate")
        {
            return (0, replicas);
        }

        long surge = IntOrPercent(Json.At(d, "spec", "strategy", "rollingUpdate", "maxSurge"), replicas, roundUp: true, fallback: "25%");
        long unavailable = IntOrPercent(Json.At(d, "spec", "strategy", "rollingUpdate", "maxUnavailable"), replicas, roundUp: false, fallback: "25%");
        if (surge == 0 && unavailable == 0)
        {
            unavailable = 1;
        }

        return (surge, Math.Min(unavailable, replicas));
    }

    internal static long IntOrPercent(JsonNode? value, long total, bool roundUp, string fallback)
    {
        string text = value switch
        {
            null => fallback,
            JsonValue v when v.TryGetValue(out string? s) => s,
            _ => value.ToJsonString(),
        };
        if (text.EndsWith('%') && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double pct))
        {
            double x = pct * total / 100.0;
            return (long)(roundUp ? Math.Ceiling(x) : Math.Floor(x));
        }

        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : 0;
    }

    private JsonObject CreateSet(JsonObject d, JsonObject template, long revision, long initial, long replicas, long surge)
    {
        string hash = TemplateHash(template);
        var rsTemplate = Json.Clone(template);
        Json.Obj(rsTemplate, "metadata", "labels")[HashLabel] = hash;
        var selector = (JsonObject)(Json.At(d, "spec", "selector")?.DeepClone() ?? new JsonObject());
        Json.Obj(selector, "matchLabels")[HashLabel] = hash;
        var labels = (JsonObject)(Json.At(template, "metadata", "labels")?.DeepClone() ?? new JsonObject());
        labels[HashLabel] = hash;
        var annotations = new JsonObject
        {
            [RevisionAnnotation] = revision.ToString(CultureInfo.InvariantCulture),
            [DesiredAnnotation] = replicas.ToString(CultureInfo.InvariantCulture),
            [MaxAnnotation] = (replicas + surge).ToString(CultureInfo.InvariantCulture),
        };
        CopyAnnotations(d, annotations);
        var rs = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{Json.Name(d)}-{hash}",
                ["namespace"] = Json.Namespace(d),
                ["labels"] = labels,
                ["annotations"] = annotations,
                ["ownerReferences"] = new JsonArray(PodState.ControllerReference(d)),
            },
            ["spec"] = new JsonObject
            {
                ["replicas"] = initial,
                ["minReadySeconds"] = Json.Int(d, "spec", "minReadySeconds") ?? 0,
                ["selector"] = selector,
                ["template"] = rsTemplate,
            },
        };
        try
        {
            return api.Create(ResourceType.ReplicaSets, Json.Namespace(d), rs);
        }
        catch (ApiException e) when (e.Reason == "AlreadyExists")
        {
            // a set of this name exists but not as ours (a hash collision, or a set that lost its owner): take it over
            return api.Mutate(ResourceType.ReplicaSets, Json.Namespace(d), $"{Json.Name(d)}-{hash}", o =>
            {
                o["metadata"]!["ownerReferences"] = new JsonArray(PodState.ControllerReference(d));
                Json.Obj(o, "metadata", "annotations")[RevisionAnnotation] = revision.ToString(CultureInfo.InvariantCulture);
                o["spec"]!["template"] = rsTemplate.DeepClone();
                return true;
            }) ?? throw ApiException.NotFound(ResourceType.ReplicaSets, $"{Json.Name(d)}-{hash}");
        }
    }

    private static void CopyAnnotations(JsonObject d, JsonObject target)
    {
        foreach (var (k, v) in Annotations(d))
        {
            if (k is not ("kubectl.kubernetes.io/last-applied-configuration" or RevisionAnnotation or DesiredAnnotation or MaxAnnotation or "deployment.kubernetes.io/revision-history"))
            {
                target[k] = v;
            }
        }
    }

    private void Scale(JsonObject d, JsonObject rs, long to, long replicas, long surge)
    {
        long from = Json.Int(rs, "spec", "replicas") ?? 0;
        api.Mutate(ResourceType.ReplicaSets, Json.Namespace(rs), Json.Name(rs), o =>
        {
            Json.Obj(o, "spec")["replicas"] = to;
            var a = Json.Obj(o, "metadata", "annotations");
            a[DesiredAnnotation] = replicas.ToString(CultureInfo.InvariantCulture);
            a[MaxAnnotation] = (replicas + surge).ToString(CultureInfo.InvariantCulture);
            return true;
        });
        if (from != to)
        {
            api.RecordEvent(d, "Normal", "ScalingReplicaSet", $"Scaled {(to > from ? "up" : "down")} replica set {Json.Name(rs)} from {from} to {to}", "deployment-controller");
        }
    }

    private void ScaleProportionally(JsonObject d, JsonObject newRs, List<JsonObject> oldSets, long replicas, long surge)
    {
        var active = oldSets.Append(newRs).Where(rs => (Json.Int(rs, "spec", "replicas") ?? 0) > 0).ToList();
        if (active.Count < 2)
        {
            return;
        }

        // only when the deployment's size changed since these sets were sized
        if (active.All(rs => Json.Str(rs, "metadata", "annotations", DesiredAnnotation) == replicas.ToString(CultureInfo.InvariantCulture)))
        {
            return;
        }

        long current = active.Sum(rs => Json.Int(rs, "spec", "replicas") ?? 0);
        long toAdd = replicas + surge - current;
        if (toAdd == 0)
        {
            return;
        }

        long added = 0;
        var targets = new Dictionary<JsonObject, long>();
        foreach (var rs in active.OrderByDescending(rs => Json.Int(rs, "spec", "replicas") ?? 0))
        {
            long size = Json.Int(rs, "spec", "replicas") ?? 0;
            long share = (long)Math.Round((double)size * toAdd / current, MidpointRounding.ToZero);
            share = toAdd > 0 ? Math.Min(share, toAdd - added) : Math.Max(share, toAdd - added);
            targets[rs] = size + share;
            added += share;
        }

        var first = active.Contains(newRs) ? newRs : active[0];
        targets[first] = Math.Max(0, targets[first] + toAdd - added);
        foreach (var (rs, to) in targets)
        {
            Scale(d, rs, Math.Max(0, to), replicas, surge);
        }
    }

    private void Roll(JsonObject d, JsonObject newRs, List<JsonObject> oldSets, long replicas, long surge, long unavailable)
    {
        // refresh from the cache: the scaling above may have changed sizes
        newRs = sets.Get(Json.Namespace(newRs), Json.Name(newRs)) ?? newRs;
        oldSets = oldSets.Select(rs => sets.Get(Json.Namespace(rs), Json.Name(rs)) ?? rs).ToList();
        long newSize = Json.Int(newRs, "spec", "replicas") ?? 0;
        long total = oldSets.Sum(rs => Json.Int(rs, "spec", "replicas") ?? 0) + newSize;
        if (newSize < replicas)
        {
            long allowed = replicas + surge - total;
            long up = Math.Min(allowed, replicas - newSize);
            if (up > 0)
            {
                Scale(d, newRs, newSize + up, replicas, surge);
                newSize += up;
                total += up;
            }
        }
        else if (newSize > replicas)
        {
            Scale(d, newRs, replicas, replicas, surge);
            total -= newSize - replicas;
            newSize = replicas;
        }

        long oldTotal = oldSets.Sum(rs => Json.Int(rs, "spec", "replicas") ?? 0);
        if (oldTotal == 0)
        {
            return;
        }

        long minAvailable = replicas - unavailable;
        long newUnavailable = newSize - (Json.Int(newRs, "status", "availableReplicas") ?? 0);
        long maxScaledDown = total - minAvailable - newUnavailable;
        if (maxScaledDown <= 0)
        {
            return;
        }

        // first the old sets' unhealthy replicas, then by availability, oldest sets first
        foreach (var rs in oldSets.OrderBy(r => Json.Str(r, "metadata", "creationTimestamp"), StringComparer.Ordinal))
        {
            long size = Json.Int(rs, "spec", "replicas") ?? 0;
            long unhealthy = size - (Json.Int(rs, "status", "availableReplicas") ?? 0);
            long down = Math.Min(maxScaledDown, Math.Max(0, unhealthy));
            if (down > 0)
            {
                Scale(d, rs, size - down, replicas, surge);
                maxScaledDown -= down;
            }
        }

        oldSets = oldSets.Select(rs => sets.Get(Json.Namespace(rs), Json.Name(rs)) ?? rs).ToList();
        long allAvailable = oldSets.Append(newRs).Sum(rs => Json.Int(rs, "status", "availableReplicas") ?? 0);
        long scaleDown = Math.Min(maxScaledDown, allAvailable - minAvailable);
        foreach (var rs in oldSets.OrderBy(r => Json.Str(r, "metadata", "creationTimestamp"), StringComparer.Ordinal))
        {
            if (scaleDown <= 0)
            {
                break;
            }

            long size = Json.Int(rs, "spec", "replicas") ?? 0;
            long down = Math.Min(size, scaleDown);
            if (down > 0)
            {
                Scale(d, rs, size - down, replicas, surge);
                scaleDown -= down;
            }
        }
    }

    private void Cleanup(JsonObject d, List<JsonObject> oldSets)
    {
        long limit = Json.Int(d, "spec", "revisionHistoryLimit") ?? 10;
        var idle = oldSets.Where(rs => (Json.Int(rs, "spec", "replicas") ?? 0) == 0 && (Json.Int(rs, "status", "replicas") ?? 0) == 0)
            .OrderBy(Revision).ToList();
        foreach (var rs in idle.Take(Math.Max(0, idle.Count - (int)limit)))
        {
            try
            {
                api.Delete(ResourceType.ReplicaSets, Json.Namespace(rs), Json.Name(rs));
            }
            catch (ApiException e) when (e.Code == 404)
            {
            }
        }
    }
}
