using System.Formats.Tar;

namespace Containers.Tests.Security;

/// <summary>
/// The escape suite: each case runs a real attack from inside a container (most through escape-probe, a static C
/// program built here and bind-mounted read-only) and checks that the host did not change. The README's security
/// section lists the cases and what stops each.
/// </summary>
public sealed class EscapeTests : IDisposable
{
    private static readonly Lazy<string> ProbeBinary = new(BuildProbe);

    public EscapeTests()
    {
        HostSecret = (Path.Combine(Path.GetTempPath(), "escape-secret-" + Guid.NewGuid().ToString("N")[..8]), Guid.NewGuid().ToString("N"));
        File.WriteAllText(HostSecret.Path, HostSecret.Content);
    }

    /// <summary>A file only the host has (one per test, removed after it), which an escape would read.</summary>
    private (string Path, string Content) HostSecret { get; }

    public void Dispose() => File.Delete(HostSecret.Path);

    private static string BuildProbe()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "escape-probe.c");
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(source)))[..12];
        var dir = Path.Combine(Path.GetTempPath(), "containers-escape-probe-" + hash);
        var binary = Path.Combine(dir, "escape-probe");
        if (!File.Exists(binary))
        {
            Directory.CreateDirectory(dir);
            var tmp = binary + "." + Environment.ProcessId;
            using var gcc = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("gcc", ["-static", "-O2", "-Wall", "-Werror", "-o", tmp, source]) { RedirectStandardError = true })!;
            var errors = gcc.StandardError.ReadToEnd();
            gcc.WaitForExit();
            Assert.True(gcc.ExitCode == 0, "building escape-probe: " + errors);
            File.Move(tmp, binary, overwrite: true);
        }

        return binary;
    }

    [Fact]
    public async Task A_setuid_root_file_under_a_user_namespace_gives_the_containers_root_only()
    {
        // the host's secret made root's alone (0600) and bind-mounted in; the probe copied in and made setuid root,
        // then run by an ordinary user of the container: euid 0 inside, host uid 100000 outside
        File.SetUnixFileMode(HostSecret.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using var t = new TestEngine();
        await using var c = await t.Busybox("sleep", "60").WithIdMaps([new Containers.Runtime.IdMapping(0, 100000, 65536)])
            .WithBindMount(ProbeBinary.Value, "/probe", readOnly: true).WithBindMount(HostSecret.Path, "/secret", readOnly: true).StartAsync();
        Assert.Equal(0, (await c.ExecAsync(["sh", "-c", "cp /probe /tmp/suid && chmod 4755 /tmp/suid"])).ExitCode);
        await using var exec = await c.StartExecAsync(new ExecOptions { Command = ["/tmp/suid", "setuid-read", "/secret"], User = "1000" });
        var output = await new StreamReader(exec.StandardOutput).ReadToEndAsync();
        await exec.WaitAsync();
        Assert.Equal("euid 0\nBLOCKED EACCES\n", output);
        await c.RemoveAsync(force: true);
    }

    private static ContainerBuilder Probe(TestEngine t, params string[] attack) =>
        t.Busybox(["/probe", .. attack]).WithBindMount(ProbeBinary.Value, "/probe", readOnly: true);

    /// <summary>What the attacks would change on the host: kernel settings, a sysfs attribute, the secret.</summary>
    private string HostState() => string.Join('\n',
        File.ReadAllText("/proc/sys/kernel/core_pattern"),
        File.Exists("/sys/kernel/uevent_helper") ? File.ReadAllText("/sys/kernel/uevent_helper") : "",
        File.Exists("/sys/kernel/mm/transparent_hugepage/enabled") ? File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled") : "",
        File.ReadAllText(HostSecret.Path));

    /// <summary>A block device of the host (its first disk, else a loop device) as "MAJOR MINOR".</summary>
    private static string[] HostDisk()
    {
        var disks = Directory.GetDirectories("/sys/block").Select(Path.GetFileName).OfType<string>().ToList();
        var disk = disks.FirstOrDefault(d => !d.StartsWith("loop", StringComparison.Ordinal) && !d.StartsWith("zram", StringComparison.Ordinal) && !d.StartsWith("ram", StringComparison.Ordinal)) ?? disks.First();
        return File.ReadAllText($"/sys/block/{disk}/dev").Trim().Split(':');
    }

    [Theory]
    [InlineData("mount-tmpfs")] // mount needs CAP_SYS_ADMIN, and the filter refuses it
    [InlineData("mount-cgroup")] // CVE-2022-0492: a cgroup v1 hierarchy whose release_agent runs on the host
    [InlineData("userns-cgroup")] // CVE-2022-0492 as exploited: through a new user namespace
    [InlineData("unshare-user")] // a user namespace, the way to CAP_SYS_ADMIN over new mounts
    [InlineData("unshare-mount")]
    [InlineData("fsopen")] // the new mount API
    [InlineData("keyctl")] // the kernel keyring is not namespaced
    [InlineData("add_key")]
    [InlineData("bpf")]
    [InlineData("perf_event_open")]
    [InlineData("open_by_handle_at")] // "shocker" (2014): a file handle to the host's root inode
    [InlineData("kexec_load")]
    [InlineData("init_module")]
    [InlineData("swapon")]
    [InlineData("sysrq")] // /proc/sysrq-trigger is read-only
    [InlineData("core_pattern")] // a core_pattern pipe would run on the host
    [InlineData("uevent_helper")] // so would a uevent helper: /sys is read-only
    [InlineData("sys-write")]
    [InlineData("proc-keys")] // masked
    [InlineData("dev-mem")] // mknod is allowed, the device cgroup refuses the node
    [InlineData("dev-kmsg")]
    public async Task An_attack_from_inside_is_refused_and_the_host_is_unchanged(string attack)
    {
        await using var t = new TestEngine();
        var before = HostState();
        var r = await t.RunAsync(Probe(t, attack));
        Assert.True(r.Stdout.StartsWith("BLOCKED", StringComparison.Ordinal), $"{attack}: {r.Stdout}");
        Assert.Equal(before, HostState());
    }

    [Fact]
    public async Task The_hosts_disk_cannot_be_read_through_a_device_node_made_inside_or_brought_in_a_layer()
    {
        await using var t = new TestEngine();
        var disk = HostDisk();
        var r = await t.RunAsync(Probe(t, ["block-device", .. disk]));
        Assert.Equal("BLOCKED EPERM\n", r.Stdout);

        // a layer that carries the node: the image may hold it, the device cgroup keeps it closed
        var layer = Directory.CreateTempSubdirectory("escape-layer-");
        try
        {
            Containers.Linux.LinuxSyscalls.Instance.MkNod(Path.Combine(layer.FullName, "disk"), 0x6000 | 0x1b6, Containers.Linux.LinuxSyscalls.MakeDev(uint.Parse(disk[0], System.Globalization.CultureInfo.InvariantCulture), uint.Parse(disk[1], System.Globalization.CultureInfo.InvariantCulture)));
            var spec = t.Engine.FromRootfs(layer.FullName).WithCommand("sh", "-c", "head -c 1 /disk >/dev/null; echo read=$?").ToSpec() with { LowerLayers = [TestRootfs.Path] };
            Assert.Contains("read=1", (await t.RunAsync(spec)).Stdout, StringComparison.Ordinal);
        }
        finally
        {
            layer.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Host_processes_cannot_be_traced_or_signalled_and_a_chroot_cannot_be_climbed_out_of()
    {
        await using var t = new TestEngine();
        var host = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal("BLOCKED ESRCH\n", (await t.RunAsync(Probe(t, "ptrace", host))).Stdout); // not in its pid namespace
        Assert.Equal("BLOCKED ESRCH\n", (await t.RunAsync(Probe(t, "kill-host", host))).Stdout);
        var r = await t.RunAsync(Probe(t, "chroot", HostSecret.Path).WithCapAdd("SYS_CHROOT"));
        Assert.Equal("BLOCKED ENOENT\n", r.Stdout); // pivot_root: above the root there is nothing, whatever chroot says
    }

    [Fact]
    public async Task A_signal_to_its_process_group_reaches_no_host_process()
    {
        await using var t = new TestEngine();
        var received = 0;
        using var handler = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGCONT, _ => Interlocked.Increment(ref received));
        var r = await t.RunAsync(Probe(t, "kill-group"));
        Assert.Equal("SENT ok pgrp=own\n", r.Stdout); // a session of its own, not the engine's process group
        await Task.Delay(200);
        Assert.Equal(0, Volatile.Read(ref received));

        await using var c = await t.Busybox("sleep", "60").WithBindMount(ProbeBinary.Value, "/probe", readOnly: true).StartAsync();
        var exec = await c.ExecAsync(["/probe", "kill-group"]); // an exec'd process too
        Assert.Equal("SENT ok pgrp=own\n", exec.Stdout);
        await Task.Delay(200);
        Assert.Equal(0, Volatile.Read(ref received));
        await c.RemoveAsync(force: true);
    }

    [Fact]
    public async Task A_fork_bomb_is_held_by_the_pids_limit_and_a_disk_filler_by_the_tmpfs_size()
    {
        await using var t = new TestEngine();
        var r = await t.RunAsync(Probe(t, "fork-bomb").WithPidsLimit(64));
        Assert.Matches(@"^BLOCKED forks=(\d+)\n", r.Stdout);
        Assert.True(int.Parse(System.Text.RegularExpressions.Regex.Match(r.Stdout, @"forks=(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) < 64, r.Stdout);

        r = await t.RunAsync(Probe(t, "fill", "/fill/big").WithTmpfs("/fill", "size=1m"));
        Assert.Equal("BLOCKED bytes=1048576 ENOSPC\n", r.Stdout);

        // and a memory hog by the memory limit: the kernel kills it, the container says so
        var hog = await t.Busybox("sh", "-c", "dd if=/dev/zero of=/dev/null bs=200M count=1").WithMemoryLimit(32 * 1024 * 1024).StartAsync();
        await using (hog)
        {
            var exit = await hog.WaitAsync();
            Assert.Equal(137, exit.ExitCode);
            Assert.True(exit.OomKilled);
            await hog.RemoveAsync(force: true);
        }
    }

    [Fact]
    public async Task Cve_2019_5736_the_shim_of_an_exec_cannot_be_opened_from_inside_and_stays_unchanged()
    {
        await using var t = new TestEngine();
        var shim = Containers.Runtime.ShimSpawner.DefaultShimPath();
        var before = System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(shim));
        var output = new System.Text.StringBuilder();
        await using var c = await t.Engine.StartAsync(Probe(t, "exe-watch", "6").ToSpec(), (_, b) => { lock (output) { output.Append(System.Text.Encoding.UTF8.GetString(b.Span)); } });
        for (var i = 0; i < 40; i++)
        {
            await c.ExecAsync(["true"]); // each runs a shim in the container's namespaces until its execve
        }

        await c.WaitAsync();
        lock (output)
        {
            Assert.Equal("BLOCKED EACCES\n", output.ToString());
        }

        Assert.Equal(before, System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(shim)));
        await c.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Cve_2024_21626_a_working_directory_through_a_leaked_fd_is_refused_at_start_and_at_exec()
    {
        await using var t = new TestEngine();
        var secret = HostSecret;
        var climb = "../../../../../../../.." + secret.Path;
        for (var fd = 3; fd <= 12; fd++)
        {
            try
            {
                var r = await t.RunAsync(t.Busybox("sh", "-c", $"cat {climb} 2>/dev/null; pwd").WithWorkingDirectory($"/proc/self/fd/{fd}"));
                Assert.DoesNotContain(secret.Content, r.Stdout, StringComparison.Ordinal);
            }
            catch (ContainerStartException e)
            {
                Assert.Contains("working directory", e.Message, StringComparison.Ordinal);
            }
        }

        await using var c = await t.Busybox("sleep", "60").StartAsync();
        for (var fd = 3; fd <= 12; fd++)
        {
            try
            {
                await using var exec = await c.StartExecAsync(new Containers.ExecOptions { Command = ["sh", "-c", $"cat {climb} 2>/dev/null; pwd"], WorkingDirectory = $"/proc/self/fd/{fd}" });
                var stdout = await new StreamReader(exec.StandardOutput).ReadToEndAsync();
                await exec.WaitAsync();
                Assert.DoesNotContain(secret.Content, stdout, StringComparison.Ordinal);
            }
            catch (ContainerStartException e)
            {
                Assert.Contains("working directory", e.Message, StringComparison.Ordinal);
            }
        }

        await c.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Cve_2018_15664_copying_while_the_container_swaps_a_symlink_stays_inside_it()
    {
        await using var t = new TestEngine();
        var secret = HostSecret;
        var secretDir = Path.GetDirectoryName(secret.Path)!;
        // /w/dir flips between a directory holding a decoy of the secret's name and a symlink to "/": a path resolved
        // while it is the directory, then opened after the flip, would climb to the host's "/" through /proc/PID/root
        var swap = $"mkdir -p /w/dir{secretDir}; echo decoy > /w/dir{secret.Path}; ln -s / /w/link; exec /probe swap /w/dir /w/link";
        await using var c = await t.Busybox("sh", "-c", swap).WithBindMount(ProbeBinary.Value, "/probe", readOnly: true).StartAsync();
        await Task.Delay(300);
        var planted = Path.Combine(secretDir, "escape-planted-" + Guid.NewGuid().ToString("N")[..8]);
        for (var i = 0; i < 150; i++)
        {
            using var tar = new MemoryStream();
            try
            {
                await c.CopyFromAsync("/w/dir" + secret.Path, tar);
            }
            catch (FileNotFoundException)
            {
                continue;
            }

            tar.Position = 0;
            var entry = new TarReader(tar).GetNextEntry();
            if (entry?.DataStream is { } data)
            {
                var text = new StreamReader(data).ReadToEnd();
                Assert.DoesNotContain(secret.Content, text, StringComparison.Ordinal); // the decoy, or the container's own /tmp file: never the host's
            }

            // and into it: a file named like one next to the secret must never land on the host
            using var upload = new MemoryStream();
            using (var writer = new TarWriter(upload, leaveOpen: true))
            {
                var e = new PaxTarEntry(TarEntryType.RegularFile, Path.GetFileName(planted)) { DataStream = new MemoryStream("x"u8.ToArray()) };
                writer.WriteEntry(e);
            }

            upload.Position = 0;
            try
            {
                await c.CopyToAsync("/w/dir" + secretDir, upload);
            }
            catch (Exception e) when (e is FileNotFoundException or IOException or Containers.Linux.SyscallException)
            {
                // the directory was a symlink that resolved elsewhere inside, or was being replaced: refused, fine
            }

            if (File.Exists(planted))
            {
                File.Delete(planted);
                Assert.Fail("a copy into the container wrote on the host");
            }
        }

        await c.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Cve_2021_30465_a_mount_target_that_is_a_symlink_out_of_the_root_is_mounted_inside_it()
    {
        await using var t = new TestEngine();
        var layer = Directory.CreateTempSubdirectory("escape-mount-layer-");
        var target = Directory.CreateTempSubdirectory("escape-mount-target-");
        var source = Directory.CreateTempSubdirectory("escape-mount-source-");
        try
        {
            File.WriteAllText(Path.Combine(source.FullName, "from-source"), "s");
            File.WriteAllText(Path.Combine(target.FullName, "host-file"), "h");
            File.CreateSymbolicLink(Path.Combine(layer.FullName, "vol"), "../../../../../../.." + target.FullName);
            var spec = t.Engine.FromRootfs(layer.FullName).WithCommand("ls", target.FullName).WithBindMount(source.FullName, "/vol").ToSpec() with { LowerLayers = [TestRootfs.Path] };
            Assert.Contains("from-source", (await t.RunAsync(spec)).Stdout, StringComparison.Ordinal); // the link was followed inside the root
            Assert.Equal(["host-file"], Directory.GetFileSystemEntries(target.FullName).Select(Path.GetFileName)); // the host's directory was not mounted over
            Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), l => l.Contains(target.FullName, StringComparison.Ordinal));
        }
        finally
        {
            layer.Delete(recursive: true);
            target.Delete(recursive: true);
            source.Delete(recursive: true);
        }
    }
}
