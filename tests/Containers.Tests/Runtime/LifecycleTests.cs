using System.Diagnostics;
using Containers.Runtime;

namespace Containers.Tests.Runtime;

public sealed class LifecycleTests
{
    [Theory]
    [InlineData("exit 0", 0)]
    [InlineData("exit 3", 3)]
    [InlineData("kill -9 $$", 0)] // PID 1 ignores signals from its own namespace, even SIGKILL, as under docker
    [InlineData("sh -c 'kill -TERM $$'; exit $?", 143)]
    public async Task Exit_codes(string script, int expected)
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", script));
        Assert.Equal(expected, r.ExitCode);
    }

    [Fact]
    public async Task Sigkill_from_outside_ends_pid_1_with_137()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sleep", "100").StartAsync();
        await c.KillAsync("KILL");
        var exit = await c.WaitAsync();
        Assert.Equal(137, exit.ExitCode);
        Assert.False(exit.OomKilled);
    }

    [Fact]
    public async Task Command_not_found_is_127_and_leaves_nothing()
    {
        await using var t = new TestEngine();
        var e = await Assert.ThrowsAsync<ContainerStartException>(() => t.Busybox("no-such-binary").StartAsync());
        Assert.Equal(127, e.ExitCode);
        Assert.Contains("executable file not found", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(t.Engine.List(all: true), s => s.IsActive);
        foreach (var s in t.Engine.List(all: true))
        {
            Assert.False(TestEngine.CgroupExists(s.Id));
            Assert.False(TestEngine.LinkExists("vcd" + s.Id[..11]));
            await t.Engine.Get(s.Id).RemoveAsync();
        }
    }

    [Fact]
    public async Task Missing_rootfs_is_a_clear_error()
    {
        await using var t = new TestEngine();
        var e = await Assert.ThrowsAsync<InvalidContainerSpecException>(() => t.Engine.FromRootfs("/no/such/rootfs").WithCommand("true").StartAsync());
        Assert.Contains("/no/such/rootfs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_sends_sigterm_then_kills_after_the_grace_period()
    {
        await using var t = new TestEngine();
        var trapping = await t.Busybox("sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done").StartAsync();
        await WaitForLog(trapping, "ready");
        var exit = await trapping.StopAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(7, exit.ExitCode);

        var ignoring = await t.Busybox("sleep", "100").StartAsync(); // PID 1 without a handler ignores SIGTERM
        var sw = Stopwatch.StartNew();
        var killed = await ignoring.StopAsync(TimeSpan.FromMilliseconds(500));
        Assert.Equal(137, killed.ExitCode);
        Assert.True(sw.Elapsed >= TimeSpan.FromMilliseconds(450), sw.Elapsed.ToString());
        Assert.False(TestEngine.CgroupExists(ignoring.Id));
    }

    [Fact]
    public async Task Kill_with_a_signal()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "trap 'exit 42' USR2; echo ready; while true; do sleep 0.05; done").StartAsync();
        await WaitForLog(c, "ready");
        await c.KillAsync("USR2");
        Assert.Equal(42, (await c.WaitAsync()).ExitCode);
    }

    [Fact]
    public async Task Exec_runs_in_the_containers_namespaces_with_its_own_exit_code()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "echo state > /tmp/marker; sleep 100").WithHostname("execbox").WithEnvironment("FROM_CONTAINER", "yes").StartAsync();
        for (var i = 0; i < 100 && !(await c.ExecAsync(["cat", "/tmp/marker"])).Stdout.Contains("state", StringComparison.Ordinal); i++)
        {
            await Task.Delay(20);
        }

        var r = await c.ExecAsync(["sh", "-c", "hostname; cat /tmp/marker; echo $FROM_CONTAINER; ps -o comm | grep -c '^sleep$'; exit 5"]);
        Assert.Equal(5, r.ExitCode);
        Assert.Equal("execbox\nstate\nyes\n1\n", r.Stdout);
        var missing = await Assert.ThrowsAsync<ContainerStartException>(() => c.ExecAsync(["nope"]));
        Assert.Equal(127, missing.ExitCode);
        var asUser = await c.StartExecAsync(new ExecOptions { Command = ["id", "-u"], User = "app" });
        await using (asUser)
        {
            Assert.Equal("1000\n", await new StreamReader(asUser.StandardOutput).ReadToEndAsync());
            Assert.Equal(0, await asUser.WaitAsync());
        }
    }

    [Fact]
    public async Task Logs_are_json_lines_with_streams_and_can_be_followed()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "echo out1; echo err1 >&2; sleep 0.3; echo out2").StartAsync();
        var followed = new List<LogEntry>();
        await foreach (var e in c.GetLogsAsync(follow: true))
        {
            followed.Add(e);
        }

        Assert.Equal(3, followed.Count);
        Assert.Contains(followed, e => e is { Stream: "stdout", Text: "out1\n" });
        Assert.Contains(followed, e => e is { Stream: "stderr", Text: "err1\n" });
        Assert.Contains(followed, e => e is { Stream: "stdout", Text: "out2\n" });
        var raw = File.ReadAllLines(Path.Combine(t.Root, "containers", c.Id, c.Id + "-json.log"));
        Assert.Contains(raw, l => l.StartsWith("{\"log\":\"out1\\n\",\"stream\":\"stdout\",\"time\":\"", StringComparison.Ordinal));
        var tail = new List<LogEntry>();
        await foreach (var e in c.GetLogsAsync(tail: 1))
        {
            tail.Add(e);
        }

        Assert.Single(tail);
    }

    [Fact]
    public async Task Pause_freezes_and_unpause_thaws()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "while true; do date +%s%N >> /tmp/ticks; sleep 0.02; done").StartAsync();
        await Task.Delay(200);
        await c.PauseAsync();
        Assert.Equal(ContainerStatus.Paused, c.State.Status);
        await Assert.ThrowsAsync<ContainerConflictException>(() => c.ExecAsync(["true"]));
        await c.UnpauseAsync();
        var r = await c.ExecAsync(["sh", "-c", "wc -l < /tmp/ticks"]);
        Assert.True(int.Parse(r.Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(ContainerStatus.Running, c.State.Status);
    }

    [Fact]
    public async Task Restart_policy_on_failure_with_a_retry_limit()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "echo run; exit 1").WithRestartPolicy(RestartPolicy.Parse("on-failure:2")).StartAsync();
        var exit = await c.WaitAsync();
        Assert.Equal(1, exit.ExitCode);
        Assert.Equal(2, c.State.RestartCount);
        var runs = new List<LogEntry>();
        await foreach (var e in c.GetLogsAsync())
        {
            runs.Add(e);
        }

        Assert.Equal(3, runs.Count);
    }

    [Fact]
    public async Task Logs_asked_for_before_the_container_is_removed_are_read_after_it()
    {
        // docker-py's containers.run: asks for the followed logs, waits, removes the container, then reads the body
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "echo first; echo second").StartAsync();
        var followed = c.GetLogsAsync(follow: true);
        var all = c.GetLogsAsync();
        Assert.Equal(0, (await c.WaitAsync()).ExitCode);
        await c.RemoveAsync();
        Assert.Null(t.Engine.List(all: true).FirstOrDefault(s => s.Id == c.Id));
        Assert.Equal(["first\n", "second\n"], await followed.Select(e => e.Text).ToListAsync());
        Assert.Equal(["first\n", "second\n"], await all.Select(e => e.Text).ToListAsync());
    }

    [Fact]
    public async Task Restart_policy_always_is_ended_by_stop()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "exit 0").WithRestartPolicy(RestartPolicy.Parse("always")).StartAsync();
        for (var i = 0; i < 200 && c.State.RestartCount < 2; i++)
        {
            await Task.Delay(20);
        }

        Assert.True(c.State.RestartCount >= 2);
        await c.StopAsync(TimeSpan.FromSeconds(1));
        var count = c.State.RestartCount;
        await Task.Delay(500);
        Assert.Equal(count, c.State.RestartCount);
        Assert.Equal(ContainerStatus.Exited, c.State.Status);
    }

    [Fact]
    public async Task Removing_a_running_container_needs_force()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sleep", "100").StartAsync();
        await Assert.ThrowsAsync<ContainerConflictException>(() => c.RemoveAsync());
        await c.RemoveAsync(force: true);
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Get(c.Id));
        Assert.False(TestEngine.CgroupExists(c.Id));
    }

    [Fact]
    public async Task Names_are_unique()
    {
        await using var t = new TestEngine();
        await using var a = await t.Busybox("sleep", "100").WithName("only-one").StartAsync();
        var e = await Assert.ThrowsAsync<ContainerConflictException>(() => t.Busybox("true").WithName("only-one").StartAsync());
        Assert.Contains("already in use", e.Message, StringComparison.Ordinal);
    }

    internal static async Task WaitForLog(Container c, string text)
    {
        for (var i = 0; i < 500; i++)
        {
            await foreach (var e in c.GetLogsAsync())
            {
                if (e.Text.Contains(text, StringComparison.Ordinal))
                {
                    return;
                }
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"'{text}' never appeared in the logs of {c.Name}");
    }
}

