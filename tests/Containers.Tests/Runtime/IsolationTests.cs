namespace Containers.Tests.Runtime;

public sealed class IsolationTests
{
    [Fact]
    public async Task Payload_is_pid_1_and_sees_no_host_pids()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "echo pid=$$; ls /proc | grep -E '^[0-9]+$' | wc -l"));
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("pid=1", r.Stdout, StringComparison.Ordinal);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(int.Parse(lines[1].Trim(), System.Globalization.CultureInfo.InvariantCulture) <= 4, r.Stdout);
    }

    [Fact]
    public async Task Hostname_is_set_and_host_files_are_not_visible()
    {
        await using var t = new TestEngine();
        var marker = Path.Combine(Path.GetTempPath(), "host-marker-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(marker, "x");
        try
        {
            var r = await t.RunAsync(t.Busybox("sh", "-c", $"hostname; cat /etc/hostname; test -e {marker} && echo visible || echo hidden; test -e /usr/share/dotnet && echo dotnet || echo nodotnet").WithHostname("box1"));
            Assert.Equal("box1\nbox1\nhidden\nnodotnet\n", r.Stdout);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task Capabilities_are_dockers_default_set_with_add_and_drop()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status"));
        // Docker's default set: chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap
        Assert.Contains("CapEff:\t00000000a80425fb", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("CapBnd:\t00000000a80425fb", r.Stdout, StringComparison.Ordinal);

        var r2 = await t.RunAsync(t.Busybox("sh", "-c", "grep CapEff /proc/self/status").WithCapDrop("NET_RAW").WithCapAdd("SYS_ADMIN"));
        Assert.Contains("CapEff:\t00000000a82405fb", r2.Stdout, StringComparison.Ordinal);

        var user = await t.RunAsync(t.Busybox("sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status").WithUser("app"));
        Assert.Contains("CapEff:\t0000000000000000", user.Stdout, StringComparison.Ordinal);
        Assert.Contains("CapBnd:\t00000000a80425fb", user.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Masked_and_read_only_paths_and_devices()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c",
            "cat /proc/keys /proc/timer_list | wc -c; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo writable || echo ro; " +
            "ls /dev; (echo x > /sys/kernel/x) 2>/dev/null || echo sysro; head -c 4 /dev/zero | wc -c"));
        var lines = r.Stdout.Split('\n');
        Assert.Equal("0", lines[0].Trim());
        Assert.Equal("0", lines[1].Trim());
        Assert.Equal("ro", lines[2]);
        foreach (var dev in new[] { "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "mqueue", "fd", "stdin", "stdout", "stderr" })
        {
            Assert.Contains(dev, lines);
        }

        Assert.Contains("sysro", lines);
        Assert.Equal("4", lines[^2].Trim());
    }

    [Fact]
    public async Task Rootfs_source_is_never_modified()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "echo changed > /etc/passwd; rm /bin/ls; touch /newfile; cat /etc/passwd"));
        Assert.Equal("changed\n", r.Stdout);
        Assert.StartsWith("root:", File.ReadAllText(Path.Combine(TestRootfs.Path, "etc/passwd")), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(TestRootfs.Path, "bin/ls")) || new FileInfo(Path.Combine(TestRootfs.Path, "bin/ls")).LinkTarget is not null);
        Assert.False(File.Exists(Path.Combine(TestRootfs.Path, "newfile")));
    }

    [Fact]
    public async Task Read_only_rootfs_refuses_writes_but_tmpfs_works()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "touch /x 2>&1 || echo refused; touch /scratch/ok && echo tmpfs-ok").WithReadOnlyRootfs().WithTmpfs("/scratch"));
        Assert.Contains("refused", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("tmpfs-ok", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task User_switching_by_name_and_number_with_groups()
    {
        await using var t = new TestEngine();
        var byName = await t.RunAsync(t.Busybox("id").WithUser("app"));
        Assert.Equal("uid=1000(app) gid=1000(app) groups=50(staff),1000(app)\n", byName.Stdout);
        var byNumber = await t.RunAsync(t.Busybox("sh", "-c", "id -u; id -g; echo $HOME").WithUser("4242:50"));
        Assert.Equal("4242\n50\n/\n", byNumber.Stdout);
        var home = await t.RunAsync(t.Busybox("sh", "-c", "echo $HOME; pwd").WithUser("app").WithWorkingDirectory("/home/app"));
        Assert.Equal("/home/app\n/home/app\n", home.Stdout);
    }

    [Fact]
    public async Task Unknown_user_is_a_clear_error_and_leaves_nothing()
    {
        await using var t = new TestEngine();
        var e = await Assert.ThrowsAsync<InvalidContainerSpecException>(() => t.Busybox("true").WithUser("ghost").StartAsync());
        Assert.Contains("unable to find user ghost", e.Message, StringComparison.Ordinal);
        t.AssertNothingLeft();
    }

    [Fact]
    public async Task Environment_and_working_directory()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "echo $GREETING $HOSTNAME; pwd").WithEnvironment("GREETING", "hi").WithHostname("h").WithWorkingDirectory("/made/here"));
        Assert.Equal("hi h\n/made/here\n", r.Stdout);
    }

    [Fact]
    public async Task Bind_mounts_read_write_and_read_only()
    {
        await using var t = new TestEngine();
        var dir = Directory.CreateTempSubdirectory("containers-bind-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "in.txt"), "from host");
            var rw = await t.RunAsync(t.Busybox("sh", "-c", "cat /data/in.txt; echo back > /data/out.txt").WithBindMount(dir, "/data"));
            Assert.Equal("from host", rw.Stdout);
            Assert.Equal("back\n", File.ReadAllText(Path.Combine(dir, "out.txt")));
            var ro = await t.RunAsync(t.Busybox("sh", "-c", "echo x > /data/no.txt || echo refused").WithBindMount(dir, "/data", readOnly: true));
            Assert.Contains("refused", ro.Stdout, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir, "no.txt")));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Ulimits_and_no_new_privileges()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "ulimit -n; grep NoNewPrivs /proc/self/status").WithUlimit("nofile", 512, 1024).WithNoNewPrivileges());
        Assert.Equal("512\nNoNewPrivs:\t1\n", r.Stdout);
    }
}

public sealed class TerminalTests
{
    [Fact]
    public async Task A_tty_container_gets_a_controlling_terminal_of_24_by_80()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(t.Busybox("sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; stty size; echo $TERM").WithTty());
        Assert.Contains("is-a-tty\r\n24 80\r\nxterm\r\n", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Interactive_stdin_reaches_the_container()
    {
        await using var t = new TestEngine();
        var c = await t.Busybox("sh", "-c", "read line; echo got:$line").WithOpenStdin().StartAsync();
        await c.StandardInput!.WriteAsync("hello\n"u8.ToArray());
        await c.StandardInput.FlushAsync();
        await c.WaitAsync();
        await Runtime.LifecycleTests.WaitForLog(c, "got:hello");
    }
}
