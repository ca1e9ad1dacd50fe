using System.Globalization;

namespace Containers.Runtime.Cgroups;

/// <summary>Reading and writing cgroup control files with errors that name the file.</summary>
internal static class CgroupFiles
{
    public const string Parent = "containers-dotnet";

    public static void Write(string dir, string file, string value)
    {
        var path = Path.Combine(dir, file);
        try
        {
            File.WriteAllText(path, value);
        }
        catch (IOException e)
        {
            throw new ContainerException($"cgroup: cannot write '{value}' to {path}: {e.Message}", e);
        }
    }

    public static string? Read(string dir, string file)
    {
        try
        {
            return File.ReadAllText(Path.Combine(dir, file)).Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static long ReadLong(string dir, string file)
    {
        var s = Read(dir, file);
        return s is not null && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0;
    }

    /// <summary>Reads "key value" lines (memory.stat, memory.events, cpu.stat, memory.oom_control).</summary>
    public static long ReadKey(string dir, string file, string key)
    {
        var s = Read(dir, file);
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

    public static IReadOnlyList<int> ReadPids(string dir)
    {
        var s = Read(dir, "cgroup.procs");
        return s is null ? [] : s.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Kills every process in the group and removes the directory, retrying on EBUSY for up to two seconds.</summary>
    public static void Remove(string dir, Action<int> kill)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }

        for (var attempt = 0; ; attempt++)
        {
            foreach (var pid in ReadPids(dir))
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
                Thread.Sleep(10);
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
        }
    }

    public static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
