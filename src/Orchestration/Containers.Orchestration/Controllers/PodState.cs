using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Controllers;

/// <summary>What controllers read off pods and owner references.</summary>
public static class PodState
{
    /// <summary>The name of the pod informer's index by <c>spec.nodeName</c> (see <see cref="IndexByNode"/>).</summary>
    public const string NodeIndex = "spec.nodeName";

    /// <summary>The name of an informer's index of objects without a controller, by namespace (see <see cref="IndexOrphans"/>).</summary>
    public const string OrphanIndex = "orphans";

    /// <summary>Adds (once) the index of pods by the node they are bound to.</summary>
    public static Informer IndexByNode(this Informer pods)
    {
        pods.AddIndex(NodeIndex, p => Json.Str(p, "spec", "nodeName"));
        return pods;
    }

    /// <summary>Adds (once) the index of objects that have no controller owner reference, by namespace (candidates for adoption).</summary>
    public static Informer IndexOrphans(this Informer informer)
    {
        informer.AddIndex(OrphanIndex, o => Of(o).ControllerUid is null ? Json.Namespace(o) ?? "" : null);
        return informer;
    }

    /// <summary>Not terminating and not finished: counts toward a ReplicaSet's replicas.</summary>
    public static bool IsActive(JsonObject pod) =>
        !Json.Has(pod, "metadata", "deletionTimestamp") && Json.Str(pod, "status", "phase") is not ("Succeeded" or "Failed");

    /// <summary>Whether the pod's Ready condition is True.</summary>
    public static bool IsReady(JsonObject pod) =>
        Json.Items(pod, "status", "conditions").Any(c => Json.Str(c, "type") == "Ready" && Json.Str(c, "status") == "True");