public sealed class ExecTerminalTests
{
    [Fact]
    public async Task Exec_with_a_tty_gets_a_terminal_and_interactive_stdin()
    {
        await using var t = new TestEngine();
        await using var c = await t.Busybox("sleep", "100").StartAsync();
        await using var exec = await c.StartExecAsync(new ExecOptions { Command = ["sh", "-c", "test -t 0 && echo tty-yes; read x; echo got-$x"], Tty = true, OpenStdin = true });
        await exec.Terminal!.WriteAsync("abc\n"u8.ToArray());
        await exec.Terminal.FlushAsync();
        var output = new MemoryStream();
        var buf = new byte[1024];
        var text = "";
        while (!text.Contains("got-abc", StringComparison.Ordinal))
        {
            int n;
            try
            {
                n = await exec.Terminal.ReadAsync(buf);
            }
            catch (IOException)
            {
                break;
            }

            if (n == 0)
            {
                break;
            }

            output.Write(buf, 0, n);
            text = System.Text.Encoding.UTF8.GetString(output.ToArray());
        }

        Assert.Contains("tty-yes", text, StringComparison.Ordinal);
        Assert.Contains("got-abc", text, StringComparison.Ordinal);
        Assert.Equal(0, await exec.WaitAsync());
    }
}

[CollectionDefinition("Counts this process's children", DisableParallelization = true)]
public sealed class SerialCollection;

