namespace Containers.Runtime.Cgroups;

/// <summary>Picks the cgroup backend the machine has, from /proc/self/mountinfo.</summary>
internal static class CgroupManagers
{
    /// <summary>v2 when /sys/fs/cgroup is a cgroup2 mount, else v1 when v1 controllers are mounted, else v2 on the unified hierarchy.</summary>
    public static ICgroupManager Detect(ISyscalls sys)
    {
        if (Rootless.IsActive)
        {
            return new NoCgroupManager(); // nothing is delegated to an unprivileged user here (see NoCgroupManager)
        }

        var v1 = new Dictionary<string, string>();
        string? v2 = null;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var sep = line.IndexOf(" - ", StringComparison.Ordinal);
            if (sep < 0)
            {
                continue;
            }

            var left = line[..sep].Split(' ');
            var right = line[(sep + 3)..].Split(' ');
            var mountPoint = left[4];
            if (right[0] == "cgroup2")
            {
                if (mountPoint == "/sys/fs/cgroup" || v2 is null)
                {
                    v2 = mountPoint;
                }
            }
            else if (right[0] == "cgroup" && right.Length > 2)
            {
                foreach (var opt in right[2].Split(','))
                {
                    v1.TryAdd(opt, mountPoint);
                }
            }
        }

        if (v2 == "/sys/fs/cgroup" || (v1.Count == 0 && v2 is not null))
        {
            return new CgroupV2Manager(v2!, sys);
        }

        return v1.ContainsKey("memory")
            ? new CgroupV1Manager(v1, sys)
            : throw new ContainerException("cgroup: neither a cgroup v1 memory hierarchy nor a cgroup2 mount was found in /proc/self/mountinfo");
    }
}
