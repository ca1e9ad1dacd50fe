using Containers.Tests.Images;

namespace Containers.Tests.Cli;

/// <summary>
/// Replicated volumes on one machine through the <c>containers</c> command: <c>volume create --driver replicated</c>,
/// containers that use it (its detached server attaches it: FUSE, a loop device, ext4), snapshots while in use, a
/// restore, a backup to a directory restored into another volume, bad options, and nothing left mounted.
/// </summary>
public sealed class CliVolumeTests : IAsyncLifetime
{
    private readonly TestEngine t = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await t.DisposeAsync();

    private Task<(int Code, string Stdout, string Stderr)> Cli(params string[] args) => CliRunner.RunAsync(t, args);

    private async Task<string> Ok(params string[] args)
    {
        var r = await Cli(args);
        Assert.True(r.Code == 0, $"containers {string.Join(' ', args)}: exit {r.Code}: {r.Stderr}");
        return r.Stdout;
    }

    /// <summary>What the volumes' servers logged (their serve.log), for a failure's message.</summary>
    private string ServeLogs() => string.Join('\n', Directory.EnumerateFiles(Path.Combine(t.Root, "volumes"), "serve.log", SearchOption.AllDirectories)
        .Select(f => $"--- {f}:\n{File.ReadAllText(f)}"));

    private IReadOnlyList<string> Mounts() =>
        [.. File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m.StartsWith(t.Root, StringComparison.Ordinal))];

    [Fact]
    public async Task A_replicated_volume_keeps_its_data_across_containers_snapshots_restores_and_backs_up_and_leaves_nothing_mounted()
    {
        Assert.Equal("data\n", await Ok("volume", "create", "--driver", "replicated", "-o", "size=64M", "-o", "replicas=3", "data"));
        Assert.Matches("(?m)^replicated +data$", await Ok("volume", "ls"));
        Assert.Equal("hello\n", await Ok("run", "--rm", "--network", "none", "--rootfs", TestRootfs.Path, "-v", "data:/data", "sh", "-c", "echo hello > /data/f; sync; cat /data/f"));

        // a snapshot while a container writes: taken by the volume's server between writes
        var writer = CliRunner.Start(t, "run", "--rm", "--network", "none", "--rootfs", TestRootfs.Path, "-v", "data:/data", "sh", "-c", "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo $i >> /data/log; done; sync; sleep 1");
        writer.StandardInput.Close();
        await Task.Delay(300);
        Assert.Contains("snapshot s1 taken", await Ok("volume", "snapshot", "data", "s1"), StringComparison.Ordinal);
        await writer.WaitForExitAsync();
        Assert.Equal(0, writer.ExitCode);
        Assert.Contains("s1", await Ok("volume", "snapshots", "data"), StringComparison.Ordinal);

        // changed, then put back to the snapshot (its server is asked to detach at once: no container uses it)
        await Ok("run", "--rm", "--network", "none", "--rootfs", TestRootfs.Path, "-v", "data:/data", "sh", "-c", "echo changed > /data/f; sync");
        Assert.Contains("reverted to snapshot s1", await Ok("volume", "restore", "data", "s1"), StringComparison.Ordinal);
        Assert.Equal("hello\n", await Ok("run", "--rm", "--network", "none", "--rootfs", TestRootfs.Path, "-v", "data:/data", "cat", "/data/f"));

        // a backup to a directory, restored into another volume
        var backups = Path.Combine(t.Root, "backups");
        Assert.Contains("backup b1 of volume data", await Ok("volume", "backup", "data", backups, "--name", "b1"), StringComparison.Ordinal);
        await Ok("volume", "create", "--driver", "replicated", "-o", "size=64M", "copy");
        await Ok("volume", "restore", "copy", "--from", backups, "--source-volume", "data", "b1");
        Assert.Equal("hello\n", await Ok("run", "--rm", "--network", "none", "--rootfs", TestRootfs.Path, "-v", "copy:/data", "cat", "/data/f"));

        // bad input: named, and nothing made
        var bad = await Cli("volume", "create", "--driver", "replicated", "-o", "size=12x", "bad");
        Assert.Equal(125, bad.Code);
        Assert.Contains("volume bad: size '12x'", bad.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(t.Root, "volumes", "bad")));
        var unknown = await Cli("volume", "create", "--driver", "nfs", "x1");
        Assert.Contains("driver 'nfs' is not available (drivers: local, replicated)", unknown.Stderr, StringComparison.Ordinal);
        var local = await Cli("volume", "create", "plain");
        Assert.Equal(0, local.Code);
        Assert.Contains("volume plain has driver local", (await Cli("volume", "snapshot", "plain", "s")).Stderr, StringComparison.Ordinal);

        var rm = await Cli("volume", "rm", "data", "copy");
        Assert.True(rm.Code == 0, $"volume rm data copy at {DateTime.UtcNow:HH:mm:ss.fff}: exit {rm.Code}: {rm.Stderr}\n{ServeLogs()}");
        Assert.Equal("data\ncopy\n", rm.Stdout);
        Assert.Empty(Mounts());
        // this test's FUSE mounts only (other assemblies' volume tests may run beside it)
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains("containers-volume", StringComparison.Ordinal) && l.Contains(t.Root, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_compose_stack_s_volume_of_driver_replicated_keeps_its_data_across_down_and_up()
    {
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:cli-volume");
        var dir = Directory.CreateDirectory(Path.Combine(t.Root, "stack")).FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "compose.yaml"), """
            services:
              db:
                image: localhost/busybox:cli-volume
                network_mode: none
                command: ["sh", "-c", "echo up >> /data/log; sync; sleep 600"]
                volumes: [data:/data]
            volumes:
              data:
                driver: replicated
                driver_opts: {size: 32M, replicas: "2"}
            """);
        string[] compose = ["compose", "--project-directory", dir];
        await Ok([.. compose, "up", "-d"]);
        Assert.Matches("(?m)^replicated +stack_data$", await Ok("volume", "ls"));
        await Ok([.. compose, "down"]);
        await Ok([.. compose, "up", "-d"]);
        await Task.Delay(500);
        Assert.Equal("up\nup\n", await Ok([.. compose, "exec", "-T", "db", "cat", "/data/log"]));
        Assert.Contains("snapshot s1 taken", await Ok("volume", "snapshot", "stack_data", "s1"), StringComparison.Ordinal);
        await Ok([.. compose, "down", "-v"]);
        await UntilAsync(() => !Mounts().Any(), "the volume detached");
        Assert.DoesNotContain("stack_data", await Ok("volume", "ls"), StringComparison.Ordinal);
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !condition(); await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "waited for " + what);
        }
    }
}
