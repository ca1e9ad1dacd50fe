using System.Formats.Tar;
using Containers.Shim;

namespace Containers;

/// <summary>What <see cref="Container.StatPath"/> finds at a path of a container's file system.</summary>
/// <param name="Name">The last element of the path.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Mode">Permission bits and type (the <c>S_IF*</c> bits of <c>st_mode</c>).</param>
/// <param name="Modified">Last modification time.</param>
/// <param name="LinkTarget">Where a symlink points; empty otherwise.</param>
public sealed record ContainerPathStat(string Name, long Size, int Mode, DateTimeOffset Modified, string LinkTarget)
{
    /// <summary>Whether it is a directory.</summary>
    public bool IsDirectory => (Mode & FileStatus.TypeMask) == FileStatus.Directory;

    /// <summary>Whether it is a symbolic link.</summary>
    public bool IsSymlink => (Mode & FileStatus.TypeMask) == FileStatus.Symlink;
}

/// <summary>docker cp: files in and out of a container's file system as tar streams.</summary>
public sealed partial class Container
{
    private const ulong MsRdonly = 1;
    private const int MntDetach = 2;

    /// <summary>
    /// What is at <paramref name="path"/> in the container (symlinks in its parents resolved inside the container, the last
    /// element not followed). Throws <see cref="FileNotFoundException"/> when nothing is there.
    /// </summary>
    public ContainerPathStat StatPath(string path) => WithRoot(write: false, root => Stat(root, path));

    /// <summary>
    /// Writes a tar of <paramref name="path"/> to <paramref name="tar"/> (docker cp CONTAINER:PATH): a file as one entry
    /// named after it, a directory with everything below it (symlinks are archived as links, never followed). Works on
    /// running and stopped containers. Throws <see cref="FileNotFoundException"/> when the path does not exist.
    /// </summary>
    public Task CopyFromAsync(string path, Stream tar, CancellationToken cancellationToken = default) =>
        WithRoot(write: false, async root =>
        {
            using var r = RootFd.Open(Ctx.Sys, root);
            var stat = Stat(r, path);
            var name = stat.Name is "" or "." or "/" ? "." : stat.Name;
            await using var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
            await AddAsync(writer, r, "/" + Clean(path), FollowsLast(path), name, cancellationToken).ConfigureAwait(false);
        });

    /// <summary>
    /// Extracts the tar <paramref name="tar"/> into the directory <paramref name="directory"/> of the container (docker cp
    /// SRC CONTAINER:DIR), keeping modes, owners and times. Entry names are confined to the container: ".." and absolute
    /// names cannot leave <paramref name="directory"/>'s root, and symlinks are resolved inside the container. Throws
    /// <see cref="FileNotFoundException"/> when the directory does not exist, <see cref="InvalidDataException"/> for a bad tar.
    /// </summary>
    public Task CopyToAsync(string directory, Stream tar, CancellationToken cancellationToken = default) =>
        WithRoot(write: true, root => ExtractConfinedAsync(Ctx.Sys, root, directory, tar, $"Could not find the file {directory} in container {Name}", cancellationToken));

    /// <summary>
    /// Extracts <paramref name="tar"/> into the host directory <paramref name="directory"/> with the guarantees of
    /// <see cref="CopyToAsync(string, Stream, CancellationToken)"/> into a container: no entry (by "..", an
    /// absolute name or a symlink) lands outside it, and nothing is written through what was at a name before. For a
    /// server that receives an archive from a client (a build context). Throws <see cref="FileNotFoundException"/> when
    /// the directory does not exist, <see cref="InvalidDataException"/> for a bad tar.
    /// </summary>
    public static Task ExtractArchiveConfinedAsync(string directory, Stream tar, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(tar);
        return ExtractConfinedAsync(LinuxSyscalls.Instance, Path.GetFullPath(directory), "/", tar, $"{directory} is missing", cancellationToken);
    }

