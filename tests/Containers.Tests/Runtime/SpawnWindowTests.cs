using System.Diagnostics;
using Containers.Runtime;

namespace Containers.Tests.Runtime;

/// <summary>
/// A process another thread of the app forks while a shim is being spawned inherits the shim's pipe ends for that
/// moment. Its start must not wait for that process to end (the docker CLI hang of issue 27: the CLI, started by
/// the test at the moment the pool spawned the next shim, held the status pipe of the shim its own run then took).
/// </summary>
public sealed class SpawnWindowTests
{
    [Theory]
    [InlineData("true", 0)]
    [InlineData("no-such-binary", 127)]
    public async Task A_process_forked_during_a_shim_spawn_does_not_hold_up_its_start(string command, int expected)
    {
        await using var t = new TestEngine(prespawnShim: false);
        var spawner = t.Engine.Context.Spawner;
        Process? holder = null;
        using var go = new SemaphoreSlim(0);
        using var forked = new SemaphoreSlim(0);

        // the spawn thread cannot fork it itself (it is in the container's new pid namespace); a thread made before does
        var forker = new Thread(() =>
        {
            go.Wait();
            holder = Process.Start(new ProcessStartInfo("sleep", "120") { UseShellExecute = false });
            forked.Release();
        });
        forker.Start();
        spawner.InSpawnWindow = () =>
        {
            spawner.InSpawnWindow = null;
            go.Release();
            forked.Wait();
        };

        try
        {
            var start = command == "true"
                ? t.RunAsync(t.Busybox(command)).ContinueWith(r => r.Result.ExitCode, TaskScheduler.Default)
                : Assert.ThrowsAsync<ContainerStartException>(() => t.Busybox(command).StartAsync()).ContinueWith(e => e.Result.ExitCode, TaskScheduler.Default);
            var code = await start.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(expected, code);
            forker.Join();
            Assert.NotNull(holder);
            Assert.False(holder.HasExited, "the holder ended: the start may have waited for it");
            // it did take copies of the shim's pipe ends (else this test forced nothing)
            var fds = Directory.GetFileSystemEntries($"/proc/{holder.Id}/fd").Select(f => int.Parse(Path.GetFileName(f), System.Globalization.CultureInfo.InvariantCulture)).Where(fd => fd > 2)
                .Select(fd => new FileInfo($"/proc/{holder.Id}/fd/{fd}").LinkTarget).ToList();
            Assert.True(fds.Count(f => f is not null && f.StartsWith("pipe:", StringComparison.Ordinal)) >= 2, "the holder has no inherited pipes: " + string.Join(", ", fds));
        }
        finally
        {
            spawner.InSpawnWindow = null;
            go.Release();
            forker.Join();
            if (holder is not null)
            {
                holder.Kill();
                await holder.WaitForExitAsync();
                holder.Dispose();
            }
        }
    }
}
