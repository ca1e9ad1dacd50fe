// Shared by the shim (mount points) and the library (files read from a root filesystem). Compiled into both.
namespace Containers.Shim;

/// <summary>Path resolution confined to a root: symlinks are followed as if the root were "/" (filepath-securejoin).</summary>
internal static class RootedPath
{
    /// <summary>
    /// Joins <paramref name="path"/> onto <paramref name="root"/>, resolving every symlink inside the root, so the
    /// result never lies outside it whatever the links say. Throws <see cref="IOException"/> after 255 links (a loop).
    /// </summary>
    public static string Join(string root, string path)
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
            catch (UnauthorizedAccessException)
            {
            }

            if (target is null)
            {
                resolved.Add(part);
                continue;
            }

            if (++links > 255)
            {
                throw new IOException($"{path}: too many levels of symbolic links");
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
}
