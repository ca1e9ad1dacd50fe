namespace Containers.Runtime.Cgroups;

/// <summary>cgroup v2: one unified directory per container under <c>containers-dotnet</c>.</summary>
internal sealed class CgroupV2Manager(string mountPoint, ISyscalls sys) : ICgroupManager
{
    /// <summary>Whether the mount point is a real cgroup2 file system, which takes device programs (a tree shaped like one, in tests, does not).</summary>
    private readonly bool devicePrograms = File.ReadLines("/proc/self/mounts").Any(l => l.Split(' ') is [_, var mp, "cgroup2", ..] && mp == mountPoint.TrimEnd('/'));

    private string ParentDir => Path.Combine(mountPoint, CgroupFiles.Parent);

    public string Version => "v2";

    public ICgroup Create(string id)
    {
        // every level above the container's group delegates the controllers (a --cgroup-parent adds levels)
        var dir = Path.Combine(ParentDir, id);
        for (var level = ParentDir; level.Length < dir.Length; level = Path.Combine(level, dir[(level.Length + 1)..].Split('/')[0]))
        {
            Directory.CreateDirectory(level);
            var available = (CgroupFiles.Read(sys, level, "cgroup.controllers") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var enable = string.Join(' ', new[] { "memory", "cpu", "pids" }.Where(available.Contains).Select(c => "+" + c));
            if (enable.Length > 0)
            {
                CgroupFiles.Write(sys, level, "cgroup.subtree_control", enable);
            }
        }

        Directory.CreateDirectory(dir);
        var group = new CgroupV2(id, dir, sys, devicePrograms);
        try
        {
            if (devicePrograms)
            {
                DeviceFilter.Attach(sys, dir, DeviceFilter.DefaultRules); // v2 has no devices controller: without a program every device is open
            }
        }
        catch
        {
            group.Delete();
            throw;
        }

        return group;
    }

    public ICgroup Open(string id) => new CgroupV2(id, Path.Combine(ParentDir, id), sys, devicePrograms);

    public IReadOnlyList<string> List() => Directory.Exists(ParentDir)
        ? Directory.EnumerateDirectories(ParentDir).Select(Path.GetFileName).OfType<string>().ToArray()
        : [];

    /// <summary>Docker's conversion of cpu shares (2..262144) to a cgroup v2 weight (1..10000).</summary>
    public static long SharesToWeight(long shares) => 1 + ((Math.Clamp(shares, 2, 262144) - 2) * 9999 / 262142);

    private sealed class CgroupV2(string id, string dir, ISyscalls sys, bool devicePrograms) : ICgroup
    {
        public string Id { get; } = id;

        public void AddProcess(int pid) => CgroupFiles.Write(sys, dir, "cgroup.procs", CgroupFiles.I(pid));

        public void Apply(ResourceLimits l)
        {
            if (l.MemoryBytes is { } m)
            {
                CgroupFiles.Write(sys, dir, "memory.max", CgroupFiles.I(m));
                var swap = l.MemorySwapBytes ?? (m * 2);
                CgroupFiles.Write(sys, dir, "memory.swap.max", swap < 0 ? "max" : CgroupFiles.I(Math.Max(0, swap - m)));
            }

            if (l.NanoCpus is { } n)
            {
                CgroupFiles.Write(sys, dir, "cpu.max", $"{CgroupFiles.I(n * 100000 / 1_000_000_000)} 100000");
            }

            if (l.CpuShares is { } s)
            {
                CgroupFiles.Write(sys, dir, "cpu.weight", CgroupFiles.I(SharesToWeight(s)));
            }

            if (l.PidsLimit is { } p)
            {
                CgroupFiles.Write(sys, dir, "pids.max", p <= 0 ? "max" : CgroupFiles.I(p));
            }
        }

        /// <summary>The rules of the device program attached to the group: the defaults, then what was allowed since.</summary>
        private readonly List<string> deviceRules = [.. DeviceFilter.DefaultRules];

        public void AllowDevices(IReadOnlyList<string> rules)
        {
            deviceRules.AddRange(rules);
            if (devicePrograms)
            {
                DeviceFilter.Attach(sys, dir, deviceRules); // replaces the group's program
            }
        }

        public CgroupStats ReadStats()
        {
            var memMax = CgroupFiles.Read(sys, dir, "memory.max");
            var pidsMax = CgroupFiles.Read(sys, dir, "pids.max");
            return new CgroupStats(
                CgroupFiles.ReadLong(sys, dir, "memory.current"),
                CgroupFiles.ReadLong(sys, dir, "memory.peak"),
                memMax is null or "max" ? null : long.Parse(memMax, System.Globalization.CultureInfo.InvariantCulture),
                CgroupFiles.ReadKey(sys, dir, "cpu.stat", "usage_usec") * 1000,
                CgroupFiles.ReadLong(sys, dir, "pids.current"),
                pidsMax is null or "max" ? null : long.Parse(pidsMax, System.Globalization.CultureInfo.InvariantCulture));
        }

        public long ReadOomKills() => CgroupFiles.ReadKey(sys, dir, "memory.events", "oom_kill");

        public void SetFrozen(bool frozen)
        {
            CgroupFiles.Write(sys, dir, "cgroup.freeze", frozen ? "1" : "0");
            for (var i = 0; i < 1000; i++)
            {
                if (CgroupFiles.ReadKey(sys, dir, "cgroup.events", "frozen") == (frozen ? 1 : 0))
                {
                    return;
                }

                Thread.Sleep(1);
            }

            throw new ContainerException($"cgroup: {dir} did not become {(frozen ? "frozen" : "thawed")}");
        }

        public IReadOnlyList<int> ReadProcesses() => CgroupFiles.ReadPids(sys, dir);

        public ICgroup Rename(string newId)
        {
            var target = dir[..^Id.Length] + newId;
            Directory.Move(dir, target);
            return new CgroupV2(newId, target, sys, devicePrograms);
        }

        public void Delete()
        {
            if (File.Exists(Path.Combine(dir, "cgroup.kill")))
            {
                try
                {
                    CgroupFiles.Write(sys, dir, "cgroup.kill", "1");
                }
                catch (ContainerException)
                {
                    // fall back to killing pid by pid below
                }
            }

            CgroupFiles.Remove(sys, dir, pid => sys.Kill(pid, 9));
            CgroupFiles.RemoveEmptyParents(dir);
        }
    }
}
