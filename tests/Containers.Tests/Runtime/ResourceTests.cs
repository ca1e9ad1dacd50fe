using Containers.Runtime;

namespace Containers.Tests.Runtime;

public sealed class ResourceTests
{
    [Fact]
    public async Task Oom_kill_is_reported_as_137_and_OOMKilled()
    {
        await using var t = new TestEngine();
        var direct = await t.Busybox("tail", "/dev/zero").WithMemoryLimit(16 * 1024 * 1024, 16 * 1024 * 1024).StartAsync();
        var exit = await direct.WaitAsync();
        Assert.Equal(137, exit.ExitCode);
        Assert.True(exit.OomKilled);
        Assert.True(direct.State.OomKilled);
        Assert.False(TestEngine.CgroupExists(direct.Id));
    }

    [Fact]
    public async Task Pids_limit_stops_fork_bombs()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done 2>&1; echo started; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null; true").WithPidsLimit(5));
        Assert.Contains("can't fork", r.Stdout, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Limits_are_written_to_the_cgroup_and_stats_read_back()
    {
        await using var t = new TestEngine();
        await using var c = await t.Busybox("sleep", "100").WithMemoryLimit(ByteSize.Parse("64m")).WithCpus(0.5).WithPidsLimit(20).WithCpuShares(512).StartAsync();
        var stats = await c.GetStatsAsync();
        Assert.Equal(64L * 1024 * 1024, stats.MemoryLimitBytes);
        Assert.Equal(20, stats.PidsLimit);
        Assert.Equal(1, stats.Pids);
        Assert.True(stats.MemoryUsageBytes > 0);
        if (t.Engine.CgroupVersion == "v1")
        {
            Assert.Equal("50000", File.ReadAllText($"/sys/fs/cgroup/cpu/containers-dotnet/{c.Id}/cpu.cfs_quota_us").Trim());
            Assert.Equal("512", File.ReadAllText($"/sys/fs/cgroup/cpu/containers-dotnet/{c.Id}/cpu.shares").Trim());
            Assert.Equal((128L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText($"/sys/fs/cgroup/memory/containers-dotnet/{c.Id}/memory.memsw.limit_in_bytes").Trim());
        }
    }

    [Theory]
    [InlineData("64m", 64L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("512k", 512L << 10)]
    [InlineData("1024", 1024)]
    [InlineData("1.5g", 3L << 29)]
    public void Byte_sizes_parse_like_docker(string value, long expected) => Assert.Equal(expected, ByteSize.Parse(value));

    [Theory]
    [InlineData("lots")]
    [InlineData("64x")]
    [InlineData("-1m")]
    [InlineData("")]
    public void Invalid_memory_strings_are_refused_with_the_value(string value)
    {
        var e = Assert.Throws<InvalidContainerSpecException>(() => ByteSize.Parse(value));
        Assert.Contains($"'{value}'", e.Message, StringComparison.Ordinal);
    }
}