    /// <summary>
    /// Extracts <paramref name="tar"/> into <paramref name="directory"/> of the tree at <paramref name="root"/> as if
    /// <paramref name="root"/> were "/": ".." and absolute names cannot leave it, symlinks (the tree's or the archive's
    /// own) are resolved inside it, and nothing is written through what was at a name before. Modes, owners and times
    /// are kept; devices and fifos are skipped. Throws <see cref="FileNotFoundException"/> (<paramref name="missing"/>)
    /// when the directory does not exist, <see cref="InvalidDataException"/> for a bad tar.
    /// </summary>
    internal static async Task ExtractConfinedAsync(ISyscalls sys, string root, string directory, Stream tar, string missing, CancellationToken ct)
    {
        using var r = RootFd.Open(sys, root);
        var destFd = r.Open(directory, RootFd.O_PATH | RootFd.O_DIRECTORY) ?? throw new FileNotFoundException(missing);
        sys.Close(destFd);
        var rel = "/" + Clean(directory);
        var reader = new TarReader(tar, leaveOpen: true);
        var links = new List<(string Parent, string Name, string Target)>();
        while (await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is { } e)
        {
            var clean = Clean(e.Name);
            if (clean.Length == 0)
            {
                continue;
            }

            var parent = rel.TrimEnd('/') + "/" + (Path.GetDirectoryName(clean) ?? "");
            var name = Path.GetFileName(clean);
            if (e.EntryType is TarEntryType.HardLink)
            {
                links.Add((parent, name, Clean(rel.TrimEnd('/') + "/" + Clean(e.LinkName))));
                continue;
            }

            if (e.EntryType is not (TarEntryType.Directory or TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile or TarEntryType.SymbolicLink))
            {
                continue; // devices, fifos: not copied
            }

            // every call below names one entry of a directory held open: nothing the container swaps in can redirect it
            var dir = r.MakeDirectories(parent);
            try
            {
                var existing = sys.StatAt(dir, name);
                if (existing is { IsDirectory: false } && e.EntryType is TarEntryType.Directory)
                {
                    throw new IOException($"cannot overwrite non-directory {clean} with a directory");
                }

                if (existing is { IsDirectory: true } && e.EntryType is not TarEntryType.Directory)
                {
                    throw new IOException($"cannot overwrite directory {clean} with a non-directory");
                }

                if (existing is { IsDirectory: false })
                {
                    sys.UnlinkAt(dir, name, directory: false); // never write through what was there (a symlink above all)
                }

                var mode = (int)e.Mode & 0xFFF;
                var ns = e.ModificationTime.ToUnixTimeMilliseconds() * 1_000_000L;
                switch (e.EntryType)
                {
                    case TarEntryType.Directory:
                        if (existing is null)
                        {
                            sys.MkDirAt(dir, name, 0x1ed);
                        }

                        var d = sys.OpenAt2(dir, name, RootFd.O_RDONLY | RootFd.O_DIRECTORY | RootFd.O_NOFOLLOW | RootFd.O_CLOEXEC, 0, RootFd.ResolveBeneath);
                        try
                        {
                            sys.FChown(d, e.Uid, e.Gid);
                            sys.FChmod(d, mode);
                        }
                        finally
                        {
                            sys.Close(d);
                        }

                        break;
                    case TarEntryType.SymbolicLink:
                        sys.SymlinkAt(e.LinkName, dir, name);
                        sys.ChownAt(dir, name, e.Uid, e.Gid);
                        continue;
                    default:
                        var f = sys.OpenAt2(dir, name, RootFd.O_WRONLY | RootFd.O_CREAT | RootFd.O_EXCL | RootFd.O_NOFOLLOW | RootFd.O_CLOEXEC, 0x180, RootFd.ResolveBeneath);
                        await using (var stream = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(f, ownsHandle: true), FileAccess.Write))
                        {
                            if (e.DataStream is { } data)
                            {
                                await data.CopyToAsync(stream, ct).ConfigureAwait(false);
                            }

                            await stream.FlushAsync(ct).ConfigureAwait(false);
                            sys.FChown(f, e.Uid, e.Gid);
                            sys.FChmod(f, mode);
                        }

                        break;
                }

                sys.SetTimesAt(dir, name, ns, ns);
            }
            finally
            {
                sys.Close(dir);
            }
        }

