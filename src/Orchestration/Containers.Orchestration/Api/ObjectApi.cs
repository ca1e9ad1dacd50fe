using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Containers.Orchestration.Api.Kinds;
using Containers.Orchestration.Storage;

namespace Containers.Orchestration.Api;

/// <summary>Options of a delete (Kubernetes' DeleteOptions).</summary>
/// <param name="GracePeriodSeconds">Overrides the pod's terminationGracePeriodSeconds (0 = now).</param>
/// <param name="PropagationPolicy">Background (default), Foreground or Orphan.</param>
/// <param name="ExpectedUid">Preconditions.uid.</param>
/// <param name="DryRun">Validate only.</param>
/// <param name="ExpectedResourceVersion">Preconditions.resourceVersion.</param>
public sealed record DeleteOptions(long? GracePeriodSeconds = null, string? PropagationPolicy = null, string? ExpectedUid = null, bool DryRun = false, string? ExpectedResourceVersion = null);

/// <summary>
/// The API server's semantics over an <see cref="IObjectStore"/>, for the HTTP front and for the controllers in
/// process alike: uid, creationTimestamp, generation, resourceVersion with optimistic concurrency (409), defaults and
/// validation (422 naming the field), status and scale subresources, patches, finalizers and graceful deletion,
/// ownerReference-based orphaning, cluster IP and node port allocation, events.
/// </summary>
public sealed class ObjectApi
{
    private readonly IObjectStore store;

    /// <summary>The store under this API (the service allocators' shared reservations live there too).</summary>
    internal IObjectStore Store => store;
    private readonly Lock allocation = new();
    private readonly EventRecorder events;
    private readonly UpdateMerge updates;
    private readonly StoreWriter writer;

    // a view's checks: who calls, who decides, and the unrestricted API the allowed calls go to (all null on the root)
    private readonly KubeUser? caller;
    private readonly Authorizer? authorizer;
    private readonly ObjectApi? root;

