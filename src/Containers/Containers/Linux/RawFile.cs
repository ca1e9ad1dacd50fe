namespace Containers.Linux;

/// <summary>
/// Whole-file reads and writes straight through open/read/write. FileStream takes an advisory flock on every
/// open (FileShare emulation), which on the start path (cgroup control files, state files) cost more than the I/O.
/// </summary>
internal static class RawFile
{
    private const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_TRUNC = 0x200, O_CLOEXEC = 0x80000;

    /// <summary>The file's bytes, or null when it does not exist.</summary>
    public static byte[]? Read(ISyscalls sys, string path)
    {
        int fd;
        try
        {
            fd = sys.Open(path, O_RDONLY | O_CLOEXEC);
        }
        catch (SyscallException e) when (e.Errno is 2 or 20)
        {
            return null;
        }

        try
        {
            var ms = new MemoryStream();
            var buf = new byte[8192];
            int n;
            while ((n = sys.Read(fd, buf)) > 0)
            {
                ms.Write(buf, 0, n);
            }

            return ms.ToArray();
        }
        finally
        {
            sys.Close(fd);
        }
    }

    /// <summary>Writes <paramref name="data"/> in one write (cgroup files want one write per value).</summary>
    public static void Write(ISyscalls sys, string path, ReadOnlySpan<byte> data, bool create = false)
    {
        var fd = sys.Open(path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0x1a4);
        try
        {
            sys.WriteAll(fd, data);
        }
        finally
        {
            sys.Close(fd);
        }
    }

    /// <summary>Writes to a temporary file and renames it over <paramref name="path"/>: readers see the old or the new file, never half.</summary>
    public static void Replace(ISyscalls sys, string path, ReadOnlySpan<byte> data)
    {
        var tmp = path + ".tmp";
        Write(sys, tmp, data, create: true);
        File.Move(tmp, path, overwrite: true);
    }
}
