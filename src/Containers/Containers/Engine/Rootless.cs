using System.Runtime.InteropServices;

namespace Containers;

/// <summary>
/// Rootless: the engine run by an ordinary user. <see cref="EnterUserNamespace"/> re-execs the process as root of
/// the user's own user namespace (ids from /etc/subuid and /etc/subgid through newuidmap and newgidmap, held by a
/// pause process that later runs join, as Podman's), where the engine mounts overlays and makes namespaces as it
/// does as root. What it cannot have there: cgroups (this machine's v1 hierarchies are root's and its v2 one has no
/// controller delegated), so a limit is refused rather than ignored; bridges, veths and firewall rules on the host,
/// so containers reach out through slirp4netns and publish ports through a proxy that connects inside them.
/// </summary>
public static partial class Rootless
{
    /// <summary>Whether this process runs in a user namespace other than the host's (rootless, or any nested namespace).</summary>
    public static bool IsActive { get; } = Detect();

    /// <summary>The host uid this process's root is (its own uid when not in a user namespace).</summary>
    public static long HostUid { get; } = HostIdOfRoot("/proc/self/uid_map") ?? (long)geteuid();

    /// <summary>The default engine root when rootless: $XDG_DATA_HOME/containers-dotnet, else ~/.local/share/containers-dotnet.</summary>
    public static string DefaultRoot =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } data ? data
            : Path.Combine(Environment.GetEnvironmentVariable("HOME") ?? "/tmp", ".local", "share"), "containers-dotnet");

    /// <summary>The default machine-state directory when rootless: $XDG_RUNTIME_DIR/containers-dotnet, else /tmp/containers-dotnet-UID.</summary>
    public static string DefaultStateDirectory =>
        Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } run ? Path.Combine(run, "containers-dotnet")
            : Path.Combine("/tmp", "containers-dotnet-" + HostUid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// For an app or CLI that ordinary users run: when this process is not root, replaces it (execve, same arguments
    /// and environment) with itself as root of the user's container user namespace, joining the namespace earlier
    /// runs made if its pause process lives. Returns without doing anything when already root or in a user
    /// namespace. Call it first thing in Main: the process is replaced, so nothing done before survives. Throws
    /// <see cref="ContainerException"/> when containers-userns cannot be found or started.
    /// </summary>
    /// <param name="stateDirectory">Where the pause process's pid is kept (default: CONTAINERS_MACHINE_STATE, else <see cref="DefaultStateDirectory"/>).</param>
    /// <param name="helperPath">containers-userns (default: CONTAINERS_USERNS, else beside the shim).</param>
    public static void EnterUserNamespace(string? stateDirectory = null, string? helperPath = null)
    {
        if (geteuid() == 0 || IsActive)
        {
            return;
        }

        var uid = (long)getuid();
        var gid = (long)getgid();
        var name = UserName(uid);
        var dir = stateDirectory ?? (Environment.GetEnvironmentVariable("CONTAINERS_MACHINE_STATE") is { Length: > 0 } s ? s : DefaultStateDirectory);
        Directory.CreateDirectory(dir);
        helperPath ??= Runtime.ShimSpawner.Beside(Runtime.ShimSpawner.DefaultShimPath(), "containers-userns", "CONTAINERS_USERNS");
        if (!File.Exists(helperPath))
        {
            throw new ContainerException($"rootless: containers-userns was not found at {helperPath} (set CONTAINERS_USERNS to its path)");
        }

        string[] self = [.. File.ReadAllText("/proc/self/cmdline").Split('\0', StringSplitOptions.None)[..^1]];
        var exe = Environment.ProcessPath ?? self[0];
        string[] argv = [helperPath, "rootless", Path.Combine(dir, "pause.pid"), Map("/etc/subuid", name, uid), Map("/etc/subgid", name, gid), "--", exe, .. self[1..]];
        Exec(helperPath, argv);
    }

    /// <summary>newuidmap's (or newgidmap's) ranges: the user as root, then its subordinate ids from 1; "-" when it has none.</summary>
    private static string Map(string file, string? name, long id)
    {
        var ranges = new List<(long Start, long Count)>();
        foreach (var key in new[] { name, id.ToString(System.Globalization.CultureInfo.InvariantCulture) }.OfType<string>())
        {
            try
            {
                ranges.AddRange(Runtime.UserNamespaces.Ranges(file, key, "rootless"));
            }
            catch (InvalidContainerSpecException)
            {
            }
        }

        if (ranges.Count == 0 || !File.Exists("/usr/bin/newuidmap"))
        {
            return "-";
        }

        var parts = new List<string> { "0", id.ToString(System.Globalization.CultureInfo.InvariantCulture), "1" };
        long next = 1;
        foreach (var (start, count) in ranges)
        {
            parts.Add(next.ToString(System.Globalization.CultureInfo.InvariantCulture));
            parts.Add(start.ToString(System.Globalization.CultureInfo.InvariantCulture));
            parts.Add(count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            next += count;
        }

        return string.Join(' ', parts);
    }

    private static string? UserName(long uid)
    {
        foreach (var line in File.Exists("/etc/passwd") ? File.ReadLines("/etc/passwd") : [])
        {
            var f = line.Split(':');
            if (f.Length > 2 && f[2] == uid.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                return f[0];
            }
        }

        return null;
    }

    private static bool Detect()
    {
        try
        {
            var fields = File.ReadLines("/proc/self/uid_map").FirstOrDefault()?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is not ["0", "0", "4294967295"];
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static long? HostIdOfRoot(string mapFile)
    {
        try
        {
            foreach (var line in File.ReadLines(mapFile))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length == 3 && f[0] == "0" && long.TryParse(f[1], out var host))
                {
                    return host;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    /// <summary>execve: replaces this process (the strings are never freed: on success the process image goes; on failure it throws).</summary>
    private static unsafe void Exec(string path, string[] argv)
    {
        RemoveDiagnosticsSocket();
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}").ToArray();
        var argvp = argv.Select(Marshal.StringToCoTaskMemUTF8).Append(0).ToArray();
        var envp = env.Select(Marshal.StringToCoTaskMemUTF8).Append(0).ToArray();
        fixed (nint* a = argvp, e = envp)
        {
            execve(path, a, e);
        }

        throw new ContainerException($"rootless: exec {path} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int execve(string path, nint* argv, nint* envp);

    /// <summary>
    /// Removes the .NET runtime's diagnostic socket of this process (TMPDIR/dotnet-diagnostic-PID-KEY-socket): the
    /// runtime deletes it when the process exits, and execve is no exit, so every re-exec left one behind.
    /// </summary>
    private static void RemoveDiagnosticsSocket()
    {
        try
        {
            foreach (var socket in Directory.EnumerateFiles(Path.GetTempPath(), $"dotnet-diagnostic-{Environment.ProcessId}-*-socket"))
            {
                File.Delete(socket);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // not there (NativeAOT has no diagnostic server), or not ours to delete: the exec goes on
        }
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc")]
    private static partial uint getuid();

    [LibraryImport("libc")]
    private static partial uint getgid();
}