[Collection("Counts this process's children")]
public sealed class ShimPoolTests
{
    [Fact]
    public async Task The_prespawned_shim_serves_the_next_start_and_ends_with_the_engine()
    {
        var t = new TestEngine();
        Assert.Equal(0, ShimChildren());
        Assert.Equal("one\n", (await t.RunAsync(t.Busybox("echo", "one"))).Stdout);
        Assert.Equal("two\n", (await t.RunAsync(t.Busybox("echo", "two").WithHostname("second"))).Stdout);
        for (var i = 0; i < 100 && ShimChildren() == 0; i++)
        {
            await Task.Delay(10); // the pool refills in the background
        }

        Assert.Equal(1, ShimChildren());

        // it warms up under SCHED_IDLE (5), so it never slows a start; the container it serves runs under SCHED_OTHER (0)
        for (var i = 0; i < 100 && ShimPolicies().FirstOrDefault() != "5"; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(["5"], ShimPolicies());
        Assert.Equal("0\n", (await t.RunAsync(t.Busybox("sh", "-c", "cut -d' ' -f41 /proc/self/stat"))).Stdout);
        var tty = await t.RunAsync(t.Busybox("sh", "-c", "test -t 1 && echo tty").WithTty()); // not pooled: spawned fresh
        Assert.Contains("tty", tty.Stdout, StringComparison.Ordinal);
        await t.DisposeAsync();
        Assert.Equal(0, ShimChildren());
    }

    [Fact]
    public async Task A_mount_undone_keeps_the_pooled_shim_and_a_lasting_one_replaces_it()
    {
        var t = new TestEngine();
        var dir = Directory.CreateTempSubdirectory("containers-pool-mount-").FullName;
        try
        {
            await t.RunAsync(t.Busybox("true"));
            await t.RunAsync(t.Busybox("true"));
            var pooled = await PooledShimAsync();

            // another runtime's transient mount (each crun run makes one): the table is the same again
            Images.TestRegistry.Run("mount", "-t", "tmpfs", "containers-pool-test", dir);
            Images.TestRegistry.Run("umount", dir);
            await using (var c = await t.Engine.StartAsync(t.Busybox("true").ToSpec()))
            {
                Assert.Equal(pooled, c.State.Pid); // the pooled shim became the container
                await c.WaitAsync();
            }

            // a lasting mount made after the pooled shim copied the table: that copy would not show it
            pooled = await PooledShimAsync();
            Images.TestRegistry.Run("mount", "-t", "tmpfs", "containers-pool-test", dir);
            File.WriteAllText(Path.Combine(dir, "marker"), "on the tmpfs\n");
            var spec = t.Busybox("cat", "/data/marker").WithBindMount(dir, "/data").ToSpec();
            var output = new System.Text.StringBuilder();
            await using (var c = await t.Engine.StartAsync(spec, (_, bytes) => { lock (output) { output.Append(System.Text.Encoding.UTF8.GetString(bytes.Span)); } }))
            {
                Assert.NotEqual(pooled, c.State.Pid);
                await c.WaitAsync();
            }

            lock (output)
            {
                Assert.Equal("on the tmpfs\n", output.ToString());
            }
        }
        finally
        {
            if (File.ReadAllText("/proc/self/mountinfo").Contains(" " + dir + " ", StringComparison.Ordinal))
            {
                Images.TestRegistry.Run("umount", dir);
            }

            await t.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }

        Assert.Equal(0, ShimChildren());
    }

    [Fact]
    public async Task The_first_start_takes_the_shim_spawned_as_the_engine_was_made_and_none_follows_it()
    {
        var first = new ContainerSpec { Rootfs = TestRootfs.Path, Command = ["echo", "one"] };
        var t = new TestEngine(prespawnShim: false, configure: o => o with { FirstStart = first });
        try
        {
            var primed = await PooledShimAsync();
            Assert.Equal(["0"], ShimPolicies()); // awaited at once: normal priority, not SCHED_IDLE
            var output = new System.Text.StringBuilder();
            await using (var c = await t.Engine.StartAsync(first, (_, bytes) => { lock (output) { output.Append(System.Text.Encoding.UTF8.GetString(bytes.Span)); } }))
            {
                Assert.Equal(primed, c.State.Pid); // the primed shim became the container
                Assert.Equal(0, (await c.WaitAsync()).ExitCode);
            }

            lock (output)
            {
                Assert.Equal("one\n", output.ToString());
            }

            await Task.Delay(100);
            Assert.Equal(0, ShimChildren()); // a one-shot engine spawns no other ahead
            Assert.Equal("two\n", (await t.RunAsync(t.Busybox("echo", "two"))).Stdout);
        }
        finally
        {
            await t.DisposeAsync();
        }

        Assert.Equal(0, ShimChildren());
        Assert.Empty(PoolCgroups());
    }

    [Fact]
    public async Task A_first_start_of_another_shape_spawns_its_own_and_the_unused_shim_goes_with_the_engine()
    {
        // a terminal cannot be pooled: nothing is spawned ahead for it
        var tty = new ContainerSpec { Rootfs = TestRootfs.Path, Command = ["true"], Tty = true };
        await using (var t = new TestEngine(prespawnShim: false, configure: o => o with { FirstStart = tty }))
        {
            await Task.Delay(100);
            Assert.Equal(0, ShimChildren());
        }

        // spawned ahead for one shape, started with another: the start spawns its own, the primed one exits unused
        var t2 = new TestEngine(prespawnShim: false, configure: o => o with { FirstStart = new ContainerSpec { Rootfs = TestRootfs.Path, Command = ["true"] } });
        try
        {
            var primed = await PooledShimAsync();
            var run = await t2.RunAsync(t2.Busybox("sh", "-c", "test -t 1 && echo tty").WithTty());
            Assert.Contains("tty", run.Stdout, StringComparison.Ordinal);
            Assert.Equal([primed.ToString(System.Globalization.CultureInfo.InvariantCulture)], ShimPids());
        }
        finally
        {
            await t2.DisposeAsync();
        }

        Assert.Equal(0, ShimChildren());
        Assert.Empty(PoolCgroups());
    }

    /// <summary>This process's pooled shims' cgroups (<c>pool-PID-*</c>) left in any hierarchy.</summary>
    private static string[] PoolCgroups() =>
        [.. Directory.EnumerateDirectories("/sys/fs/cgroup").SelectMany(h => Directory.Exists(Path.Combine(h, "containers-dotnet"))
            ? Directory.EnumerateDirectories(Path.Combine(h, "containers-dotnet"), $"{Containers.Runtime.ShimPool.PoolPrefix}{Environment.ProcessId}-*")
            : [])];

    private static async Task<int> PooledShimAsync()
    {
        for (var i = 0; i < 200 && ShimChildren() != 1; i++)
        {
            await Task.Delay(10);
        }

        return int.Parse(Assert.Single(ShimPids()), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Shims waiting for a configuration: children of this process still running containers-shim.</summary>
    private static int ShimChildren() => ShimPids().Count();

    /// <summary>The scheduling policy of each waiting shim (field 41 of its stat).</summary>
    private static string[] ShimPolicies() =>
        [.. ShimPids().Select(pid => { var stat = File.ReadAllText($"/proc/{pid}/stat"); return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[38]; })];

    private static IEnumerable<string> ShimPids() => Directory.EnumerateDirectories("/proc")
        .Select(Path.GetFileName)
        .Where(n => n!.All(char.IsAsciiDigit))
        .Where(pid =>
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var ppid = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1];
                return ppid == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)
                    && (new FileInfo($"/proc/{pid}/exe").LinkTarget ?? "").EndsWith("containers-shim", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        })
        .Select(pid => pid!)
        .ToList();
}
