using System.Collections.Immutable;

namespace Containers.Runtime;

/// <summary>
/// Works out a container's user namespace when it is created: its maps, from <c>--uidmap/--gidmap</c>, from a range
/// of its own (<c>--userns auto</c>), or from the engine's <see cref="EngineOptions.UsernsRemap"/>; the spec then
/// carries them, so every later start (in any process) uses the same.
/// </summary>
internal static class UserNamespaces
{
    /// <summary>The size of an <c>auto</c> range when none is asked for (what Podman gives).</summary>
    public const long AutoSize = 65536;

    /// <summary>The user whose subordinate ids <c>--userns auto</c> takes ranges from (Podman's).</summary>
    public const string AutoUser = "containers";

    private static readonly Lock AutoLock = new();

    /// <summary>
    /// The spec with its maps resolved: auto ranges avoid those of the containers in <paramref name="store"/>, and
    /// <c>container:X</c> takes X's. Throws <see cref="InvalidContainerSpecException"/> naming what is wrong.
    /// </summary>
    public static ContainerSpec Resolve(ContainerSpec spec, EngineOptions options, ContainerStore store)
    {
        IEnumerable<ContainerSpec> taken() => store.List().Select(s => s.Spec);
        var mode = spec.UsernsMode;
        if (!spec.UidMap.IsDefaultOrEmpty || !spec.GidMap.IsDefaultOrEmpty)
        {
            if (mode is not ("" or "private"))
            {
                throw new InvalidContainerSpecException($"--userns {mode} cannot be combined with --uidmap or --gidmap");
            }

            var uid = spec.UidMap.IsDefaultOrEmpty ? spec.GidMap : spec.UidMap;
            var gid = spec.GidMap.IsDefaultOrEmpty ? spec.UidMap : spec.GidMap;
            Check(uid, "uidmap");
            Check(gid, "gidmap");
            return Checked(spec with { UsernsMode = "private", UidMap = uid, GidMap = gid });
        }

        switch (mode)
        {
            case "host":
                return spec;
            case "" when options.UsernsRemap is null || spec.IsBuildStep:
                return spec;
            case "":
                var (user, group) = RemapUser(options.UsernsRemap);
                return Checked(spec with
                {
                    UidMap = Concatenated(Ranges(options.SubordinateUidFile, user, "userns-remap")),
                    GidMap = Concatenated(Ranges(options.SubordinateGidFile, group, "userns-remap")),
                });
            case "private":
                throw new InvalidContainerSpecException("--userns private needs --uidmap (and --gidmap)");
            case var m when m.StartsWith("container:", StringComparison.Ordinal):
                // another container's namespace (a pod's containers share their sandbox's): its maps, and it is entered
                var owner = store.ReadByIdOrName(m["container:".Length..]) ?? throw new ContainerNotFoundException($"userns mode {m}: no such container");
                return owner.Spec.HasUserNamespace
                    ? Checked(spec with { UsernsMode = "container:" + owner.Id, UidMap = owner.Spec.UidMap, GidMap = owner.Spec.GidMap })
                    : throw new InvalidContainerSpecException($"userns mode {m}: that container runs in the host's user namespace");
            case var m when m == "auto" || m.StartsWith("auto:", StringComparison.Ordinal):
                var size = AutoSizeOf(m);
                lock (AutoLock)
                {
                    var used = taken().Where(s => s.UsernsMode.StartsWith("auto", StringComparison.Ordinal)).ToList();
                    var uidStart = FirstFree(Ranges(options.SubordinateUidFile, AutoUser, "--userns auto"), used.SelectMany(s => s.UidMap), size, "uids", options.SubordinateUidFile);
                    var gidStart = FirstFree(Ranges(options.SubordinateGidFile, AutoUser, "--userns auto"), used.SelectMany(s => s.GidMap), size, "gids", options.SubordinateGidFile);
                    return Checked(spec with { UidMap = [new IdMapping(0, uidStart, size)], GidMap = [new IdMapping(0, gidStart, size)] });
                }

            default:
                throw new InvalidContainerSpecException($"invalid userns mode '{mode}': expected host, auto, auto:size=N, container:NAME|ID, or private with --uidmap");
        }
    }

    /// <summary>What cannot go with a user namespace, refused with Docker's words.</summary>
    private static ContainerSpec Checked(ContainerSpec spec)
    {
        if (spec.Privileged)
        {
            throw new InvalidContainerSpecException("privileged mode is incompatible with user namespaces; run the container with --userns host");
        }

        foreach (var (what, shared) in new[] { ("network", spec.NetworkMode == "host"), ("PID", spec.PidMode == "host"), ("IPC", spec.IpcMode == "host") })
        {
            if (shared)
            {
                throw new InvalidContainerSpecException($"cannot share the host's {what} namespace when user namespaces are enabled; run the container with --userns host");
            }
        }

        return spec;
    }

