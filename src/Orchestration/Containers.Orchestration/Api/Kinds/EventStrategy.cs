namespace Containers.Orchestration.Api.Kinds;

/// <summary>Event (v1): written by the <see cref="EventRecorder"/>, also in a namespace being deleted (its last events).</summary>
internal sealed class EventStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "Event", "events", true) { ShortNames = ["ev"], Strategy = new EventStrategy() };

    /// <inheritdoc/>
    public override bool RequiresLiveNamespace => false;

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        new("Last Seen", "string", 0, (o, now) => Json.ParseTime(Json.Str(o, "lastTimestamp") ?? Json.Str(o, "metadata", "creationTimestamp")) is { } t ? Json.Age(t, now) : "<unknown>"),
        TableColumn.Text("Type", "type"),
        TableColumn.Text("Reason", "reason"),
        new("Object", "string", 0, (o, _) => $"{Json.Str(o, "involvedObject", "kind")?.ToLowerInvariant()}/{Json.Str(o, "involvedObject", "name")}"),
        TableColumn.Text("Message", "message"),
        new("Source", "string", 1, (o, _) => Json.Str(o, "source", "component") + (Json.Str(o, "source", "host") is { } h ? ", " + h : "")),
        new("First Seen", "string", 1, (o, now) => Json.ParseTime(Json.Str(o, "firstTimestamp")) is { } t ? Json.Age(t, now) : "<unknown>"),
        new("Count", "integer", 1, (o, _) => Json.Int(o, "count") ?? 1),
        new("Name", "string", 1, (o, _) => Json.Name(o), "name"),
    ];
}
