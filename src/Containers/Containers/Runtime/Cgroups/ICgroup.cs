namespace Containers.Runtime.Cgroups;

/// <summary>One container's control group, in whichever hierarchy the machine has.</summary>
public interface ICgroup
{
    /// <summary>The container id the group is named after.</summary>
    string Id { get; }

    /// <summary>Moves <paramref name="pid"/> into the group. Throws <see cref="ContainerException"/> on failure.</summary>
    void AddProcess(int pid);

    /// <summary>
    /// Moves the calling thread (only it) into the group, so that a process it then forks is born there, and returns
    /// true; false where the backend cannot (v2 moves whole processes). Under v1 the kernel moves the caller's own
    /// thread without waiting for the RCU grace period that moving another process waits for (4-11 ms here). The
    /// thread leaves the group when it exits. Throws <see cref="ContainerException"/> on failure.
    /// </summary>
    bool TryAddCurrentThread() => false;

    /// <summary>Writes the limits (memory, swap, cpu, pids). Throws <see cref="ContainerException"/> naming the file on failure.</summary>
    void Apply(ResourceLimits limits);

    /// <summary>
    /// Opens devices on top of the default allow-list: rules as the v1 devices controller takes them
    /// (<c>c 1:3 rwm</c>, <c>a *:* rwm</c> for every device). Under v2 the group's device program is replaced by one
    /// with the defaults and these.
    /// </summary>
    void AllowDevices(IReadOnlyList<string> rules);

    /// <summary>Reads memory, cpu and pids usage.</summary>
    CgroupStats ReadStats();

    /// <summary>The number of OOM kills in the group so far.</summary>
    long ReadOomKills();

    /// <summary>Freezes (true) or thaws (false) every process in the group and waits until the kernel has done it.</summary>
    void SetFrozen(bool frozen);

    /// <summary>The pids in the group.</summary>
    IReadOnlyList<int> ReadProcesses();

    /// <summary>Kills what is left in the group and removes it (retrying while the kernel reports it busy).</summary>
    void Delete();

    /// <summary>Renames the group (with its processes and settings) to <paramref name="newId"/>, which has the same parent.</summary>
    ICgroup Rename(string newId);
}

/// <summary>Creates and finds the cgroups of containers; every group lives under one <c>containers-dotnet</c> parent.</summary>
public interface ICgroupManager
{
    /// <summary>"v1" or "v2".</summary>
    string Version { get; }

    /// <summary>Creates the group for <paramref name="id"/> (idempotent).</summary>
    ICgroup Create(string id);

    /// <summary>Opens the existing group of <paramref name="id"/> without creating it.</summary>
    ICgroup Open(string id);

    /// <summary>The ids of every group under the parent (for the start-up sweep).</summary>
    IReadOnlyList<string> List();
}

/// <summary>Resource limits in the units Docker uses. Null means unlimited.</summary>
/// <param name="MemoryBytes">Hard memory limit (<c>--memory</c>).</param>
/// <param name="MemorySwapBytes">Memory plus swap (<c>--memory-swap</c>); -1 for unlimited swap; null for twice the memory limit, as docker does.</param>
/// <param name="NanoCpus">CPU quota in billionths of a CPU (<c>--cpus 0.5</c> = 500000000).</param>
/// <param name="CpuShares">Relative weight (<c>--cpu-shares</c>, default 1024).</param>
/// <param name="PidsLimit">Maximum number of processes (<c>--pids-limit</c>).</param>
public sealed record ResourceLimits(long? MemoryBytes = null, long? MemorySwapBytes = null, long? NanoCpus = null, long? CpuShares = null, long? PidsLimit = null)
{
    /// <summary>No limits.</summary>
    public static ResourceLimits None { get; } = new();
}

/// <summary>A snapshot of a group's usage.</summary>
/// <param name="MemoryUsageBytes">Current memory usage.</param>
/// <param name="MemoryPeakBytes">Highest memory usage seen.</param>
/// <param name="MemoryLimitBytes">The memory limit, null when unlimited.</param>
/// <param name="CpuUsageNanoseconds">Total CPU time consumed.</param>
/// <param name="Pids">Current number of processes.</param>
/// <param name="PidsLimit">The pids limit, null when unlimited.</param>
public sealed record CgroupStats(long MemoryUsageBytes, long MemoryPeakBytes, long? MemoryLimitBytes, long CpuUsageNanoseconds, long Pids, long? PidsLimit);