    private static void Check(ImmutableArray<IdMapping> map, string what)
    {
        if (map.Length > 340)
        {
            throw new InvalidContainerSpecException($"--{what}: at most 340 ranges, {map.Length} given");
        }

        foreach (var m in map)
        {
            m.Validate();
        }

        var sorted = map.OrderBy(m => m.ContainerId).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].ContainerId < sorted[i - 1].ContainerId + sorted[i - 1].Size)
            {
                throw new InvalidContainerSpecException($"--{what}: the ranges {sorted[i - 1]} and {sorted[i]} overlap in the container");
            }
        }

        var byHost = map.OrderBy(m => m.HostId).ToList();
        for (var i = 1; i < byHost.Count; i++)
        {
            if (byHost[i].HostId < byHost[i - 1].HostId + byHost[i - 1].Size)
            {
                throw new InvalidContainerSpecException($"--{what}: the ranges {byHost[i - 1]} and {byHost[i]} overlap on the host");
            }
        }
    }

    private static long AutoSizeOf(string mode)
    {
        if (mode == "auto")
        {
            return AutoSize;
        }

        var option = mode["auto:".Length..];
        return option.StartsWith("size=", StringComparison.Ordinal) && long.TryParse(option["size=".Length..], out var n) && n is > 0 and <= uint.MaxValue
            ? n
            : throw new InvalidContainerSpecException($"invalid userns mode '{mode}': expected auto or auto:size=N");
    }

    private static (string User, string Group) RemapUser(string remap)
    {
        var parts = remap.Split(':');
        var user = parts[0] == "default" ? "dockremap" : parts[0];
        if (parts.Length > 2 || user.Length == 0)
        {
            throw new InvalidContainerSpecException($"invalid userns-remap '{remap}': expected USER[:GROUP] or default");
        }

        return (user, parts.Length == 2 && parts[1].Length > 0 ? parts[1] : user);
    }

    /// <summary>The subordinate ranges of <paramref name="name"/> in <paramref name="file"/> (<c>NAME:START:COUNT</c> lines), in file order.</summary>
    internal static List<(long Start, long Count)> Ranges(string file, string name, string what)
    {
        var ranges = new List<(long, long)>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(file);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            lines = [];
        }

        var number = 0;
        foreach (var raw in lines)
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var f = line.Split(':');
            if (f.Length != 3 || !long.TryParse(f[1], out var start) || !long.TryParse(f[2], out var count) || start < 0 || count <= 0)
            {
                throw new InvalidContainerSpecException($"{file} line {number}: expected NAME:START:COUNT, found '{line}'");
            }

            if (f[0] == name)
            {
                ranges.Add((start, count));
            }
        }

        return ranges.Count > 0
            ? ranges
            : throw new InvalidContainerSpecException($"{what}: {file} gives the user {name} no subordinate ids (add a line such as {name}:100000:65536)");
    }

    /// <summary>The ranges one after another from container id 0, as Docker maps a remap user's.</summary>
    private static ImmutableArray<IdMapping> Concatenated(List<(long Start, long Count)> ranges)
    {
        var map = ImmutableArray.CreateBuilder<IdMapping>();
        long next = 0;
        foreach (var (start, count) in ranges.Take(340))
        {
            map.Add(new IdMapping(next, start, count));
            next += count;
        }

        return map.ToImmutable();
    }

    /// <summary>The lowest host id of the ranges from which <paramref name="size"/> ids are used by no other container.</summary>
    private static long FirstFree(List<(long Start, long Count)> ranges, IEnumerable<IdMapping> used, long size, string what, string file)
    {
        var busy = used.Select(m => (m.HostId, End: m.HostId + m.Size)).OrderBy(b => b.HostId).ToList();
        foreach (var (start, count) in ranges)
        {
            var candidate = start;
            foreach (var (from, end) in busy)
            {
                if (candidate + size <= from)
                {
                    break;
                }

                if (end > candidate)
                {
                    candidate = end;
                }
            }

            if (candidate + size <= start + count)
            {
                return candidate;
            }
        }

        throw new InvalidContainerSpecException($"--userns auto: no {size} free {what} left in the ranges of {AutoUser} in {file} (the other containers with --userns auto hold them)");
    }
}
