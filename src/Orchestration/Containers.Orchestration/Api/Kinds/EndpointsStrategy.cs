namespace Containers.Orchestration.Api.Kinds;

/// <summary>Endpoints (v1): written by the endpoints controller.</summary>
internal sealed class EndpointsStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "Endpoints", "endpoints", true) { ShortNames = ["ep"], Strategy = new EndpointsStrategy() };

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Endpoints", "string", 0, (o, _) =>
        {
            var eps = Json.Items(o, "subsets").SelectMany(s => Json.Items(s, "addresses").SelectMany(a => Json.Items(s, "ports").DefaultIfEmpty().Select(p => p is null ? Json.Str(a, "ip") : $"{Json.Str(a, "ip")}:{Json.Int(p, "port")}"))).ToList();
            return eps.Count == 0 ? "<none>" : eps.Count > 3 ? string.Join(",", eps.Take(3)) + $" + {eps.Count - 3} more..." : string.Join(",", eps);
        }),
        TableColumn.ObjectAge,
    ];
}
