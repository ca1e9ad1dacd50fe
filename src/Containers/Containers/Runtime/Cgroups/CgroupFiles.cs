namespace Containers.Runtime.Cgroups;

/// <summary>Reading and writing cgroup control files with errors that name the file.</summary>
internal static class CgroupFiles
{
    public const string Parent = "containers-dotnet";

    public static void Write(ISyscalls sys, string dir, string file, string value)
    {
        var path = Path.Combine(dir, file);
        try
        {
            RawFile.Write(sys, path, Encoding.ASCII.GetBytes(value), create: !path.StartsWith("/sys/fs/cgroup/", StringComparison.Ordinal)); // control files exist; a test tree elsewhere is made of plain files
        }
        catch (SyscallException e)
        {
            throw new ContainerException($"cgroup: cannot write '{value}' to {path}: {e.Message}", e);
        }
    }

    public static string? Read(ISyscalls sys, string dir, string file)
    {
        try
        {
            return RawFile.Read(sys, Path.Combine(dir, file)) is { } b ? Encoding.ASCII.GetString(b).Trim() : null;
        }
        catch (SyscallException)
        {
            return null;
        }
    }

    public static long ReadLong(ISyscalls sys, string dir, string file)
    {
        var s = Read(sys, dir, file);
        return s is not null && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
    }

    /// <summary>Reads "key value" lines (memory.stat, memory.events, cpu.stat, memory.oom_control).</summary>
    public static long ReadKey(ISyscalls sys, string dir, string file, string key)
    {
        var s = Read(sys, dir, file);
        if (s is null)
        {
            return 0;
        }

        foreach (var line in s.Split('\n'))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var v))
            {
                return v;
            }
        }

        return 0;
    }

    public static IReadOnlyList<int> ReadPids(ISyscalls sys, string dir)
    {
        // never this process: a thread of it sits in a new group while it spawns the group's first process
        // (ICgroup.TryAddCurrentThread), and killing what is in a group must not kill the engine
        var s = Read(sys, dir, "cgroup.procs");
        return s is null ? [] : s.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).Where(p => p != Environment.ProcessId).ToArray();
    }

    /// <summary>Kills every process in the group and removes the directory, retrying on EBUSY for up to two seconds.</summary>
    public static void Remove(ISyscalls sys, string dir, Action<int> kill)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }

        for (var attempt = 0; ; attempt++)
        {
            // the first try is a bare rmdir: a group whose processes have all exited (the usual case) just goes
            foreach (var pid in attempt == 0 ? [] : ReadPids(sys, dir))
            {
                kill(pid);
            }

            try
            {
                Directory.Delete(dir);
                return;
            }
            catch (IOException) when (attempt < 200)
            {
                if (attempt > 0)
                {
                    Thread.Sleep(10);
                }
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
        }
    }

    public static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Removes the groups between <paramref name="dir"/> and the <see cref="Parent"/> that are left empty (a --cgroup-parent's levels).</summary>
    public static void RemoveEmptyParents(string dir)
    {
        for (var p = Path.GetDirectoryName(dir); p is not null && Path.GetFileName(p) != Parent && p.Contains("/" + Parent + "/", StringComparison.Ordinal); p = Path.GetDirectoryName(p))
        {
            try
            {
                Directory.Delete(p); // only an empty group goes (rmdir); a busy or populated one stays
            }
            catch (IOException)
            {
                return;
            }
        }
    }
}
