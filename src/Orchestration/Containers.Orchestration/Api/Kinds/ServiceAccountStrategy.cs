namespace Containers.Orchestration.Api.Kinds;

/// <summary>ServiceAccount (v1): stored as given; its <c>token</c> subresource makes tokens (TokenRequest, <c>kubectl create token</c>).</summary>
internal sealed class ServiceAccountStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "ServiceAccount", "serviceaccounts", true) { ShortNames = ["sa"], Strategy = new ServiceAccountStrategy() };

    /// <inheritdoc/>
    public override IReadOnlyList<Subresource> Subresources { get; } = [new("token", "TokenRequest", ["create"], "authentication.k8s.io", "v1")];

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Secrets", "integer", 0, (o, _) => (Json.At(o, "secrets") as JsonArray)?.Count ?? 0),
        TableColumn.ObjectAge,
    ];
}
