using System.Diagnostics;

namespace Containers.Tests.Images;

/// <summary>
/// Debian's podman with its own storage (vfs), run root and configuration under a temp directory, no network, and
/// cgroups under containers-dotnet, so it touches nothing of the machine's (see PEERS.md for the settings this kind of machine needs).
/// </summary>
public sealed class TestPodman : IDisposable
{
    public TestPodman()
    {
        Dir = Path.Combine(Path.GetTempPath(), "containers-tests-podman-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Dir);
        using var ulimit = Process.Start(new ProcessStartInfo("sh", ["-c", "ulimit -Hn"]) { RedirectStandardOutput = true })!;
        var nofile = ulimit.StandardOutput.ReadToEnd().Trim();
        ulimit.WaitForExit();
        File.WriteAllText(Path.Combine(Dir, "containers.conf"), $"""
            [containers]
            default_ulimits = ["nofile={nofile}:{nofile}", "nproc=32768:32768"]
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            runtime = "runc"
            """);
    }

    public string Dir { get; }

    /// <summary>Runs podman with this instance's storage; returns stdout, throws with stderr on failure.</summary>
    public string Run(params string[] args) =>
        TestRegistry.Run("podman", ["--root", Path.Combine(Dir, "root"), "--runroot", Path.Combine(Dir, "run"), "--tmpdir", Path.Combine(Dir, "tmp"), "--storage-driver", "vfs", .. args], Environment);

    /// <summary>Runs buildah over the same storage (RUN steps with chroot isolation: no cgroups, no network setup).</summary>
    public string Buildah(params string[] args) =>
        TestRegistry.Run("buildah", ["--root", Path.Combine(Dir, "root"), "--runroot", Path.Combine(Dir, "run"), "--storage-driver", "vfs", .. args], Environment);

    private Dictionary<string, string> Environment => new()
    {
        ["CONTAINERS_CONF"] = Path.Combine(Dir, "containers.conf"),
        ["BUILDAH_ISOLATION"] = "chroot",
    };

    /// <summary>podman run --rm with no network, its cgroups under containers-dotnet (runc needs cgroups; crun 1.8 refuses this hybrid).</summary>
    public string RunContainer(string image, params string[] command) =>
        Run(["run", "--rm", "--network", "none", "--cgroup-parent", CgroupParent, image, .. command]);

    private string CgroupParent => "/containers-dotnet/" + Path.GetFileName(Dir);

    /// <summary>Removes a cgroup once it is empty: podman's conmon can still be exiting when `podman run --rm` returns (up to 10 s).</summary>
    private static void RemoveCgroup(string path)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Delete(path);
                return;
            }
            catch (IOException) when (attempt < 100)
            {
                Thread.Sleep(100); // EBUSY: a process is still in it
            }
        }
    }

    public void Dispose()
    {
        Directory.Delete(Dir, true);
        foreach (var hierarchy in Directory.EnumerateDirectories("/sys/fs/cgroup"))
        {
            var parent = hierarchy + CgroupParent;
            if (Directory.Exists(parent))
            {
                foreach (var child in Directory.EnumerateDirectories(parent))
                {
                    RemoveCgroup(child);
                }

                RemoveCgroup(parent);
            }
        }
    }
}
