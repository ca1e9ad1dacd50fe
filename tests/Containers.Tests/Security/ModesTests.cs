namespace Containers.Tests.Security;

/// <summary>Docker's modes on real containers: --privileged, --init, --device, --pid, --ipc and --volumes-from.</summary>
public sealed class ModesTests
{
    [Fact]
    public async Task Privileged_gets_every_capability_no_filter_host_devices_and_unmasked_writable_proc_and_sys()
    {
        await using var t = new TestEngine();
        const string Probe = "grep -E '^(CapEff|Seccomp):' /proc/self/status; [ -c /proc/keys ] && echo keys=masked; [ -e /dev/kmsg ] && echo kmsg=present; "
            + "grep ' /sys ' /proc/self/mountinfo | grep -q ' ro,' && echo sys=ro || echo sys=rw; "
            + "head -c 1 /dev/kmsg >/dev/null 2>&1 && echo kmsg=readable || echo kmsg=unreadable";
        var plain = await t.RunAsync(t.Busybox("sh", "-c", Probe));
        Assert.Contains("CapEff:\t00000000a80425fb", plain.Stdout, StringComparison.Ordinal); // Docker's default set
        Assert.Contains("Seccomp:\t2", plain.Stdout, StringComparison.Ordinal);
        Assert.Contains("keys=masked", plain.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("kmsg=present", plain.Stdout, StringComparison.Ordinal);
        Assert.Contains("sys=ro", plain.Stdout, StringComparison.Ordinal);

        var privileged = await t.RunAsync(t.Busybox("sh", "-c", Probe).WithPrivileged().WithCapDrop("ALL"));
        var held = File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapPrm:", StringComparison.Ordinal))[7..].Trim();
        Assert.Contains($"CapEff:\t{held}", privileged.Stdout, StringComparison.Ordinal); // every one the engine has; --cap-drop does not apply
        Assert.Contains("Seccomp:\t0", privileged.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("keys=masked", privileged.Stdout, StringComparison.Ordinal);
        Assert.Contains("kmsg=present", privileged.Stdout, StringComparison.Ordinal);
        Assert.Contains("kmsg=readable", privileged.Stdout, StringComparison.Ordinal); // the node, and the device cgroup opened
        Assert.Contains("sys=rw", privileged.Stdout, StringComparison.Ordinal);

        // docker exec --privileged: every capability for that process only
        await using var c = await t.Busybox("sleep", "60").StartAsync();
        await using (var exec = await c.StartExecAsync(new Containers.ExecOptions { Command = ["grep", "CapEff", "/proc/self/status"], Privileged = true }))
        {
            Assert.Equal($"CapEff:\t{held}\n", await new StreamReader(exec.StandardOutput).ReadToEndAsync());
            await exec.WaitAsync();
        }

        Assert.Equal("CapEff:\t00000000a80425fb\n", (await c.ExecAsync(["grep", "CapEff", "/proc/self/status"])).Stdout);
        await c.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Init_reaps_orphans_forwards_signals_and_exits_with_the_commands_status()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo pid=$$ ppid=$PPID; exit 3").WithInit());
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("/sbin/docker-init -- sh -c", r.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"pid=([2-9]|\d\d+) ppid=1\n", r.Stdout); // the command is the init's child

        // an orphan's zombie: reaped by the init, left by a payload that is PID 1 itself and never waits
        const string Orphan = "sh -c 'sleep 0.2 &'; exec sleep 30";
        await using (var with = await t.Busybox("sh", "-c", Orphan).WithInit().StartAsync())
        await using (var without = await t.Busybox("sh", "-c", Orphan).StartAsync())
        {
            await Task.Delay(1000);
            const string Zombies = "cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == \"Z\"' | wc -l";
            Assert.Equal("0", (await with.ExecAsync(["sh", "-c", Zombies])).Stdout.Trim());
            Assert.Equal("1", (await without.ExecAsync(["sh", "-c", Zombies])).Stdout.Trim());
            await without.RemoveAsync(force: true);

            // SIGTERM reaches the command through the init (sleep as PID 1 would ignore it until SIGKILL)
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var exit = await with.StopAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(143, exit.ExitCode);
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"stop took {sw.Elapsed}: the signal was not forwarded");
            await with.RemoveAsync(force: true);
        }

        // a command that does not exist: the init says so and exits 127, as docker-init does
        r = await t.RunAsync(t.Busybox("/no/such/command").WithInit());
        Assert.Equal(127, r.ExitCode);
        Assert.Contains("containers-init: exec /no/such/command failed", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_device_appears_with_the_access_its_permissions_give()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "ls -l /dev/mynull; echo x > /dev/mynull && echo write=ok; cat /dev/mynull && echo read=ok").WithDevice("/dev/null:/dev/mynull:rwm"));
        Assert.StartsWith("crw-rw-rw-", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("write=ok", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("read=ok", r.Stdout, StringComparison.Ordinal);

        // /dev/kmsg (1:11) is outside the default allow-list: with "r" it reads, and writing is refused by the device cgroup
        r = await t.RunAsync(t.Busybox("sh", "-c", "echo x > /dev/kmsg 2>&1; echo write=$?; head -c 1 /dev/kmsg >/dev/null && echo read=ok").WithDevice("/dev/kmsg:r").WithCapAdd("SYSLOG"));
        Assert.Contains("Operation not permitted", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("write=1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("read=ok", r.Stdout, StringComparison.Ordinal);

        var e = await Assert.ThrowsAsync<InvalidContainerSpecException>(() => t.Engine.StartAsync(t.Busybox("true").WithDevice("/etc/passwd").ToSpec()));
        Assert.Contains("\"/etc/passwd\": not a device node", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidContainerSpecException>(() => t.Busybox("true").WithDevice("/dev/null:/dev/x:rwx"));
    }

    [Fact]
    public async Task Pid_host_and_container_share_the_pid_namespace()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", $"test -d /proc/{Environment.ProcessId} && echo sees-host; readlink /proc/self/ns/pid").WithPidMode("host"));
        Assert.Contains("sees-host", r.Stdout, StringComparison.Ordinal);
        Assert.Contains(new FileInfo("/proc/self/ns/pid").LinkTarget!, r.Stdout, StringComparison.Ordinal);

        await using var first = await t.Busybox("sleep", "60").WithName("pid-donor").StartAsync();
        r = await t.RunAsync(t.Busybox("sh", "-c", "ps -o pid,args | grep -v grep | grep 'sleep 60'; readlink /proc/1/ns/pid").WithPidMode("container:pid-donor"));
        Assert.Matches(@"^\s*1\s+sleep 60", r.Stdout);
        var donorNs = (await first.ExecAsync(["readlink", "/proc/self/ns/pid"])).Stdout.Trim();
        Assert.Contains(donorNs, r.Stdout, StringComparison.Ordinal);

        var e = await Assert.ThrowsAsync<ContainerNotFoundException>(() => t.Engine.StartAsync(t.Busybox("true").WithPidMode("container:nope").ToSpec()));
        Assert.Equal("pid mode container:nope: no such container", e.Message);
        Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithPidMode("private").ToSpec()));
        await first.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Ipc_shareable_container_none_and_host()
    {
        await using var t = new TestEngine();
        await using var donor = await t.Busybox("sleep", "60").WithName("ipc-donor").WithIpcMode("shareable").StartAsync();
        await donor.ExecAsync(["sh", "-c", "echo shared > /dev/shm/marker"]);
        var donorNs = (await donor.ExecAsync(["readlink", "/proc/self/ns/ipc"])).Stdout.Trim();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "cat /dev/shm/marker; readlink /proc/self/ns/ipc; echo back > /dev/shm/reply").WithIpcMode("container:ipc-donor"));
        Assert.Contains("shared", r.Stdout, StringComparison.Ordinal);
        Assert.Contains(donorNs, r.Stdout, StringComparison.Ordinal);
        Assert.Equal("back", (await donor.ExecAsync(["cat", "/dev/shm/reply"])).Stdout.Trim());

        // a private one cannot be joined
        await using var loner = await t.Busybox("sleep", "60").WithName("ipc-private").StartAsync();
        var e = await Assert.ThrowsAsync<ContainerConflictException>(() => t.Engine.StartAsync(t.Busybox("true").WithIpcMode("container:ipc-private").ToSpec()));
        Assert.Contains("non-shareable IPC", e.Message, StringComparison.Ordinal);

        r = await t.RunAsync(t.Busybox("sh", "-c", "test -e /dev/shm && echo shm=yes || echo shm=no").WithIpcMode("none"));
        Assert.Contains("shm=no", r.Stdout, StringComparison.Ordinal);
        r = await t.RunAsync(t.Busybox("readlink", "/proc/self/ns/ipc").WithIpcMode("host"));
        Assert.Equal(new FileInfo("/proc/self/ns/ipc").LinkTarget, r.Stdout.Trim());

        // the shareable /dev/shm is a host mount of the donor's run: gone when it stops
        var shm = Path.Combine(t.Root, "containers", donor.Id, "shm");
        Assert.Contains(File.ReadLines("/proc/self/mountinfo"), l => l.Contains(shm, StringComparison.Ordinal));
        await donor.StopAsync(TimeSpan.Zero);
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), l => l.Contains(shm, StringComparison.Ordinal));
        await donor.RemoveAsync(force: true);
        await loner.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Volumes_from_mounts_what_the_other_container_mounts()
    {
        await using var t = new TestEngine();
        var host = Directory.CreateTempSubdirectory("volumes-from-");
        try
        {
            var source = t.Engine.Create(t.Busybox("true").WithName("data-holder").WithVolume("holder-data", "/data").WithBindMount(host.FullName, "/bound").ToSpec());
            var r = await t.RunAsync(t.Busybox("sh", "-c", "echo one > /data/f && echo two > /bound/g && cat /data/f /bound/g").WithVolumesFrom("data-holder"));
            Assert.Equal("one\ntwo\n", r.Stdout);
            Assert.Equal("two\n", File.ReadAllText(Path.Combine(host.FullName, "g")));
            r = await t.RunAsync(t.Busybox("sh", "-c", "cat /data/f; echo three > /data/f; echo write=$?").WithVolumesFrom("data-holder:ro"));
            Assert.Contains("one", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("write=1", r.Stdout, StringComparison.Ordinal);
            await Assert.ThrowsAsync<ContainerNotFoundException>(() => t.Engine.StartAsync(t.Busybox("true").WithVolumesFrom("nobody").ToSpec()));
            await source.RemoveAsync(force: true);
        }
        finally
        {
            host.Delete(recursive: true);
        }
    }
}
