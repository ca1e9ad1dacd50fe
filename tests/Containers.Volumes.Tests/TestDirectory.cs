using System.Diagnostics;

namespace Containers.Volumes.Tests;

/// <summary>A directory of one test under /tmp, removed with everything mounted under it.</summary>
internal sealed class TestDirectory : IDisposable
{
    public TestDirectory()
    {
        Path = Directory.CreateTempSubdirectory("containers-tests-volumes-").FullName;
    }

    public string Path { get; }

    public string Sub(string name) => Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> at a new subdirectory: a small disk that fills.</summary>
    public string SmallDisk(string name, long bytes)
    {
        var dir = Sub(name);
        Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", dir);
        return dir;
    }

    /// <summary>Mount points at or under this directory still mounted.</summary>
    public IReadOnlyList<string> Mounts() =>
        [.. File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')[4]).Where(m => m == Path || m.StartsWith(Path + "/", StringComparison.Ordinal))];

    public static string Run(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)}: exit {p.ExitCode}: {error}");
        }

        return output;
    }

    public void Dispose()
    {
        foreach (var m in Mounts().OrderByDescending(m => m.Length))
        {
            try
            {
                Run("umount", "-l", m);
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }

        Directory.Delete(Path, recursive: true);
    }
}