    /// <summary>Ready for at least <paramref name="minReadySeconds"/>.</summary>
    public static bool IsAvailable(JsonObject pod, long minReadySeconds, DateTimeOffset now)
    {
        var ready = Json.Items(pod, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready" && Json.Str(c, "status") == "True");
        if (ready is null)
        {
            return false;
        }

        return minReadySeconds == 0 || (Json.ParseTime(Json.Str(ready, "lastTransitionTime")) is { } t && t.AddSeconds(minReadySeconds) <= now);
    }

    /// <summary>The owner reference with controller: true, or null.</summary>
    public static JsonObject? ControllerOf(JsonObject obj) =>
        Json.ReadItems(obj, "metadata", "ownerReferences").FirstOrDefault(r => Json.Bool(r, "controller") == true);

    /// <summary>An owner reference to <paramref name="owner"/> marking it as the controller.</summary>
    public static JsonObject ControllerReference(JsonObject owner) => new()
    {
        ["apiVersion"] = Json.Str(owner, "apiVersion"),
        ["kind"] = Json.Str(owner, "kind"),
        ["name"] = Json.Name(owner),
        ["uid"] = Json.Uid(owner),
        ["controller"] = true,
        ["blockOwnerDeletion"] = true,
    };

    /// <summary>Makes <paramref name="owner"/> the controller of <paramref name="obj"/> (adoption); false when it already has one.</summary>
    public static bool TakeOwnership(JsonObject obj, JsonObject owner)
    {
        if (ControllerOf(obj) is not null)
        {
            return false;
        }

        var meta = Json.Obj(obj, "metadata");
        if (meta["ownerReferences"] is not JsonArray refs)
        {
            refs = [];
            meta["ownerReferences"] = refs;
        }

        refs.Add((JsonNode)ControllerReference(owner));
        return true;
    }

    /// <summary>
    /// What controllers read off an object: kept with the stored revision for the views an informer hands its change
    /// handlers (see <see cref="Of(StoredObject)"/>), read afresh (off the parsed JSON, building no nodes) for any other.
    /// </summary>
    internal static Facts Of(JsonObject obj) => Informer.StoredOf(obj) is { } stored ? Of(stored) : new Facts(obj);

    /// <summary>
    /// The facts of a stored object, read straight off its shared parse (no nodes built) and kept with it: every
    /// controller that looks at this revision gets the same facts.
    /// </summary>
    internal static Facts Of(StoredObject stored) =>
        stored.Derived as Facts ?? (Facts)(stored.Derived = new Facts(ObjectApi.View(stored), stored));

    /// <summary>See <see cref="Of(JsonObject)"/>.</summary>
    internal sealed class Facts
    {
        private readonly JsonObject? obj; // null when read off a stored object: it would keep the object's parse alive
        private readonly StoredObject? stored;
        private readonly string? readyTransition;
        private IReadOnlyDictionary<string, string>? labels;
        private DateTimeOffset? readySince;
        private bool readySinceRead;

        /// <summary>Reads the facts off <paramref name="obj"/> (a view reads them off its parsed JSON, building no nodes).</summary>
        /// <param name="obj">The object (kept for its labels, when it is not <paramref name="stored"/>'s view).</param>
        /// <param name="stored">The revision the facts are kept with, when they are: <see cref="Object"/> is then a fresh view of it.</param>
        public Facts(JsonObject obj, StoredObject? stored = null)
        {
            this.obj = stored is null ? obj : null;
            this.stored = stored;

            // metadata and status looked up once, each field then read inside them; the owner references walked once
            var meta = Json.Read(obj, "metadata");
            var owners = new List<(string Uid, string? Kind, string? Name)>(1);
            bool controlled = false;
            foreach (var r in Json.ReadItems(meta, "ownerReferences"))
            {
                string? uid = Json.Str(r, "uid");
                var (kind, name) = (Json.Str(r, "kind"), Json.Str(r, "name"));
                owners.Add((uid ?? "", kind, name));
                if (!controlled && Json.Bool(r, "controller") == true)
                {
                    (ControllerUid, ControllerKind, ControllerName, controlled) = (uid, kind, name, true);
                }
            }

            Owners = [.. owners];
            Deleting = Json.Has(meta, "deletionTimestamp");
            var status = Json.Read(obj, "status");
            Phase = Json.Str(status, "phase");
            NodeName = Json.Str(obj, "spec", "nodeName");
            Active = !Deleting && Phase is not ("Succeeded" or "Failed");
            var ready = Json.ReadItems(status, "conditions").FirstOrDefault(c => Json.Str(c, "type") == "Ready" && Json.Str(c, "status") == "True");
            Ready = ready is not null;
            readyTransition = Json.Str(ready, "lastTransitionTime");
        }

        /// <summary>The object (a fresh view when the facts were read off a stored one).</summary>
        public JsonObject Object => stored is null ? obj! : ObjectApi.View(stored);

        /// <summary>Every owner reference: (uid, kind, name).</summary>
        public (string Uid, string? Kind, string? Name)[] Owners { get; }

        public string? ControllerUid { get; }

        public string? ControllerKind { get; }

        public string? ControllerName { get; }

        public IReadOnlyDictionary<string, string> Labels => labels ??= Json.Labels(Object);

        public bool Deleting { get; }

        public string? Phase { get; }

        public string? NodeName { get; }

        public bool Active { get; }

        public bool Ready { get; }

        public DateTimeOffset? ReadySince
        {
            get
            {
                if (!readySinceRead)
                {
                    readySince = Json.ParseTime(readyTransition);
                    readySinceRead = true;
                }

                return readySince;
            }
        }

        /// <summary>Ready for at least <paramref name="minReadySeconds"/> (as <see cref="IsAvailable"/>).</summary>
        public bool Available(long minReadySeconds, DateTimeOffset now) =>
            Ready && (minReadySeconds == 0 || (ReadySince is { } t && t.AddSeconds(minReadySeconds) <= now));
    }

    /// <summary>"ns/name".</summary>
    public static string Key(JsonObject obj) => $"{Json.Namespace(obj)}/{Json.Name(obj)}";

    /// <summary>Splits "ns/name".</summary>
    public static (string Ns, string Name) Split(string key)
    {
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        return (key[..slash], key[(slash + 1)..]);
    }

    /// <summary>Sets (or replaces) a condition, keeping lastTransitionTime when the status did not change.</summary>
    public static void SetCondition(JsonObject status, string type, string value, string? reason, string? message, DateTimeOffset now, bool probeTimes = false)
    {
        // only what differs is set: a condition that stays as it was is read off its parsed JSON, not built
        if (status["conditions"] is not JsonArray conditions)
        {
            status["conditions"] = conditions = [];
        }

        JsonObject? existing = null;
        foreach (var c in conditions)
        {
            if (c is JsonObject o && Json.Str(o, "type") == type)
            {
                existing = o;
                break;
            }
        }

        string time = Json.Time(now);
        if (existing is null)
        {
            existing = new JsonObject { ["type"] = type };
            conditions.Add((JsonNode)existing);
        }

        string? was = Json.Str(existing, "status");
        if (was != value)
        {
            existing["lastTransitionTime"] = time;
            existing["status"] = value;
        }

        if (probeTimes && !Json.HasNull(existing, "lastProbeTime"))
        {
            existing["lastProbeTime"] = null;
        }

        if (type is "Progressing" or "Available" && (Json.Str(existing, "reason") != reason || was != value || existing["lastUpdateTime"] is null))
        {
            existing["lastUpdateTime"] = time;
        }

        Set("reason", reason);
        Set("message", message);

        void Set(string name, string? text)
        {
            if (text is null)
            {
                if (Json.Has(existing, name) || Json.HasNull(existing, name))
                {
                    existing.Remove(name);
                }
            }
            else if (Json.Str(existing, name) != text)
            {
                existing[name] = text;
            }
        }
    }
}
