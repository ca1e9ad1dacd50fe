using Containers.Runtime;

namespace Containers.Tests.Runtime;

public sealed class DetachedTests
{
    [Fact]
    public async Task A_detached_container_survives_its_engine_and_is_found_by_a_new_one()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "echo detached-hello; sleep 100").WithName("survivor").StartDetachedAsync();
        var monitor = c.State.MonitorPid;
        Assert.NotEqual(Environment.ProcessId, monitor);
        await t.Engine.DisposeAsync(); // the engine that started it is gone; the monitor is not

        var second = new ContainerEngine(t.Options);
        var found = second.Get("survivor");
        Assert.Equal(ContainerStatus.Running, found.State.Status);
        Assert.True(Directory.Exists($"/proc/{found.State.Pid}"));
        await LifecycleTests.WaitForLog(found, "detached-hello");
        var exec = await found.ExecAsync(["echo", "from-exec"]);
        Assert.Equal("from-exec\n", exec.Stdout);
        var exit = await found.StopAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal(137, exit.ExitCode);
        for (var i = 0; i < 200 && Directory.Exists($"/proc/{monitor}"); i++)
        {
            await Task.Delay(10);
        }

        Assert.False(Directory.Exists($"/proc/{monitor}"), "the monitor exits once its container is done");
        Assert.False(TestEngine.CgroupExists(found.Id));
        await found.RemoveAsync();
    }

    [Fact]
    public async Task A_detached_containers_stdin_and_terminal_are_reached_from_another_engine_through_its_monitor()
    {
        await using var t = new TestEngine();
        var reader = await t.Busybox("sh", "-c", "read a; echo got-$a; read b; echo got-$b; cat; echo stdin-closed").WithOpenStdin().WithStdinOnce().StartDetachedAsync();
        var sized = await t.Busybox("sh", "-c", "read x; stty size; sleep 100").WithOpenStdin().WithTty().StartDetachedAsync();
        await t.Engine.DisposeAsync();

        var other = new ContainerEngine(t.Options); // as another process would: the monitors hold stdin and the terminal
        var found = other.Get(reader.Id);
        using (var input = found.OpenInput())
        {
            Assert.NotNull(input);
            await input.WriteAsync("one\ntwo\n"u8.ToArray());
            await LifecycleTests.WaitForLog(found, "got-two");
        }

        // the first session's end closed its stdin (StdinOnce): cat ends and the container exits
        Assert.Equal(0, (await found.WaitAsync()).ExitCode);
        await LifecycleTests.WaitForLog(found, "stdin-closed");

        var tty = other.Get(sized.Id);
        tty.ResizeTerminal(33, 77);
        using (var input = tty.OpenInput())
        {
            await input!.WriteAsync("go\n"u8.ToArray());
            await LifecycleTests.WaitForLog(tty, "33 77");
        }

        Assert.Equal(ContainerStatus.Running, tty.State.Status); // no StdinOnce: the session's end closes nothing
        Assert.Null(other.Get(reader.Id).OpenInput()); // it no longer runs
        await tty.RemoveAsync(force: true);
        await found.RemoveAsync();
    }

    [Fact]
    public async Task A_detached_start_failure_comes_back_as_the_same_error()
    {
        await using var t = new TestEngine();
        var e = await Assert.ThrowsAsync<ContainerStartException>(() => t.Busybox("no-such-command").StartDetachedAsync());
        Assert.Equal(127, e.ExitCode);
    }

    [Fact]
    public async Task The_sweep_cleans_up_after_a_killed_monitor()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sleep", "100").StartDetachedAsync();
        var s = c.State;
        System.Diagnostics.Process.GetProcessById(s.MonitorPid).Kill(); // kill -9 of the supervising process
        for (var i = 0; i < 200 && Directory.Exists($"/proc/{s.MonitorPid}"); i++)
        {
            await Task.Delay(10);
        }

        _ = new ContainerEngine(t.Options); // a new engine sweeps at start
        var after = c.State;
        Assert.Equal(ContainerStatus.Exited, after.Status);
        Assert.False(new ProcessIdentity(s.Pid, s.PidStartTime).IsAlive);
        Assert.False(TestEngine.CgroupExists(c.Id));
        await c.RemoveAsync();
    }
}

public sealed class CreateStartTests
{
    [Fact]
    public async Task Create_reserves_the_name_and_an_exited_container_starts_again_but_a_running_one_does_not()
    {
        await using var t = new TestEngine();
        var created = t.Engine.Create(t.Busybox("sh", "-c", "echo created-then-started").WithName("later").ToSpec());
        Assert.Equal(ContainerStatus.Created, created.State.Status);
        Assert.False(TestEngine.CgroupExists(created.Id));
        await Assert.ThrowsAsync<ContainerConflictException>(() => t.Busybox("true").WithName("later").StartAsync());

        _ = new ContainerEngine(t.Options); // a sweep by another engine keeps a created container
        Assert.Equal(ContainerStatus.Created, created.State.Status);

        await created.StartAsync();
        Assert.Equal(0, (await created.WaitAsync()).ExitCode);
        await LifecycleTests.WaitForLog(created, "created-then-started");

        // docker start: an exited container runs again, keeping its filesystem changes and its log
        await created.StartAsync();
        Assert.Equal(0, (await created.WaitAsync()).ExitCode);
        for (var i = 0; i < 100 && (await created.GetLogsAsync().ToListAsync()).Count < 2; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(2, (await created.GetLogsAsync().ToListAsync()).Count(l => l.Text.Contains("created-then-started", StringComparison.Ordinal)));
        await created.RemoveAsync();

        await using var running = await t.Busybox("sleep", "60").StartAsync();
        await Assert.ThrowsAsync<ContainerConflictException>(() => running.StartAsync());
    }
}
