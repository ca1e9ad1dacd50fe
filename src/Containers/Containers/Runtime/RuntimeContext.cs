using Containers.Linux;
using Containers.Networking;
using Containers.Runtime.Cgroups;
using Microsoft.Extensions.Logging;

namespace Containers.Runtime;

/// <summary>Everything the runtime needs, created once per engine and passed down (never global).</summary>
internal sealed record RuntimeContext(
    ISyscalls Sys,
    ContainerStore Store,
    ICgroupManager Cgroups,
    BridgeNetwork Bridge,
    ShimSpawner Spawner,
    ShimPool? Pool,
    TimeProvider Time,
    ILogger Logger)
{
    /// <summary>The root's named volumes.</summary>
    public VolumeStore Volumes { get; } = new(Store.Root, Sys);
}
