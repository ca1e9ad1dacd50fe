using System.Diagnostics;
using System.Globalization;
using Containers.Runtime;

namespace Containers.Cli;

/// <summary>
/// <c>volume create --driver replicated</c> on one machine: the volume's replicas are directories (by default under
/// the volume's own, <c>--opt replica-dirs=/disk1/r,/disk2/r</c> to put each on a disk of its own), kept in step by an
/// engine that a detached <c>containers-cli volume serve NAME</c> runs while a container uses the volume (as a
/// container has its monitor), with the volume's ext4 mounted at its mountpoint. Options: <c>size</c> (default 1G),
/// <c>replicas</c> (default 2), <c>replica-dirs</c>, <c>fstype</c> (ext4).
/// </summary>
internal sealed class ReplicatedVolumeDriver : IVolumeDriver
{
    public string Name => "replicated";

    /// <inheritdoc/>
    public void Create(VolumeInfo volume)
    {
        var o = ReplicatedVolumeSettings.Of(volume); // checks the options
        foreach (var d in o.ReplicaDirectories)
        {
            Directory.CreateDirectory(d);
        }
    }

    /// <inheritdoc/>
    public void Attach(VolumeInfo volume)
    {
        var dir = Path.GetDirectoryName(volume.Mountpoint)!;
        if (IsMounted(volume.Mountpoint) && ServeAlive(dir))
        {
            return;
        }

        // the volume's server, detached from this process (its own session), logging beside the volume
        string full = FullCliPath();
        var psi = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { full, "--root", Path.GetDirectoryName(Path.GetDirectoryName(dir))!, "volume", "serve", volume.Name })
        {
            psi.ArgumentList.Add(a);
        }

        var log = Path.Combine(dir, "serve.log");
        File.Delete(log);
        using (var p = Process.Start(psi) ?? throw new ContainerException($"volume {volume.Name}: its server did not start"))
        {
            p.StandardInput.Close();
            // the server says "ready" once mounted, or why it could not
            var line = p.StandardOutput.ReadLine();
            if (line != "ready")
            {
                p.WaitForExit(5000);
                throw new ContainerException($"volume {volume.Name}: its server could not attach it: {(line + " " + p.StandardError.ReadToEnd()).Trim()}");
            }
        }
    }

    /// <inheritdoc/>
    public void Remove(VolumeInfo volume)
    {
        var dir = Path.GetDirectoryName(volume.Mountpoint)!;
        if (ServeAlive(dir) && !Leave(dir))
        {
            throw new ContainerConflictException($"remove {volume.Name}: the volume is attached (its server runs: stop the containers that use it)");
        }

        // replicas in directories of their own (replica-dirs): each is ROOT/VOLUME there; the default ones go with the volume
        foreach (var d in ReplicatedVolumeSettings.Of(volume).ReplicaDirectories.Where(d => !d.StartsWith(dir + "/", StringComparison.Ordinal)))
        {
            if (Directory.Exists(Path.Combine(d, volume.Name)))
            {
                Directory.Delete(Path.Combine(d, volume.Name), recursive: true);
            }
        }
    }

    /// <summary>The full CLI: this program, or containers-cli beside the lite one.</summary>
    public static string FullCliPath()
    {
#if CONTAINERS_LITE
        return Path.Combine(AppContext.BaseDirectory, "containers-cli");
#else
        return SelfCommand.Prefix.Length == 1 ? SelfCommand.Prefix[0] : Path.Combine(AppContext.BaseDirectory, "containers-cli");
#endif
    }

    /// <summary>Whether the volume's server runs (its pid file names a live process).</summary>
    public static bool ServeAlive(string dir) =>
        File.Exists(Path.Combine(dir, "serve.pid")) && int.TryParse(File.ReadAllText(Path.Combine(dir, "serve.pid")).Trim(), CultureInfo.InvariantCulture, out var pid)
        && Directory.Exists($"/proc/{pid}");

    /// <summary>
    /// Asks the volume's server to detach now when no container uses the volume; true once it has. A server that
    /// closes the connection without an answer was already leaving on its own (its idle checks ran out as the request
    /// came: the race that made `volume rm` say "attached" once in a loaded test run), so it is waited for as well;
    /// only an answer that is not "ok" (the volume is in use) or a server still there after 90 s is a refusal.
    /// </summary>
    public static bool Leave(string dir)
    {
        try
        {
            using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            s.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(dir, "serve.sock")));
            using var stream = new System.Net.Sockets.NetworkStream(s);
            using var writer = new StreamWriter(stream) { AutoFlush = true };
            using var reader = new StreamReader(stream);
            writer.WriteLine("leave");
            if (reader.ReadLine() is { } answer && answer != "ok")
            {
                return false;
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            // no listener any more, or the connection cut: the server is gone or going; see below
        }

        return WaitDetached(dir);
    }

    /// <summary>How long a leaving volume server is waited for.</summary>
    public const int DetachSeconds = 90;

    /// <summary>
    /// Waits up to <see cref="DetachSeconds"/> for the volume's server to be gone; true once it is. Detaching flushes
    /// the filesystem through the loop device and FUSE: slow on a loaded machine (over 15 s in full test runs, for
    /// `volume rm` and `volume restore` alike).
    /// </summary>
    public static bool WaitDetached(string dir)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(DetachSeconds); ServeAlive(dir); Thread.Sleep(50))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether <paramref name="path"/> is a mount point.</summary>
    public static bool IsMounted(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);
}

