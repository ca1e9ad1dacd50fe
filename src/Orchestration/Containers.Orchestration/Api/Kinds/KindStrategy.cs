namespace Containers.Orchestration.Api.Kinds;

/// <summary>How a name of a kind is validated (kube-apiserver's ValidateObjectMeta name functions).</summary>
internal enum NameRule
{
    /// <summary>A lowercase RFC 1123 subdomain, at most 253 characters (most kinds).</summary>
    Subdomain,

    /// <summary>A lowercase RFC 1123 label, at most 63 characters (Namespace, Service: they become DNS labels).</summary>
    Label,

    /// <summary>Any name that can be a URL path segment: not "." or "..", no '/' or '%' (the RBAC kinds: system:node).</summary>
    PathSegment,
}

/// <summary>What a delete does to an object of a kind before finalizers are looked at.</summary>
internal enum DeleteMode
{
    /// <summary>Goes now unless finalizers hold it.</summary>
    Immediate,

    /// <summary>Marked with deletionTimestamp (and grace period): something (a node agent, a controller) removes it later.</summary>
    Graceful,

    /// <summary>Already terminating at least as soon: nothing is written, the current object is returned.</summary>
    Unchanged,
}

/// <summary>A subresource a kind serves besides status and scale (pods/log, pods/exec), as discovery lists it.</summary>
/// <param name="Name">The subresource (log).</param>
/// <param name="Kind">The kind of its body (PodExecOptions).</param>
/// <param name="Verbs">The verbs discovery lists.</param>
/// <param name="Group">The group of its kind when not the parent's (policy for Eviction).</param>
/// <param name="Version">The version of its kind when not the parent's.</param>
internal sealed record Subresource(string Name, string Kind, string[] Verbs, string? Group = null, string? Version = null);

/// <summary>
/// Everything one kind does in the generic store, as kube-apiserver's RESTCreateStrategy, RESTUpdateStrategy,
/// RESTDeleteStrategy and TableConvertor: defaults, validation, the status on create, what a delete does, the
/// allocation of shared resources, its printer columns and its subresources. One subclass per kind, in its own file
/// under <c>Api/Kinds</c>; nothing outside this folder decides on a kind's name. Strategies hold no state: one instance
/// serves every <see cref="ObjectApi"/>.
/// </summary>
internal abstract class KindStrategy
{
    /// <summary>A kind stored as given: no defaults, no validation beyond the metadata's.</summary>
    public static KindStrategy Plain { get; } = new PlainKind();
    /// <summary>How the name is validated.</summary>
    public virtual NameRule Names => NameRule.Subdomain;

    /// <summary>Whether a create keeps the status the client sent (a Node registers with its status); otherwise it is dropped.</summary>
    public virtual bool KeepsStatusOnCreate => false;

    /// <summary>Whether a write through the main resource may change the status (Namespace's phase); otherwise only the status subresource does.</summary>
    public virtual bool StatusWritableWithSpec => false;

    /// <summary>Whether objects can be created only in a namespace that exists and is not terminating (all but Event).</summary>
    public virtual bool RequiresLiveNamespace => true;

    /// <summary>Whether the kind is a question answered at once and never stored (SelfSubjectAccessReview, TokenReview): only create is served.</summary>
    public virtual bool Virtual => false;

    /// <summary>The verbs discovery lists for a virtual kind (null: create, as the reviews).</summary>
    public virtual IReadOnlyList<string>? Verbs => null;

    /// <summary>Whether DELETE on the collection is served (kube-apiserver serves no deletecollection of namespaces).</summary>
    public virtual bool DeleteCollection => true;

    /// <summary>Whether the kind is in the <c>all</c> category (<c>kubectl get all</c>).</summary>
    public virtual bool InCategoryAll => false;

    /// <summary>Subresources beyond status and scale, in discovery's order.</summary>
    public virtual IReadOnlyList<Subresource> Subresources => [];

    /// <summary>Subresource names that write the main resource (Namespace's <c>finalize</c>).</summary>
    public virtual bool WritesMainResource(string subresource) => false;

    /// <summary>Whether a <c>binding</c> write (spec.nodeName and status together) is served (Pod).</summary>
    public virtual bool HasBinding => false;

    /// <summary>Whether writes must hold the store's allocation lock around <see cref="Allocate"/> and the write (Service: cluster IPs and node ports).</summary>
    public virtual bool Allocates => false;

    /// <summary>Fills in what kube-apiserver defaults (on create, and on every update).</summary>
    public virtual void Default(JsonObject obj, ObjectApi api)
    {
    }

    /// <summary>Adds the validation errors of <paramref name="obj"/> (field path, message); <paramref name="old"/> is the stored object on update.</summary>
    public virtual void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
    }

    /// <summary>The status a new object starts with, or null for none.</summary>
    public virtual JsonObject? InitialStatus(JsonObject obj) => null;

    /// <summary>Allocates what the object takes from shared pools (called under the allocation lock when <see cref="Allocates"/>).</summary>
    public virtual void Allocate(ObjectApi api, JsonObject obj, JsonObject? current)
    {
    }

    /// <summary>
    /// What a delete does: <paramref name="copy"/> (the caller's copy of the stored object, with <paramref name="meta"/>
    /// its metadata) may be marked. By default the object goes unless finalizers hold it.
    /// </summary>
    public virtual DeleteMode OnDelete(JsonObject copy, JsonObject meta, DeleteOptions options, DateTimeOffset now) => DeleteMode.Immediate;

    /// <summary>Whether an object marked for deletion goes once its last finalizer is removed (not a Namespace: its controller removes it; not a pod still in its grace period).</summary>
    public virtual bool GoesWhenFinalized(JsonObject meta) => true;

    /// <summary>The columns of <c>kubectl get</c>.</summary>
    public virtual IReadOnlyList<TableColumn> Columns => [TableColumn.ObjectName, TableColumn.ObjectAge];
}

/// <summary>One column of a kind's Table (server-side printing).</summary>
/// <param name="Name">The header.</param>
/// <param name="Type">The column's type (string, integer).</param>
/// <param name="Priority">0 for <c>kubectl get</c>, 1 for <c>-o wide</c> only.</param>
/// <param name="Cell">The cell of an object at a time.</param>
/// <param name="Format">The format (name for the object's name).</param>
internal sealed record TableColumn(string Name, string Type, int Priority, Func<JsonObject, DateTimeOffset, JsonNode?> Cell, string Format = "")
{
    /// <summary>The object's name.</summary>
    public static TableColumn ObjectName { get; } = new("Name", "string", 0, (o, _) => Json.Name(o), "name");

    /// <summary>Time since creation.</summary>
    public static TableColumn ObjectAge { get; } = new("Age", "string", 0, (o, now) => Json.ParseTime(Json.Str(o, "metadata", "creationTimestamp")) is { } t ? Json.Age(t, now) : "<unknown>");

    /// <summary>A string column read at a path.</summary>
    public static TableColumn Text(string name, params string[] path) => new(name, "string", 0, (o, _) => Json.Str(o, path));

    /// <summary>An integer column read at a path (0 when absent).</summary>
    public static TableColumn Integer(string name, params string[] path) => new(name, "integer", 0, (o, _) => Json.Int(o, path) ?? 0);
}

/// <summary>The strategy of a kind with nothing of its own.</summary>
internal sealed class PlainKind : KindStrategy
{
}
