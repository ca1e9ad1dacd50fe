using Containers.Runtime.Cgroups;
using Microsoft.Extensions.Logging.Abstractions;

namespace Containers;

/// <summary>
/// The parts an engine is composed of: its options, the runtime context (store, cgroups, bridge, shim spawner and
/// pool, each over the one syscall seam) and the image service. <see cref="Compose"/> is the composition root; a test
/// may make the parts itself and hand them to the engine.
/// </summary>
internal sealed record EngineParts(EngineOptions Options, RuntimeContext Context, Images.ImageService Images)
{
    /// <summary>Makes every part from <paramref name="options"/> over <paramref name="sys"/>, the seam to the kernel.</summary>
    public static EngineParts Compose(EngineOptions options, ILoggerFactory? loggerFactory, ISyscalls sys)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sys);
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ContainerEngine>();
        var (subnet, prefix) = NetworkStore.ParseCidr(options.BridgeSubnet);
        var ipam = new Ipam(Path.Combine(options.MachineStateDirectory, "networks", options.BridgeName + ".json"), subnet, prefix, sys);
        var stage = Path.Combine(options.Root, "stage"); // an empty directory each shim covers with its own staging tmpfs
        Directory.CreateDirectory(stage);
        var spawner = new ShimSpawner(sys, options.ShimPath ?? ShimSpawner.DefaultShimPath(), stage);
        var cgroups = CgroupManagers.Detect(sys);
        var prime = options.FirstStart is { } first && ContainerSupervisor.CanUsePooledShim(first) && options.UsernsRemap is null && !Rootless.IsActive;
        var pool = options.PrespawnShim || prime ? new ShimPool(spawner, cgroups, sys, refill: options.PrespawnShim) : null;
        if (prime)
        {
            pool!.Prime(); // before the rest of the engine is made and its root swept: they overlap the spawn
        }

        var context = new RuntimeContext(
            sys,
            new ContainerStore(options.Root, sys),
            cgroups,
            new BridgeNetwork(sys, options.BridgeName, ipam, new BridgeFirewall(sys, options.MachineStateDirectory, logger)),
            spawner,
            pool,
            options.TimeProvider,
            logger)
        {
            // worked out on first use: reading resolv.conf and probing the root's file system cost a CLI run 1 ms
            DnsUpstreamsSource = () => DnsUpstreams(options.DnsUpstreams),
            IdMappedMountsProbe = () => options.IdMappedMounts ?? ShiftedLayers.Supported(options.Root),
        };
        var images = new Images.ImageService(new Images.ImageStore(options.Root, sys), options.Registry, () => context.Store.List(), options.TimeProvider, logger);
        return new EngineParts(options, context, images);
    }

    private static IPEndPoint[] DnsUpstreams(System.Collections.Immutable.ImmutableArray<string> configured)
    {
        var servers = configured.IsDefaultOrEmpty
            ? (File.Exists("/etc/resolv.conf") ? File.ReadLines("/etc/resolv.conf") : [])
                .Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 2 && f[0] == "nameserver")
                .Select(f => f[1])
            : configured;
        return [.. servers.Select(s => IPEndPoint.TryParse(s, out var ep) ? new IPEndPoint(ep.Address, ep.Port == 0 ? 53 : ep.Port) : null).OfType<IPEndPoint>()];
    }
}
