using Containers.Linux;
using Containers.Runtime.Cgroups;

namespace Containers.Tests.Runtime.Cgroups;

/// <summary>cgroup v2 is not delegated on this machine: its file logic runs against a temp tree shaped like one.</summary>
public sealed class CgroupV2Tests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("cgv2-").FullName;

    [Fact]
    public void Limits_stats_oom_and_freeze_use_the_v2_files()
    {
        Directory.CreateDirectory(Path.Combine(root, "containers-dotnet"));
        File.WriteAllText(Path.Combine(root, "containers-dotnet", "cgroup.controllers"), "cpuset cpu io memory pids");
        File.WriteAllText(Path.Combine(root, "containers-dotnet", "cgroup.subtree_control"), "");
        var manager = new CgroupV2Manager(root, LinuxSyscalls.Instance);
        var g = manager.Create("abc");
        var dir = Path.Combine(root, "containers-dotnet", "abc");
        Assert.Equal("+memory +cpu +pids", File.ReadAllText(Path.Combine(root, "containers-dotnet", "cgroup.subtree_control")));

        g.Apply(new ResourceLimits(MemoryBytes: 64 << 20, NanoCpus: 1_500_000_000, CpuShares: 512, PidsLimit: 10));
        Assert.Equal("67108864", File.ReadAllText(Path.Combine(dir, "memory.max")));
        Assert.Equal("67108864", File.ReadAllText(Path.Combine(dir, "memory.swap.max")));
        Assert.Equal("150000 100000", File.ReadAllText(Path.Combine(dir, "cpu.max")));
        Assert.Equal("20", File.ReadAllText(Path.Combine(dir, "cpu.weight")));
        Assert.Equal("10", File.ReadAllText(Path.Combine(dir, "pids.max")));

        File.WriteAllText(Path.Combine(dir, "memory.current"), "1234\n");
        File.WriteAllText(Path.Combine(dir, "memory.peak"), "5678\n");
        File.WriteAllText(Path.Combine(dir, "cpu.stat"), "usage_usec 42\nuser_usec 40\nsystem_usec 2\n");
        File.WriteAllText(Path.Combine(dir, "pids.current"), "3\n");
        File.WriteAllText(Path.Combine(dir, "memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
        Assert.Equal(new CgroupStats(1234, 5678, 64 << 20, 42_000, 3, 10), g.ReadStats());
        Assert.Equal(1, g.ReadOomKills());

        File.WriteAllText(Path.Combine(dir, "cgroup.events"), "populated 1\nfrozen 1\n");
        g.SetFrozen(true);
        Assert.Equal("1", File.ReadAllText(Path.Combine(dir, "cgroup.freeze")));

        g.Apply(new ResourceLimits(MemoryBytes: 64 << 20, MemorySwapBytes: -1));
        Assert.Equal("max", File.ReadAllText(Path.Combine(dir, "memory.swap.max")));
        Assert.Equal(["abc"], manager.List());
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1024, 39)]
    [InlineData(262144, 10000)]
    public void Cpu_shares_convert_to_weight_as_docker_does(long shares, long weight) => Assert.Equal(weight, CgroupV2Manager.SharesToWeight(shares));

    public void Dispose() => Directory.Delete(root, true);
}