/// <summary>A replicated volume's settings, from its options.</summary>
/// <param name="Size">Bytes.</param>
/// <param name="ReplicaDirectories">One directory per replica (the root of a replica server, which keeps the replica in VOLUME there).</param>
/// <param name="FsType">ext4 or xfs.</param>
internal sealed record ReplicatedVolumeSettings(long Size, IReadOnlyList<string> ReplicaDirectories, string FsType)
{
    public static ReplicatedVolumeSettings Of(VolumeInfo volume)
    {
        var o = volume.Options ?? System.Collections.Immutable.ImmutableDictionary<string, string>.Empty;
        foreach (var k in o.Keys.Where(k => k is not ("size" or "replicas" or "replica-dirs" or "fstype")))
        {
            throw new InvalidContainerSpecException($"volume {volume.Name}: unknown option '{k}' of driver replicated (size, replicas, replica-dirs, fstype)");
        }

        var size = ParseSize(o.GetValueOrDefault("size") ?? "1G", volume.Name);
        var dir = Path.GetDirectoryName(volume.Mountpoint)!;
        IReadOnlyList<string> dirs;
        if (o.GetValueOrDefault("replica-dirs") is { } given)
        {
            dirs = [.. given.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(d => Path.IsPathFullyQualified(d)
                ? d.TrimEnd('/')
                : throw new InvalidContainerSpecException($"volume {volume.Name}: replica-dirs: '{d}' is not an absolute path"))];
        }
        else
        {
            var n = int.TryParse(o.GetValueOrDefault("replicas") ?? "2", CultureInfo.InvariantCulture, out var r) && r is >= 1 and <= 16
                ? r : throw new InvalidContainerSpecException($"volume {volume.Name}: replicas '{o.GetValueOrDefault("replicas")}': a number from 1 to 16");
            dirs = [.. Enumerable.Range(0, n).Select(i => Path.Combine(dir, "replicas", "r" + i.ToString(CultureInfo.InvariantCulture)))];
        }

        if (dirs.Count == 0 || dirs.Distinct().Count() != dirs.Count)
        {
            throw new InvalidContainerSpecException($"volume {volume.Name}: replica-dirs must name distinct directories");
        }

        var fs = o.GetValueOrDefault("fstype") ?? "ext4";
        return fs is "ext4" or "xfs" ? new ReplicatedVolumeSettings(size, dirs, fs) : throw new InvalidContainerSpecException($"volume {volume.Name}: fstype '{fs}': ext4 or xfs");
    }

    private static long ParseSize(string text, string volume)
    {
        var t = text.Trim().ToUpperInvariant().TrimEnd('B').TrimEnd('I');
        long unit = t.Length > 0 && char.IsLetter(t[^1]) ? t[^1] switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, 'T' => 1L << 40, _ => 0 } : 1;
        var digits = unit == 1 ? t : t[..^1];
        if (unit == 0 || !long.TryParse(digits, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            throw new InvalidContainerSpecException($"volume {volume}: size '{text}': a number with an optional unit (K, M, G, T)");
        }

        var bytes = n * unit;
        return bytes < 16 << 20 ? throw new InvalidContainerSpecException($"volume {volume}: size '{text}': at least 16M") : (bytes + 4095) / 4096 * 4096;
    }
}
