namespace Containers.Orchestration.Controllers;

/// <summary>
/// What a controller reconciles and what wakes it, declared once in its constructor, as controller-runtime's builder
/// (<c>For</c>, <c>Owns</c>, <c>Watches</c>): the builder holds its work queue and wires the shared informers to it;
/// the <see cref="ControllerManager"/> runs its workers once the caches are filled.
/// </summary>
internal sealed class ControllerBuilder
{
    private readonly InformerSet informers;
    private readonly Func<string, ObjectApi> identities;

    /// <summary>
    /// A builder for the controller <paramref name="name"/> over <paramref name="api"/> (the controller's identity)
    /// and the shared informers; <paramref name="identities"/> gives the API as another of the controller manager's
    /// service accounts (a controller doing the work of two of Kubernetes' controllers acts as each for its part).
    /// </summary>
    public ControllerBuilder(ObjectApi api, InformerSet informers, string name, int workers, Func<string, ObjectApi>? identities = null)
    {
        Api = api;
        this.informers = informers;
        this.identities = identities ?? (_ => api);
        Name = name;
        Workers = workers;
        Queue = new WorkQueue<string>(api.Time);
    }

    /// <summary>The API the controller writes through.</summary>
    public ObjectApi Api { get; }

    /// <summary>The API as the controller manager's service account <paramref name="serviceAccount"/> (in kube-system).</summary>
    public ObjectApi As(string serviceAccount) => identities(serviceAccount);

    /// <summary>The controller's name (its logger's category, as kube-controller-manager names them).</summary>
    public string Name { get; }

    /// <summary>How many workers reconcile at once (keys are never reconciled twice at once).</summary>
    public int Workers { get; private set; }

    /// <summary>The controller's queue of keys.</summary>
    public WorkQueue<string> Queue { get; }

    /// <summary>Runs one worker only (the scheduler, the node and namespace controllers: their reconciles share state).</summary>
    public ControllerBuilder SingleWorker()
    {
        Workers = 1;
        return this;
    }

    /// <summary>
    /// The kind the controller reconciles: a change to one of its objects (not its deletion) enqueues its key
    /// (<c>namespace/name</c>, or the name of a cluster-scoped object), when <paramref name="when"/> (old, new) allows.
    /// </summary>
    public Informer For(ResourceType type, Func<JsonObject?, JsonObject, bool>? when = null) =>
        Watches(type, (old, obj) =>
        {
            if (obj is not null && (when is null || when(old, obj)))
            {
                Queue.Add(Key(obj));
            }
        });

    /// <summary>
    /// A kind whose objects the controller owns: a change to one (its deletion too) enqueues the key of its controller
    /// owner when that is a <paramref name="owner"/>.
    /// </summary>
    public Informer Owns(ResourceType type, ResourceType owner) =>
        Watches(type, (old, obj) =>
        {
            var current = obj ?? old!;
            if (PodState.ControllerOf(current) is { } reference && Json.Str(reference, "kind") == owner.Kind)
            {
                Queue.Add($"{Json.Namespace(current)}/{Json.Str(reference, "name")}");
            }
        });

    /// <summary>A kind whose changes (old, new: either may be null) map to the keys <paramref name="map"/> gives.</summary>
    public Informer Watches(ResourceType type, Func<JsonObject?, JsonObject?, IEnumerable<string>> map)
    {
        var informer = informers.For(type);
        informer.OnChange((old, obj) =>
        {
            foreach (string key in map(old, obj))
            {
                Queue.Add(key);
            }
        });
        return informer;
    }

    /// <summary>
    /// A kind whose changes the controller handles itself: it adds keys to <see cref="Queue"/> (the kinds with many
    /// changes, as pods: no sequence is made per change), or keeps state of its own (the scheduler's node list).
    /// </summary>
    public Informer Watches(ResourceType type, Action<JsonObject?, JsonObject?> handler)
    {
        var informer = informers.For(type);
        informer.OnChange(handler);
        return informer;
    }

    /// <summary>A kind the controller only reads (through the shared cache).</summary>
    public Informer Reads(ResourceType type) => informers.For(type);

    /// <summary>The key of an object: <c>namespace/name</c>, or its name when cluster-scoped.</summary>
    public static string Key(JsonObject obj) => Json.Namespace(obj) is { } ns ? $"{ns}/{Json.Name(obj)}" : Json.Name(obj);
}
