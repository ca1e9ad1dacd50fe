using static Containers.Shim.Libc;

namespace Containers.Shim;

/// <summary>Path resolution confined to a root: symlinks are followed as if the root were "/".</summary>
internal static class Paths
{
    /// <summary>
    /// Joins <paramref name="path"/> onto <paramref name="root"/>, resolving every symlink inside the root,
    /// so that the result never lies outside it (the filepath-securejoin algorithm).
    /// </summary>
    public static string SecureJoin(string root, string path)
    {
        var pending = new Stack<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        var resolved = new List<string>();
        var links = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var candidate = root + "/" + string.Join('/', resolved.Append(part));
            string? target = null;
            try
            {
                target = new FileInfo(candidate).LinkTarget;
            }
            catch (IOException)
            {
            }

            if (target is null)
            {
                resolved.Add(part);
                continue;
            }

            if (++links > 255)
            {
                throw new ShimException("resolve path", 40, path);
            }

            if (target.StartsWith('/'))
            {
                resolved.Clear();
            }

            foreach (var t in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse())
            {
                pending.Push(t);
            }
        }

        return resolved.Count == 0 ? root : root + "/" + string.Join('/', resolved);
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
