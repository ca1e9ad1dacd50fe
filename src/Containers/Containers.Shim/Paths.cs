using static Containers.Shim.Libc;
using static Tmds.Linux.LibC;

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
    public static void MkdirAll(string path, string step = "create mount point")
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // NativeAOT has no resource strings: say what the kernel would
            throw new ShimException(step, 17, path + (File.Exists(path) ? ": exists and is not a directory" : ": cannot be created (" + e.GetType().Name + ")"));
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
