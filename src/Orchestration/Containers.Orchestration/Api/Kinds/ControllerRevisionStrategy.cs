namespace Containers.Orchestration.Api.Kinds;

/// <summary>ControllerRevision (apps/v1): stored as given.</summary>
internal sealed class ControllerRevisionStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("apps", "v1", "ControllerRevision", "controllerrevisions", true) { Strategy = new ControllerRevisionStrategy() };
}