    /// <summary>Creates the API over <paramref name="store"/>; creates the built-in namespaces when missing.</summary>
    public ObjectApi(IObjectStore store, TimeProvider? time = null, string serviceCidr = "10.96.0.0/16", long defaultTolerationSeconds = 300, long? defaultUnreachableTolerationSeconds = null)
    {
        this.store = store;
        Time = time ?? TimeProvider.System;
        DefaultTolerationSeconds = defaultTolerationSeconds;
        DefaultUnreachableTolerationSeconds = defaultUnreachableTolerationSeconds ?? defaultTolerationSeconds;
        ServiceAddresses = new ServiceAddressAllocator(this, serviceCidr);
        events = new EventRecorder(store, this);
        updates = new UpdateMerge(this, allocation);
        writer = new StoreWriter(store);
        foreach (string ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            if (TryGet(ResourceType.Namespaces, null, ns) is null)
            {
                try
                {
                    Create(ResourceType.Namespaces, null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } });
                }
                catch (ApiException e) when (e.Code == 409)
                {
                    // another API server on the same store made it first
                }
            }
        }
    }

    private ObjectApi(ObjectApi root, KubeUser caller, Authorizer authorizer)
    {
        store = root.store;
        allocation = root.allocation;
        events = root.events;
        updates = root.updates;
        writer = root.writer;
        Time = root.Time;
        DefaultTolerationSeconds = root.DefaultTolerationSeconds;
        DefaultUnreachableTolerationSeconds = root.DefaultUnreachableTolerationSeconds;
        ServiceAddresses = root.ServiceAddresses;
        Metrics = root.Metrics;
        this.root = root;
        this.caller = caller;
        this.authorizer = authorizer;
    }

    /// <summary>
    /// This API as <paramref name="user"/>: every call is first authorized by <paramref name="authorizer"/>, as a
    /// request of that user to kube-apiserver would be, and a denied one throws 403 Forbidden with Kubernetes' message.
    /// The controllers, the scheduler, the service proxy and the node agents of this process act through such views, as
    /// their own identities (system:serviceaccount:kube-system:replicaset-controller, system:kube-scheduler,
    /// system:node:NAME), so that the roles bound to them are what they may do.
    /// </summary>
    public ObjectApi As(KubeUser user, Authorizer authorizer)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(authorizer);
        return new ObjectApi(root ?? this, user, authorizer);
    }

    /// <summary>The pods' and nodes' resource metrics the node agents publish (metrics-server's store).</summary>
    public ResourceMetrics Metrics { get; } = new();

    /// <summary>The API with no checks (this one when it is not a view): for a caller that authorized a read itself.</summary>
    internal ObjectApi Unchecked => root ?? this;

    /// <summary>Throws 403 when this view's caller may not <paramref name="verb"/> the object or collection.</summary>
    private void Check(string verb, ResourceType type, string? ns, string name = "", string? subresource = null)
    {
        var a = RequestAttributes.ForResource(caller!, verb, type, type.Namespaced ? ns : null, name, subresource ?? "");
        var (allowed, reason) = authorizer!.Authorize(a);
        if (!allowed)
        {
            throw Authorizer.Forbidden(a, reason);
        }
    }

    /// <summary>How long pods tolerate a not-ready node before eviction (kube-apiserver's --default-not-ready-toleration-seconds).</summary>
    public long DefaultTolerationSeconds { get; }

    /// <summary>How long pods tolerate an unreachable node before eviction (kube-apiserver's --default-unreachable-toleration-seconds).</summary>
    public long DefaultUnreachableTolerationSeconds { get; }

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>The range cluster IPs come from.</summary>
    public (IPAddress Network, int PrefixLength) ServiceNetwork => ServiceAddresses.Network;

    /// <summary>The allocator of Services' cluster IPs and node ports.</summary>
    internal ServiceAddressAllocator ServiceAddresses { get; }

    /// <summary>The store's current revision.</summary>
    public long Revision => store.Revision;

    /// <summary>The first address of the service range (the kubernetes Service's address in Kubernetes; here the cluster DNS).</summary>
    public IPAddress DnsAddress => ServiceAddressAllocator.Offset(ServiceNetwork.Network, 10);

    /// <summary>
    /// Creates an object (name from generateName when empty). With <paramref name="fieldManager"/> its fields are
    /// recorded in managedFields as that manager's (operation Update), as kube-apiserver records a client's create.
    /// </summary>
    public JsonObject Create(ResourceType type, string? ns, JsonObject obj, bool dryRun = false, string? fieldManager = null) => CreateOwned(type, ns, Json.Clone(obj), dryRun, fieldManager);

    /// <summary>Creates an object the caller made for this call and hands over (it is changed and returned, not copied).</summary>
    internal JsonObject CreateOwned(ResourceType type, string? ns, JsonObject obj, bool dryRun = false, string? fieldManager = null, JsonArray? managedFields = null)
    {
        using var simulated = ServiceAddressAllocator.Simulating(dryRun); // a dry run reserves no address for other API servers
        if (root is not null)
        {
            Check("create", type, ns ?? Json.Namespace(obj) ?? "default");
            return root.CreateOwned(type, ns, obj, dryRun, fieldManager, managedFields);
        }

        obj["apiVersion"] = type.ApiVersion;
        obj["kind"] = type.Kind;
        var meta = Json.Obj(obj, "metadata");
        ns = Scope(type, ns, meta);
        string? generated = null;
        if (string.IsNullOrEmpty(Json.Str(meta, "name")) && Json.Str(meta, "generateName") is { Length: > 0 } prefix)
        {
            generated = prefix;
            meta["name"] = prefix + ObjectIds.RandomSuffix();
        }

        meta["uid"] = ObjectIds.NewUid();
        meta["creationTimestamp"] = Json.Time(Time.GetUtcNow());
        meta.Remove("resourceVersion");
        meta.Remove("deletionTimestamp");
        meta.Remove("deletionGracePeriodSeconds");
        meta.Remove("managedFields");
        var strategy = type.Strategy;
        if (type.HasGeneration)
        {
            meta["generation"] = 1;
        }

        if (type.HasStatus && !strategy.KeepsStatusOnCreate)
        {
            obj.Remove("status");
        }

        Admission.Default(type, obj, this);
        if (strategy.InitialStatus(obj) is { } status)
        {
            obj["status"] = status;
        }

        Admission.Validate(type, obj, null);
        if (managedFields is not null)
        {
            meta["managedFields"] = managedFields; // a server-side apply's
        }
        else if (fieldManager is not null)
        {
            FieldManager.Validate(fieldManager, required: false);
            FieldManager.RecordUpdate(null, obj, fieldManager, type.ApiVersion, Time.GetUtcNow());
        }

        if (ns is not null && strategy.RequiresLiveNamespace)
        {
            NamespaceStrategy.RequireLive(this, type, ns, Json.Name(obj));
        }

        if (strategy.Allocates)
        {
            lock (allocation)
            {
                strategy.Allocate(this, obj, null);
                return dryRun ? obj : Insert(type, ns, obj, generated);
            }
        }

        return dryRun ? obj : Insert(type, ns, obj, generated);
    }

    /// <summary>Stores a new object; a name made from generateName that is taken is made again (up to 8 tries, as kube-apiserver).</summary>
    private JsonObject Insert(ResourceType type, string? ns, JsonObject obj, string? generateName)
    {
        for (int attempt = 1; ; attempt++)
        {
            var key = new ObjectKey(type.StoreName, ns, Json.Name(obj));
            try
            {
                var created = store.Create(key, Json.Serialized(obj));
                return store.Forwards ? View(created) : WithRevision(obj, created);
            }
            catch (StoreConflictException)
            {
                if (generateName is null || attempt == 8)
                {
                    throw ApiException.AlreadyExists(type, key.Name);
                }

                Json.Obj(obj, "metadata")["name"] = generateName + ObjectIds.RandomSuffix();
            }
        }
    }

    /// <summary>The object, or 404.</summary>
    public JsonObject Get(ResourceType type, string? ns, string name) =>
        TryGet(type, ns, name) ?? throw ApiException.NotFound(type, name);

    /// <summary>The object, or null.</summary>
    public JsonObject? TryGet(ResourceType type, string? ns, string name)
    {
        if (root is not null)
        {
            Check("get", type, ns ?? "default", name);
        }

        return store.Get(new ObjectKey(type.StoreName, type.Namespaced ? ns ?? "default" : null, name)) is { } stored ? View(stored) : null;
    }

    /// <summary>What changes whenever an object of <paramref name="type"/> is created, changed or removed (the store's revision of its last write there).</summary>
    internal long ResourceRevision(ResourceType type) => store.ResourceRevision(type.StoreName);

    /// <summary>The object as stored (a view: see <see cref="View"/>), or null when absent.</summary>
    internal JsonObject? Peek(ResourceType type, string? ns, string name)
    {
        if (root is not null)
        {
            Check("get", type, ns ?? "default", name);
        }

        return store.Get(new ObjectKey(type.StoreName, type.Namespaced ? ns ?? "default" : null, name)) is { } stored ? View(stored) : null;
    }

    /// <summary>The objects of a kind (in <paramref name="ns"/>, or everywhere when null) that match the selectors, and the revision of the list.</summary>
    public (List<JsonObject> Items, long Revision) List(ResourceType type, string? ns = null, LabelSelector? labels = null, FieldSelector? fields = null)
    {
        if (root is not null)
        {
            Check("list", type, ns);
        }

        var (items, revision) = store.List(type.StoreName, type.Namespaced ? ns : null);
        var result = new List<JsonObject>(items.Count);
        foreach (var item in items)
        {
            var obj = View(item);
            if ((labels is null || labels.Matches(obj)) && (fields is null || fields.IsEmpty || fields.Matches(obj)))
            {
                result.Add(obj);
            }
        }

        return (result, revision);
    }

    /// <summary>
    /// Replaces an object (PUT). Through the main resource the status is kept; through <c>status</c> only the status
    /// changes. A resourceVersion in the body must be current (409 otherwise).
    /// </summary>
    public JsonObject Update(ResourceType type, string? ns, string name, JsonObject obj, string? subresource = null, bool dryRun = false, string? fieldManager = null)
    {
        using var simulated = ServiceAddressAllocator.Simulating(dryRun); // a dry run reserves no address for other API servers
        if (root is not null)
        {
            Check("update", type, ns ?? "default", name, subresource);
            return root.Update(type, ns, name, obj, subresource, dryRun, fieldManager);
        }

        var current = Get(type, ns, name);
        if (Json.Name(obj) is { Length: > 0 } bodyName && bodyName != name)
        {
            throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        }

        long? expected = long.TryParse(Json.Str(obj, "metadata", "resourceVersion"), out long rv) ? rv : null;
        if (expected is { } e && e != Rev(current))
        {
            throw ApiException.Conflict(type, name);
        }

        return writer.Write(type, current, Managed(type, current, updates.Merge(type, current, Json.Clone(obj), subresource), subresource, fieldManager), expected ?? Rev(current), dryRun);
    }

    /// <summary>The object to store with the manager's changes recorded in its managedFields (main resource writes with a manager only).</summary>
    private JsonObject Managed(ResourceType type, JsonObject current, JsonObject merged, string? subresource, string? fieldManager)
    {
        if (fieldManager is not null && subresource is null)
        {
            FieldManager.Validate(fieldManager, required: false);
            FieldManager.RecordUpdate(current, merged, fieldManager, type.ApiVersion, Time.GetUtcNow());
        }

        return merged;
    }

    /// <summary>
    /// Server-side apply (PATCH application/apply-patch+yaml): merges <paramref name="configuration"/> into the object
    /// as <paramref name="fieldManager"/>'s (creating it when it does not exist), removes what the manager applied
    /// before and no longer applies, and records field ownership in managedFields. Fields another manager owns with
    /// another value are a 409 naming them and their managers, unless <paramref name="force"/> takes them over.
    /// </summary>
    public JsonObject Apply(ResourceType type, string? ns, string name, JsonObject configuration, string fieldManager, bool force = false, bool dryRun = false)
    {
        using var simulated = ServiceAddressAllocator.Simulating(dryRun); // a dry run reserves no address for other API servers
        FieldManager.Validate(fieldManager, required: true);
        if (root is not null)
        {
            Check("patch", type, ns ?? "default", name);
            if (root.TryGet(type, ns, name) is null)
            {
                Check("create", type, ns ?? "default", name);
            }

            return root.Apply(type, ns, name, configuration, fieldManager, force, dryRun);
        }

        if (Json.Name(configuration) is { Length: > 0 } bodyName && bodyName != name)
        {
            throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        }

        if ((Json.Str(configuration, "apiVersion") is { } av && av != type.ApiVersion) || (Json.Str(configuration, "kind") is { } kind && kind != type.Kind))
        {
            throw ApiException.BadRequest($"the apply configuration is a {Json.Str(configuration, "kind")} of {Json.Str(configuration, "apiVersion")}, not a {type.Kind} of {type.ApiVersion}");
        }

        for (int attempt = 0; ; attempt++)
        {
            var current = TryGet(type, ns, name);
            if (current is null)
            {
                var created = FieldManager.Apply(null, configuration, fieldManager, force, type.ApiVersion, Time.GetUtcNow());
                Json.Obj(created, "metadata")["name"] = name;
                var fields = Json.At(created, "metadata", "managedFields") as JsonArray;
                Json.Obj(created, "metadata").Remove("managedFields");
                try
                {
                    return CreateOwned(type, ns, created, dryRun, managedFields: (JsonArray?)fields?.DeepClone());
                }
                catch (ApiException e) when (e.Reason == "AlreadyExists" && attempt < 10)
                {
                    continue;
                }
            }

            var applied = FieldManager.Apply(current, configuration, fieldManager, force, type.ApiVersion, Time.GetUtcNow());
            Json.Obj(applied, "metadata")["resourceVersion"] = Json.Str(current, "metadata", "resourceVersion");
            try
            {
                return writer.Write(type, current, updates.Merge(type, current, applied, null), Rev(current), dryRun);
            }
            catch (ApiException e) when (e.Reason == "Conflict" && e.Details?["causes"] is null && attempt < 10)
            {
            }
        }
    }

    /// <summary>Applies a patch (JSON merge, strategic merge or JSON patch) to the current object, retrying when it changed meanwhile.</summary>
    /// <param name="type">The kind.</param>
    /// <param name="ns">The namespace (null for cluster-scoped kinds).</param>
    /// <param name="name">The object's name.</param>
    /// <param name="contentType">The patch's media type (merge, strategic merge or JSON patch).</param>
    /// <param name="patch">The patch.</param>
    /// <param name="subresource">"status" or "scale" for those subresources.</param>
    /// <param name="dryRun">Write nothing.</param>
    /// <param name="fields">How fields the kind does not have in the patched object are treated (null: not checked).</param>
    /// <param name="warnings">Receives the unknown fields dropped under <see cref="FieldValidation.Warn"/>.</param>
    /// <param name="fieldManager">Who patches: the fields the patch changes are recorded as its own in managedFields (none when null).</param>
    public JsonObject Patch(ResourceType type, string? ns, string name, string contentType, byte[] patch, string? subresource = null, bool dryRun = false, FieldValidation? fields = null, ICollection<string>? warnings = null, string? fieldManager = null)
    {
        using var simulated = ServiceAddressAllocator.Simulating(dryRun); // a dry run reserves no address for other API servers
        if (root is not null)
        {
            Check("patch", type, ns ?? "default", name, subresource);
            return root.Patch(type, ns, name, contentType, patch, subresource, dryRun, fields, warnings, fieldManager);
        }

        for (int attempt = 0; ; attempt++)
        {
            var current = Get(type, ns, name);
            var patched = Patches.Apply(current, contentType, patch);
            if (fields is { } mode && subresource != "scale")
            {
                foreach (var unknown in FieldSchema.Enforce(type, patched, mode))
                {
                    if (warnings?.Contains(unknown) == false)
                    {
                        warnings.Add(unknown);
                    }
                }
            }

            if (Json.Str(patched, "metadata", "resourceVersion") is { } prv && prv != Json.Str(current, "metadata", "resourceVersion"))
            {
                throw ApiException.Conflict(type, name);
            }

            if (subresource == "scale")
            {
                patched = ScaleSubresource.ToObject(current, patched);
                subresource = null;
            }

            try
            {
                return writer.Write(type, current, Managed(type, current, updates.Merge(type, current, patched, subresource), subresource, fieldManager), Rev(current), dryRun);
            }
            catch (ApiException e) when (e.Reason == "Conflict" && attempt < 10)
            {
            }
        }
    }

    /// <summary>Reads, changes and writes an object until the write wins (controllers' read-modify-write). <paramref name="change"/> returns false to write nothing.</summary>
    /// <param name="type">The kind.</param>
    /// <param name="ns">The namespace (null for cluster-scoped kinds).</param>
    /// <param name="name">The object's name.</param>
    /// <param name="change">Changes the caller's copy; false to write nothing.</param>
    /// <param name="subresource">"status" writes only the status, "binding" only a pod's node.</param>
    /// <param name="asPatch">Authorized as a patch rather than an update (how Kubernetes' controllers adopt and release dependents).</param>
    public JsonObject? Mutate(ResourceType type, string? ns, string name, Func<JsonObject, bool> change, string? subresource = null, bool asPatch = false)
    {
        if (root is not null)
        {
            // a binding is created (POST pods/NAME/binding), everything else replaced (PUT) or patched
            Check(subresource == "binding" ? "create" : asPatch ? "patch" : "update", type, ns ?? "default", name, subresource);
            return root.Mutate(type, ns, name, change, subresource);
        }

        var key = new ObjectKey(type.StoreName, type.Namespaced ? ns ?? "default" : null, name);
        for (int attempt = 0; ; attempt++)
        {
            if (store.Get(key) is not { } stored)
            {
                return null;
            }

            // the caller's own copy: a view, so only what the change touches is built as nodes
            var copy = View(stored);
            if (!change(copy))
            {
                return View(stored);
            }

            try
            {
                var current = View(stored);
                if (subresource == "status" || (subresource == "binding" && type.Strategy.HasBinding))
                {
                    return writer.Write(type, current, UpdateMerge.KeepAllBut(type, stored, copy, subresource), stored.Revision, false, changed: subresource, currentStored: stored);
                }

                return writer.Write(type, current, updates.Merge(type, current, copy, subresource), stored.Revision, false);
            }
            catch (ApiException e) when (e.Reason == "Conflict" && attempt < 20)
            {
            }
        }
    }

    /// <summary>
    /// Evicts a pod (POST pods/eviction): deleted as <paramref name="options"/> say unless a PodDisruptionBudget over
    /// it allows no disruption now (429 TooManyRequests, as kube-apiserver answers: <c>kubectl drain</c> retries).
    /// </summary>
    public void Evict(string ns, string name, DeleteOptions? options = null)
    {
        if (root is not null)
        {
            Check("create", ResourceType.Pods, ns, name, "eviction");
            root.Evict(ns, name, options);
            return;
        }

        Eviction.Evict(this, ns, name, options);
    }

    /// <summary>The scale subresource of a kind with one (autoscaling/v1 Scale).</summary>
    public JsonObject GetScale(ResourceType type, string? ns, string name)
    {
        if (root is not null)
        {
            Check("get", type, ns ?? "default", name, "scale");
            return root.GetScale(type, ns, name);
        }

        return ScaleSubresource.Of(type, ns, name, Get(type, ns, name));
    }

    /// <summary>Writes a Scale (PUT on the scale subresource): spec.replicas of the object, 409 when the Scale's resourceVersion is not current.</summary>
    public JsonObject UpdateScale(ResourceType type, string? ns, string name, JsonObject scale)
    {
        if (root is not null)
        {
            Check("update", type, ns ?? "default", name, "scale");
            return root.UpdateScale(type, ns, name, scale);
        }

        long replicas = Json.Int(scale, "spec", "replicas") ?? throw ApiException.Invalid(type, name, [("spec.replicas", "Required value")]);
        string? rv = Json.Str(scale, "metadata", "resourceVersion");
        var current = Get(type, ns, name);
        if (rv is { Length: > 0 } && rv != Json.Str(current, "metadata", "resourceVersion"))
        {
            throw ApiException.Conflict(type, name);
        }

        var copy = Json.Clone(current);
        Json.Obj(copy, "spec")["replicas"] = replicas;
        writer.Write(type, current, updates.Merge(type, current, copy, null), Rev(current), false);
        return GetScale(type, ns, name);
    }

    /// <summary>
    /// Deletes an object. With finalizers (or a pod still running on a node) it is only marked (deletionTimestamp) and
    /// goes when they are done; Orphan takes the owner reference off its dependents first. Returns the object's last
    /// state, and whether it is gone.
    /// </summary>
    public (JsonObject Object, bool Gone) Delete(ResourceType type, string? ns, string name, DeleteOptions? options = null)
    {
        if (root is not null)
        {
            Check("delete", type, ns ?? "default", name);
            return root.Delete(type, ns, name, options);
        }

        options ??= new();
        for (int attempt = 0; ; attempt++)
        {
            var current = Get(type, ns, name);
            if ((options.ExpectedUid is { } uid && uid != Json.Uid(current)) || (options.ExpectedResourceVersion is { } rv && rv != Json.Str(current, "metadata", "resourceVersion")))
            {
                throw ApiException.Conflict(type, name);
            }

            if (options.DryRun)
            {
                return (current, false);
            }

            var copy = Json.Clone(current);
            var meta = Json.Obj(copy, "metadata");
            bool marked = meta["deletionTimestamp"] is not null;
            var finalizers = (meta["finalizers"] as JsonArray)?.Select(f => f?.GetValue<string>()).ToList() ?? [];
            var mode = type.Strategy.OnDelete(copy, meta, options, Time.GetUtcNow());
            if (mode == DeleteMode.Unchanged)
            {
                return (current, false);
            }

            bool graceful = mode == DeleteMode.Graceful;
            if (options.PropagationPolicy == "Orphan")
            {
                Controllers.GarbageCollector.Orphan(this, type, ns, Json.Uid(current));
            }
            else if (options.PropagationPolicy == "Foreground" && !finalizers.Contains("foregroundDeletion"))
            {
                finalizers.Add("foregroundDeletion");
                meta["finalizers"] = new JsonArray([.. finalizers.Select(f => (JsonNode?)f)]);
            }

            if (finalizers.Count > 0 || graceful)
            {
                if (!marked || graceful)
                {
                    meta["deletionTimestamp"] ??= Json.Time(Time.GetUtcNow());
                    meta["deletionGracePeriodSeconds"] ??= 0;
                    try
                    {
                        return (View(store.Update(Key(type, current), Json.Serialized(copy), Rev(current))), false);
                    }
                    catch (StoreConflictException) when (attempt < 10)
                    {
                        continue;
                    }
                }

                return (current, false);
            }

            try
            {
                var last = store.Delete(Key(type, current), Rev(current));
                return (View(last), true);
            }
            catch (StoreConflictException) when (attempt < 10)
            {
            }
            catch (StoreNotFoundException)
            {
                throw ApiException.NotFound(type, name);
            }
        }
    }

    /// <summary>Removes an object as stored, whatever its finalizers say (a controller's last step: a namespace whose contents are gone).</summary>
    internal void Remove(ResourceType type, string? ns, string name)
    {
        if (root is not null)
        {
            // the namespace controller's last step: kube's is an update of namespaces/finalize that empties spec.finalizers
            Check(type == ResourceType.Namespaces ? "update" : "delete", type, ns, name, type == ResourceType.Namespaces ? "finalize" : null);
        }

        if (store.Get(new ObjectKey(type.StoreName, type.Namespaced ? ns : null, name)) is { } stored)
        {
            store.Delete(stored.Key, stored.Revision);
        }
    }

    /// <summary>
    /// The changes to a kind after <paramref name="fromRevision"/>, then live ones (410 Gone when that revision is no
    /// longer kept). The objects are shared with every other watcher (parsed once per write): copy one before changing it.
    /// </summary>
    public async IAsyncEnumerable<(WatchEventType Type, JsonObject Object)> WatchAsync(ResourceType type, string? ns, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (root is not null)
        {
            Check("watch", type, ns);
        }

        IAsyncEnumerable<WatchEvent> events;
        try
        {
            events = store.WatchAsync(type.StoreName, type.Namespaced ? ns : null, fromRevision, cancellationToken);
        }
        catch (StoreGoneException e)
        {
            throw new ApiException(410, "Expired", e.Message);
        }

        await foreach (var e in events.ConfigureAwait(false))
        {
            yield return (e.Type, View(e.Object));
        }
    }

    /// <summary>Like <see cref="WatchAsync"/>, but the changes as stored (for caches that keep them and hand out <see cref="View"/>s).</summary>
    internal async IAsyncEnumerable<WatchEvent> WatchStoredAsync(ResourceType type, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (root is not null)
        {
            Check("watch", type, null);
        }

        var events = store.WatchAsync(type.StoreName, null, fromRevision, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (events.ConfigureAwait(false))
        {
            while (true)
            {
                try
                {
                    if (!await events.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }
                }
                catch (StoreGoneException e)
                {
                    throw new ApiException(410, "Expired", e.Message);
                }

                yield return events.Current;
            }
        }
    }

    /// <summary>Every object of a kind as stored, and the revision of the list.</summary>
    internal (IReadOnlyList<StoredObject> Items, long Revision) ListStored(ResourceType type)
    {
        if (root is not null)
        {
            Check("list", type, null);
        }

        return store.List(type.StoreName);
    }

    /// <summary>
    /// Records an Event about <paramref name="involved"/> (repeats of the same reason and message bump count and
    /// lastTimestamp). As client-go's event broadcaster, the write happens in the background, in order: callers (the
    /// kubelet's sync, the scheduler) do not wait for it; <see cref="FlushEventsAsync"/> waits for what is queued.
    /// </summary>
    public void RecordEvent(JsonObject involved, string type, string reason, string message, string component, string? host = null)
    {
        if (root is not null)
        {
            Check("create", ResourceType.Events, Json.Namespace(involved) ?? "default");
        }

        events.Record(involved, type, reason, message, component, host);
    }

    /// <summary>Deletes the events last written more than <paramref name="ttl"/> ago (kube-apiserver's --event-ttl); returns how many went.</summary>
    public int ExpireEvents(TimeSpan ttl) => events.Expire(ttl);

    /// <summary>Waits until every event recorded so far is written.</summary>
    public Task FlushEventsAsync(CancellationToken cancellationToken = default) => events.FlushAsync(cancellationToken);

    /// <summary>A random (version 4) UUID, as Kubernetes gives every object (see <see cref="ObjectIds.NewUid"/>).</summary>
    internal static string NewUid() => ObjectIds.NewUid();

    private static string? Scope(ResourceType type, string? ns, JsonObject meta)
    {
        if (!type.Namespaced)
        {
            meta.Remove("namespace");
            return null;
        }

        string? bodyNs = Json.Str(meta, "namespace");
        ns ??= bodyNs ?? "default";
        if (bodyNs is not null && bodyNs != ns)
        {
            throw ApiException.BadRequest($"the namespace of the provided object ({bodyNs}) does not match the namespace sent on the request ({ns})");
        }

        meta["namespace"] = ns;
        return ns;
    }

    private static long Rev(JsonObject obj) => long.Parse(Json.Str(obj, "metadata", "resourceVersion") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    internal static ObjectKey Key(ResourceType type, JsonObject obj) => new(type.StoreName, type.Namespaced ? Json.Namespace(obj) : null, Json.Name(obj));

    /// <summary>
    /// A view of the stored object for readers that do not change it: a fresh <see cref="JsonObject"/> over the parse
    /// every reader of this revision shares (made once, see <see cref="StoredObject.Parsed"/>). Nodes are built only
    /// where the reader looks, and belong to this view, so the cost of what one reader looks at is garbage as soon as it
    /// is done: a cache of 10,000 pods holds their parsed JSON, not 10,000 trees of nodes. A view is also a private,
    /// copy-on-write copy: changing it changes nothing stored or shared, so the API hands views out as the callers'
    /// own copies (<see cref="Get"/>, <see cref="Mutate"/>) at the cost of what they touch, not a parse or a clone.
    /// </summary>
    internal static JsonObject View(StoredObject stored) => JsonObject.Create(stored.Parsed(ParsedJson.Of).Root)!;

    /// <summary>Sets the stored revision as resourceVersion on the object just written (the caller's own copy: no parse).</summary>
    internal static JsonObject WithRevision(JsonObject written, StoredObject stored)
    {
        Json.Obj(written, "metadata")["resourceVersion"] = stored.Revision.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return written;
    }
}
