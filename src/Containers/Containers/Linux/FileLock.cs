namespace Containers.Linux;

/// <summary>An flock on a lock file, held until disposed (across processes; each instance is its own lock holder).</summary>
internal sealed class FileLock : IDisposable
{
    private const int O_CREAT = 0x40, O_RDWR = 2, O_CLOEXEC = 0x80000;
    private readonly ISyscalls sys;
    private int fd;

    /// <summary>Opens (creating) <paramref name="path"/> and blocks until the lock is held.</summary>
    public FileLock(ISyscalls sys, string path, bool exclusive = true)
    {
        this.sys = sys;
        fd = sys.Open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0x180);
        try
        {
            sys.Flock(fd, exclusive);
        }
        catch
        {
            sys.Close(fd);
            throw;
        }
    }

    /// <summary>Runs <paramref name="action"/> holding an exclusive lock on <paramref name="path"/>.</summary>
    public static T Run<T>(ISyscalls sys, string path, Func<T> action)
    {
        using var l = new FileLock(sys, path);
        return action();
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose()
    {
        if (fd >= 0)
        {
            sys.Close(fd);
            fd = -1;
        }
    }
}
