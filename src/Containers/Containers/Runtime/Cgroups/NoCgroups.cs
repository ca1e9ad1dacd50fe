namespace Containers.Runtime.Cgroups;

/// <summary>
/// Rootless on a machine that delegates no cgroup to an unprivileged user (this one: its v1 hierarchies are root's,
/// its v2 hierarchy holds no controller): containers run without a group of their own. A limit, a device rule that
/// narrows access, or a pause cannot be had, and each is refused with the reason, never ignored.
/// </summary>
internal sealed class NoCgroupManager : ICgroupManager
{
    /// <summary>The reason every refusal gives.</summary>
    public const string Why = "this machine gives an unprivileged user no cgroup controllers (its cgroup v1 hierarchies are root's and its v2 hierarchy delegates none); run the engine as root, or without it";

    public string Version => "none";

    public ICgroup Create(string id) => new NoCgroup(id);

    public ICgroup Open(string id) => new NoCgroup(id);

    public IReadOnlyList<string> List() => [];

    /// <summary>What of <paramref name="limits"/> is set, as docker's flags name them.</summary>
    public static IEnumerable<string> Named(ResourceLimits limits)
    {
        if (limits.MemoryBytes is not null)
        {
            yield return "--memory";
        }

        if (limits.MemorySwapBytes is not null)
        {
            yield return "--memory-swap";
        }

        if (limits.NanoCpus is not null)
        {
            yield return "--cpus";
        }

        if (limits.CpuShares is not null)
        {
            yield return "--cpu-shares";
        }

        if (limits.PidsLimit is not null)
        {
            yield return "--pids-limit";
        }
    }

    private sealed class NoCgroup(string id) : ICgroup
    {
        private int firstPid;

        public string Id => id;

        public void AddProcess(int pid)
        {
            if (firstPid == 0)
            {
                firstPid = pid;
            }
        }

        public void Apply(ResourceLimits limits)
        {
            var named = Named(limits).ToList();
            if (named.Count > 0)
            {
                throw new ContainerException($"rootless: {string.Join(", ", named)} cannot be applied: {Why}");
            }
        }

        // Without a device cgroup a container opens what the host's permissions on the nodes it is given allow (they
        // are the host's nodes, bind-mounted: an unprivileged user cannot make device nodes).
        public void AllowDevices(IReadOnlyList<string> rules)
        {
        }

        public CgroupStats ReadStats() => new(0, 0, null, 0, ReadProcesses().Count, null);

        public long ReadOomKills() => 0;

        public void SetFrozen(bool frozen) => throw new ContainerException($"rootless: pausing needs the freezer cgroup: {Why}");

        /// <summary>The processes of the container's pid namespace (the group's stand-in).</summary>
        public IReadOnlyList<int> ReadProcesses()
        {
            if (firstPid == 0)
            {
                return [];
            }

            string ns;
            try
            {
                ns = File.ResolveLinkTarget($"/proc/{firstPid}/ns/pid", false)?.FullName ?? "";
            }
            catch (IOException)
            {
                return [];
            }

            var pids = new List<int>();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), out var pid))
                {
                    try
                    {
                        if (File.ResolveLinkTarget($"{dir}/ns/pid", false)?.FullName == ns)
                        {
                            pids.Add(pid);
                        }
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                    }
                }
            }

            return pids;
        }

        // the pid namespace ends with its init: what is left dies with it
        public void Delete()
        {
        }

        public ICgroup Rename(string newId) => new NoCgroup(newId) { firstPid = firstPid };
    }
}
