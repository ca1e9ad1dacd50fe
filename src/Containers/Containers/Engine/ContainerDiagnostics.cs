using System.Diagnostics;

namespace Containers;

/// <summary>
/// What the engine reports to System.Diagnostics listeners (OpenTelemetry, dotnet-trace, a benchmark's own
/// <see cref="ActivityListener"/>). Nothing is measured unless a listener asks for it.
/// </summary>
public static class ContainerDiagnostics
{
    /// <summary>
    /// The name of the <see cref="ActivitySource"/> whose activities are the steps of a container start ("make the
    /// overlay dirs", "spawn the shim", "write the state", ...), one activity per step, named after it and tagged
    /// <c>container.id</c>. A failed step's activity has the error status.
    /// </summary>
    public const string StartStepsSourceName = "Containers.Runtime.Start";

    internal static readonly ActivitySource StartSteps = new(StartStepsSourceName);
}
