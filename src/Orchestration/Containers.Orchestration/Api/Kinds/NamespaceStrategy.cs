namespace Containers.Orchestration.Api.Kinds;

/// <summary>Namespace (v1): the kubernetes finalizer, phase Active, and termination (a delete marks it Terminating; the namespace controller empties and removes it).</summary>
internal sealed class NamespaceStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "Namespace", "namespaces", false)
    {
        ShortNames = ["ns"], HasStatus = true, Strategy = new NamespaceStrategy(),
    };

    /// <inheritdoc/>
    public override NameRule Names => NameRule.Label;

    /// <inheritdoc/>
    public override bool StatusWritableWithSpec => true;

    /// <inheritdoc/>
    public override bool DeleteCollection => false;

    /// <inheritdoc/>
    public override bool WritesMainResource(string subresource) => subresource == "finalize";

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api) => Json.Obj(obj, "spec")["finalizers"] ??= new JsonArray("kubernetes");

    /// <inheritdoc/>
    public override JsonObject? InitialStatus(JsonObject obj) => new() { ["phase"] = "Active" };

    /// <inheritdoc/>
    public override DeleteMode OnDelete(JsonObject copy, JsonObject meta, DeleteOptions options, DateTimeOffset now)
    {
        if (meta["deletionTimestamp"] is not null)
        {
            return DeleteMode.Unchanged;
        }

        meta["deletionTimestamp"] = Json.Time(now);
        Json.Obj(copy, "status")["phase"] = "Terminating";
        return DeleteMode.Graceful;
    }

    /// <inheritdoc/>
    public override bool GoesWhenFinalized(JsonObject meta) => false;

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } = [TableColumn.ObjectName, TableColumn.Text("Status", "status", "phase"), TableColumn.ObjectAge];

    /// <summary>Throws 404 when namespace <paramref name="ns"/> does not exist, 403 when it is being deleted.</summary>
    internal static void RequireLive(ObjectApi api, ResourceType type, string ns, string name)
    {
        var namespaces = Type;
        if (api.Peek(namespaces, null, ns) is not { } nsObj)
        {
            throw new ApiException(404, "NotFound", $"{namespaces.Plural} \"{ns}\" not found", details: new JsonObject { ["name"] = ns, ["kind"] = namespaces.Plural });
        }

        if (Json.Has(nsObj, "metadata", "deletionTimestamp"))
        {
            throw new ApiException(403, "Forbidden", $"{type.Plural} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated");
        }
    }
}
