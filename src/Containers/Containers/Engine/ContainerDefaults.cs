using Containers.Networking;
using Containers.Shim;

namespace Containers;

/// <summary>
/// What every container of this engine gets when its spec says nothing, as docker's defaults: the paths masked and
/// made read-only in /proc and /sys (runc's lists), the size of /dev/shm, and the pool networks take their subnets
/// from. For facades that report them (docker inspect's HostConfig, docker info).
/// </summary>
public static class ContainerDefaults
{
    /// <summary>The paths a container sees as empty (runc's masked paths).</summary>
    public static IReadOnlyList<string> MaskedPaths { get; } = Array.AsReadOnly(ShimDefaults.MaskedPaths);

    /// <summary>The paths a container sees read-only (runc's read-only paths).</summary>
    public static IReadOnlyList<string> ReadOnlyPaths { get; } = Array.AsReadOnly(ShimDefaults.ReadOnlyPaths);

    /// <summary>The size of a container's /dev/shm in bytes (64 MiB, as docker's).</summary>
    public const long ShmSizeBytes = ShimDefaults.ShmSizeBytes;

    /// <summary>The address pool a network takes a free /24 from when it is created without a subnet.</summary>
    public const string AddressPool = NetworkStore.DefaultPool;
}
