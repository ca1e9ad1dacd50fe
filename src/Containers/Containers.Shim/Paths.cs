using static Containers.Shim.Libc;

namespace Containers.Shim;

/// <summary>Path resolution confined to a root: symlinks are followed as if the root were "/".</summary>
internal static class Paths
{
    /// <summary>See <see cref="RootedPath.Join"/>; a symlink loop becomes ELOOP.</summary>
    public static string SecureJoin(string root, string path)
    {
        try
        {
            return RootedPath.Join(root, path);
        }
        catch (IOException e)
        {
            throw new ShimException("resolve path", 40, e.Message);
        }
    }

    /// <summary>Creates a directory and its parents (already resolved by <see cref="SecureJoin"/>).</summary>
    public static void MkdirAll(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ShimException("create mount point", 17, path + ": " + e.Message);
        }
    }

    /// <summary>Creates an empty file (and its parents) to bind-mount a file onto.</summary>
    public static void CreateFile(string path)
    {
        MkdirAll(Path.GetDirectoryName(path)!);
        var fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0x1a4);
        Program.Check(fd, "create mount point", path);
        close(fd);
    }
}