        foreach (var (parent, name, target) in links)
        {
            var dir = r.MakeDirectories(parent);
            var targetDir = r.Open("/" + (Path.GetDirectoryName(target) ?? ""), RootFd.O_PATH | RootFd.O_DIRECTORY);
            try
            {
                if (targetDir is not { } td)
                {
                    throw new FileNotFoundException($"hard link {parent}/{name}: its target /{target} is missing");
                }

                sys.LinkAt(td, Path.GetFileName(target), dir, name);
            }
            finally
            {
                sys.Close(dir);
                if (targetDir is { } open)
                {
                    sys.Close(open);
                }
            }
        }
    }

    private T WithRoot<T>(bool write, Func<string, T> action)
    {
        var s = State;
        if (s.IsActive && s.Pid > 0)
        {
            return action($"/proc/{s.Pid}/root"); // its own view, volumes included
        }

        // a stopped container: its overlay, mounted on the host for the copy
        var dir = Ctx.Store.Dir(Id);
        var upper = Path.Combine(dir, "upper");
        Directory.CreateDirectory(upper);
        var lowers = string.Join(':', [s.Spec.Rootfs, .. s.Spec.LowerLayers]);
        var mount = Path.Combine(dir, "cp-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mount);
        string data;
        if (write)
        {
            var work = Path.Combine(dir, "work");
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }

            Directory.CreateDirectory(work);
            data = $"lowerdir={lowers},upperdir={upper},workdir={work}";
        }
        else
        {
            data = $"lowerdir={upper}:{lowers}";
        }

        try
        {
            Ctx.Sys.Mount("overlay", mount, "overlay", write ? 0 : MsRdonly, data);
        }
        catch
        {
            Directory.Delete(mount);
            throw;
        }

        var unmount = true;
        try
        {
            var result = action(mount);
            if (result is Task task)
            {
                unmount = false;
                _ = task.ContinueWith(_ => Release(mount), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            return result;
        }
        finally
        {
            if (unmount)
            {
                Release(mount);
            }
        }
    }

    private void Release(string mount)
    {
        Ctx.Sys.Unmount(mount, MntDetach);
        Directory.Delete(mount);
    }

    private ContainerPathStat Stat(string root, string path)
    {
        using var r = RootFd.Open(Ctx.Sys, root);
        return Stat(r, path);
    }

    private ContainerPathStat Stat(RootFd r, string path)
    {
        var fd = r.Open(path, RootFd.O_PATH | (FollowsLast(path) ? 0 : RootFd.O_NOFOLLOW)) ?? throw new FileNotFoundException($"Could not find the file {path} in container {Name}");
        try
        {
            var st = Ctx.Sys.StatAt(fd, "") ?? throw new FileNotFoundException($"Could not find the file {path} in container {Name}");
            var name = Path.GetFileName(path.TrimEnd('/'));
            var link = (st.Mode & FileStatus.TypeMask) == FileStatus.Symlink ? Ctx.Sys.ReadLinkAt(fd, "") : "";
            return new ContainerPathStat(name.Length == 0 ? "/" : name, st.Size, st.Mode, DateTimeOffset.FromUnixTimeMilliseconds(st.MtimeNs / 1_000_000), link);
        }
        finally
        {
            Ctx.Sys.Close(fd);
        }
    }

    /// <summary>Whether a path names what its last symlink points to (it ends with a slash or "/.", as docker cp reads it).</summary>
    private static bool FollowsLast(string path) => path.EndsWith('/') || path.EndsWith("/.", StringComparison.Ordinal) || Clean(path).Length == 0;

    /// <summary>A path made relative and free of "." and ".." (which cannot climb above the start).</summary>
    private static string Clean(string path)
    {
        var parts = new List<string>();
        foreach (var p in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (p == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }
            }
            else if (p != ".")
            {
                parts.Add(p);
            }
        }

        return string.Join('/', parts);
    }

    /// <summary>
    /// Archives <paramref name="path"/> of the container (and what is below a directory) as <paramref name="name"/>:
    /// each file is opened by the kernel inside the root (a symlink the container swaps in meanwhile cannot lead
    /// out, CVE-2018-15664), and what changed type meanwhile is left out.
    /// </summary>
    private async Task AddAsync(TarWriter writer, RootFd r, string path, bool followLast, string name, CancellationToken ct)
    {
        var sys = Ctx.Sys;
        var fd = r.Open(path, RootFd.O_PATH | (followLast ? 0 : RootFd.O_NOFOLLOW));
        if (fd is not { } pathFd)
        {
            return; // gone meanwhile
        }

        PaxTarEntry entry;
        FileStream? data = null;
        FileStatus s;
        List<string> children = [];
        try
        {
            if (sys.StatAt(pathFd, "") is not { } st)
            {
                return;
            }

            s = st;
            switch (s.Mode & FileStatus.TypeMask)
            {
                case FileStatus.Directory:
                    entry = new PaxTarEntry(TarEntryType.Directory, name.TrimEnd('/') + "/");
                    children = [.. Directory.EnumerateFileSystemEntries($"/proc/self/fd/{pathFd}").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)];
                    break;
                case FileStatus.Regular:
                    if (r.Open(path, RootFd.O_RDONLY | (followLast ? 0 : RootFd.O_NOFOLLOW)) is not { } read)
                    {
                        return;
                    }

                    entry = new PaxTarEntry(TarEntryType.RegularFile, name);
                    data = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(read, ownsHandle: true), FileAccess.Read);
                    entry.DataStream = data;
                    break;
                case FileStatus.Symlink:
                    entry = new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = sys.ReadLinkAt(pathFd, "") };
                    break;
                default:
                    return; // devices, sockets, fifos: docker cp copies them as entries; we leave them out
            }
        }
        catch (SyscallException e) when (e.Errno == 40)
        {
            return; // ELOOP: it became a symlink since it was listed
        }
        finally
        {
            sys.Close(pathFd);
        }

        entry.Mode = (UnixFileMode)(s.Mode & 0xFFF);
        entry.Uid = s.Uid;
        entry.Gid = s.Gid;
        entry.ModificationTime = DateTimeOffset.FromUnixTimeMilliseconds(s.MtimeNs / 1_000_000);
        await using (data)
        {
            await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
        }

        foreach (var child in children)
        {
            await AddAsync(writer, r, path.TrimEnd('/') + "/" + child, false, name.TrimEnd('/') + "/" + child, ct).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// A root directory held open, whose paths the kernel resolves inside it (openat2 with RESOLVE_IN_ROOT: absolute
/// symlinks and ".." stop at it), in one step: what a container changes while a copy runs cannot lead outside.
/// </summary>
internal sealed class RootFd(ISyscalls sys, int fd) : IDisposable
{
    public const int O_RDONLY = 0, O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_PATH = 0x200000;

    /// <summary>RESOLVE_BENEATH: for one name in a held directory, nothing may resolve above it.</summary>
    public const ulong ResolveBeneath = 0x08;

    private const ulong ResolveNoMagicLinks = 0x02, ResolveInRoot = 0x10;

    /// <summary>Opens <paramref name="root"/> (a directory, or /proc/PID/root) to resolve paths in.</summary>
    public static RootFd Open(ISyscalls sys, string root) => new(sys, sys.Open(root, O_PATH | O_DIRECTORY | O_CLOEXEC));

    /// <summary>Opens <paramref name="path"/> inside the root with <paramref name="flags"/>; null when it (or a parent) does not exist.</summary>
    public int? Open(string path, int flags)
    {
        var rel = path.TrimStart('/');
        try
        {
            return sys.OpenAt2(fd, rel.Length == 0 ? "." : rel, flags | O_CLOEXEC, 0, ResolveInRoot | ResolveNoMagicLinks);
        }
        catch (SyscallException e) when (e.Errno is 2 or 20)
        {
            return null; // ENOENT, ENOTDIR
        }
    }

    /// <summary>The directory <paramref name="path"/> inside the root, made with its missing parents (mkdir -p), opened O_PATH; the caller closes it.</summary>
    public int MakeDirectories(string path)
    {
        if (Open(path, O_PATH | O_DIRECTORY) is { } existing)
        {
            return existing;
        }

        var dir = sys.OpenAt2(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, ResolveInRoot);
        var walked = "";
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            walked += "/" + part;
            var next = Open(walked, O_PATH | O_DIRECTORY);
            if (next is null)
            {
                try
                {
                    sys.MkDirAt(dir, part, 0x1ed);
                }
                catch (SyscallException e) when (e.Errno == 17)
                {
                    // EEXIST: made meanwhile
                }

                next = Open(walked, O_PATH | O_DIRECTORY);
            }

            sys.Close(dir);
            dir = next ?? throw new IOException($"{walked} is not a directory");
        }

        return dir;
    }

    public void Dispose() => sys.Close(fd);
}
