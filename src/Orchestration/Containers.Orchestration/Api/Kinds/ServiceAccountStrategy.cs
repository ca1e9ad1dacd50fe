namespace Containers.Orchestration.Api.Kinds;

/// <summary>ServiceAccount (v1): stored as given.</summary>
internal sealed class ServiceAccountStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "ServiceAccount", "serviceaccounts", true) { ShortNames = ["sa"], Strategy = new ServiceAccountStrategy() };
}
