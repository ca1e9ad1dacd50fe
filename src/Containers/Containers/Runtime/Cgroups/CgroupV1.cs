namespace Containers.Runtime.Cgroups;

/// <summary>cgroup v1: one directory per controller hierarchy (memory, cpu, cpuacct, pids, freezer, devices).</summary>
internal sealed class CgroupV1Manager : ICgroupManager
{
    private static readonly string[] Wanted = ["memory", "cpu", "cpuacct", "pids", "freezer", "devices"];
    private readonly Dictionary<string, string> mounts;
    private readonly ISyscalls sys;

    /// <summary>Uses the given controller mount points (controller name to hierarchy directory).</summary>
    public CgroupV1Manager(IReadOnlyDictionary<string, string> controllerMounts, ISyscalls sys)
    {
        mounts = Wanted.Where(controllerMounts.ContainsKey).ToDictionary(c => c, c => controllerMounts[c]);
        this.sys = sys;
    }

    public string Version => "v1";

    public ICgroup Create(string id)
    {
        var g = new CgroupV1(id, Dirs(id), sys);
        foreach (var dir in g.Dirs.Values.Distinct())
        {
            Directory.CreateDirectory(dir);
        }

        if (g.Dirs.TryGetValue("devices", out var devices))
        {
            CgroupFiles.Write(sys, devices, "devices.deny", "a");
            foreach (var rule in DeviceFilter.DefaultRules)
            {
                CgroupFiles.Write(sys, devices, "devices.allow", rule);
            }
        }

        return g;
    }

    public ICgroup Open(string id) => new CgroupV1(id, Dirs(id), sys);

    public IReadOnlyList<string> List() => mounts.Values.Distinct()
        .Select(m => Path.Combine(m, CgroupFiles.Parent))
        .Where(Directory.Exists)
        .SelectMany(Directory.EnumerateDirectories)
        .Select(Path.GetFileName)
        .OfType<string>()
        .Distinct()
        .ToArray();

    private Dictionary<string, string> Dirs(string id) => mounts.ToDictionary(kv => kv.Key, kv => Path.Combine(kv.Value, CgroupFiles.Parent, id));

    private sealed class CgroupV1(string id, Dictionary<string, string> dirs, ISyscalls sys) : ICgroup
    {
        public string Id { get; } = id;

        public Dictionary<string, string> Dirs { get; } = dirs;

        public void AddProcess(int pid)
        {
            foreach (var dir in Dirs.Values.Distinct())
            {
                CgroupFiles.Write(sys, dir, "cgroup.procs", CgroupFiles.I(pid));
            }
        }

        public bool TryAddCurrentThread()
        {
            foreach (var dir in Dirs.Values.Distinct())
            {
                CgroupFiles.Write(sys, dir, "tasks", "0"); // 0: the writing thread
            }

            return true;
        }

        public void Apply(ResourceLimits l)
        {
            if (Dirs.TryGetValue("memory", out var mem))
            {
                if (l.MemoryBytes is { } m)
                {
                    CgroupFiles.Write(sys, mem, "memory.limit_in_bytes", CgroupFiles.I(m));
                    var swap = l.MemorySwapBytes ?? (m * 2);
                    if (File.Exists(Path.Combine(mem, "memory.memsw.limit_in_bytes")))
                    {
                        CgroupFiles.Write(sys, mem, "memory.memsw.limit_in_bytes", swap < 0 ? "-1" : CgroupFiles.I(swap));
                    }
                }
            }

            if (Dirs.TryGetValue("cpu", out var cpu))
            {
                if (l.NanoCpus is { } n)
                {
                    CgroupFiles.Write(sys, cpu, "cpu.cfs_period_us", "100000");
                    CgroupFiles.Write(sys, cpu, "cpu.cfs_quota_us", CgroupFiles.I(n * 100000 / 1_000_000_000));
                }

                if (l.CpuShares is { } s)
                {
                    CgroupFiles.Write(sys, cpu, "cpu.shares", CgroupFiles.I(s));
                }
            }

            if (l.PidsLimit is { } p && Dirs.TryGetValue("pids", out var pids))
            {
                CgroupFiles.Write(sys, pids, "pids.max", p <= 0 ? "max" : CgroupFiles.I(p));
            }
        }

        public void AllowDevices(IReadOnlyList<string> rules)
        {
            if (Dirs.TryGetValue("devices", out var devices))
            {
                foreach (var rule in rules)
                {
                    CgroupFiles.Write(sys, devices, "devices.allow", rule);
                }
            }
        }

        public CgroupStats ReadStats()
        {
            Dirs.TryGetValue("memory", out var mem);
            Dirs.TryGetValue("cpuacct", out var cpuacct);
            Dirs.TryGetValue("pids", out var pids);
            long? memLimit = mem is null ? null : CgroupFiles.ReadLong(sys, mem, "memory.limit_in_bytes");
            if (memLimit >= long.MaxValue / 2)
            {
                memLimit = null;
            }

            var pidsMax = pids is null ? null : CgroupFiles.Read(sys, pids, "pids.max");
            return new CgroupStats(
                mem is null ? 0 : CgroupFiles.ReadLong(sys, mem, "memory.usage_in_bytes"),
                mem is null ? 0 : CgroupFiles.ReadLong(sys, mem, "memory.max_usage_in_bytes"),
                memLimit,
                cpuacct is null ? 0 : CgroupFiles.ReadLong(sys, cpuacct, "cpuacct.usage"),
                pids is null ? 0 : CgroupFiles.ReadLong(sys, pids, "pids.current"),
                pidsMax is null or "max" ? null : long.Parse(pidsMax, System.Globalization.CultureInfo.InvariantCulture));
        }

        public long ReadOomKills() => Dirs.TryGetValue("memory", out var mem) ? CgroupFiles.ReadKey(sys, mem, "memory.oom_control", "oom_kill") : 0;

        public void SetFrozen(bool frozen)
        {
            if (!Dirs.TryGetValue("freezer", out var dir))
            {
                throw new ContainerException("cgroup: the freezer controller is not mounted; pause is not available");
            }

            var want = frozen ? "FROZEN" : "THAWED";
            for (var i = 0; i < 1000; i++)
            {
                CgroupFiles.Write(sys, dir, "freezer.state", want);
                if (CgroupFiles.Read(sys, dir, "freezer.state") == want)
                {
                    return;
                }

                Thread.Sleep(1);
            }

            throw new ContainerException($"cgroup: {dir} did not reach {want}");
        }

        public ICgroup Rename(string newId)
        {
            var renamed = Dirs.ToDictionary(kv => kv.Key, kv => kv.Value[..^Id.Length] + newId);
            foreach (var dir in Dirs.Values.Distinct())
            {
                Directory.Move(dir, dir[..^Id.Length] + newId);
            }

            return new CgroupV1(newId, renamed, sys);
        }

        public IReadOnlyList<int> ReadProcesses() => Dirs.TryGetValue("pids", out var d) ? CgroupFiles.ReadPids(sys, d) : CgroupFiles.ReadPids(sys, Dirs.Values.First());

        public void Delete()
        {
            if (Dirs.TryGetValue("freezer", out var f) && Directory.Exists(f) && CgroupFiles.Read(sys, f, "freezer.state") != "THAWED")
            {
                foreach (var pid in CgroupFiles.ReadPids(sys, f))
                {
                    sys.Kill(pid, 9);
                }

                CgroupFiles.Write(sys, f, "freezer.state", "THAWED");
            }

            foreach (var dir in Dirs.Values.Distinct())
            {
                CgroupFiles.Remove(sys, dir, pid => sys.Kill(pid, 9));
                CgroupFiles.RemoveEmptyParents(dir);
            }
        }
    }
}
