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
            var stat = Stat(root, path);
            var host = Resolve(root, path);
            var name = stat.Name is "" or "." or "/" ? "." : stat.Name;
            await using var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true);
            await AddAsync(writer, host, name, cancellationToken).ConfigureAwait(false);
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
        var dest = Resolve(root, directory, followLast: true);
        if (sys.LStat(dest) is not { IsDirectory: true })
        {
            throw new FileNotFoundException(missing);
        }

        var rel = directory.Trim('/');
        var reader = new TarReader(tar, leaveOpen: true);
        var links = new List<(string Path, string Target)>();
        while (await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is { } e)
        {
            var clean = Clean(e.Name);
            if (clean.Length == 0)
            {
                continue;
            }

            var parent = Path.GetDirectoryName(clean) ?? "";
            var dir = Resolve(root, "/" + rel + "/" + parent, followLast: true);
            Directory.CreateDirectory(dir);
            var target = Path.Combine(dir, Path.GetFileName(clean));
            var existing = sys.LStat(target);
            if (existing is { IsDirectory: false } && e.EntryType is TarEntryType.Directory)
            {
                throw new IOException($"cannot overwrite non-directory {clean} with a directory");
            }

            if (existing is { IsDirectory: false } || (existing is { IsDirectory: true } && e.EntryType is not TarEntryType.Directory))
            {
                if (existing.Value.IsDirectory)
                {
                    throw new IOException($"cannot overwrite directory {clean} with a non-directory");
                }

                File.Delete(target); // never write through what was there (a symlink above all)
            }

            switch (e.EntryType)
            {
                case TarEntryType.Directory:
                    Directory.CreateDirectory(target);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    await using (var f = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
                    {
                        if (e.DataStream is { } data)
                        {
                            await data.CopyToAsync(f, ct).ConfigureAwait(false);
                        }
                    }

                    break;
                case TarEntryType.SymbolicLink:
                    sys.Symlink(e.LinkName, target);
                    break;
                case TarEntryType.HardLink:
                    links.Add((target, Resolve(root, "/" + rel + "/" + Clean(e.LinkName))));
                    continue;
                default:
                    continue; // devices, fifos: not copied
            }

            sys.LChown(target, e.Uid, e.Gid);
            if (e.EntryType != TarEntryType.SymbolicLink)
            {
                File.SetUnixFileMode(target, (UnixFileMode)((int)e.Mode & 0xFFF));
                var ns = e.ModificationTime.ToUnixTimeMilliseconds() * 1_000_000L;
                sys.SetTimes(target, ns, ns);
            }
        }

        foreach (var (path, target) in links)
        {
            sys.Link(target, path);
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
        var host = Resolve(root, path);
        var st = Ctx.Sys.LStat(host) ?? throw new FileNotFoundException($"Could not find the file {path} in container {Name}");
        var name = Path.GetFileName(path.TrimEnd('/'));
        var link = (st.Mode & FileStatus.TypeMask) == FileStatus.Symlink ? new FileInfo(host).LinkTarget ?? "" : "";
        return new ContainerPathStat(name.Length == 0 ? "/" : name, st.Size, st.Mode, DateTimeOffset.FromUnixTimeMilliseconds(st.MtimeNs / 1_000_000), link);
    }

    /// <summary>The host path of <paramref name="path"/> under <paramref name="root"/>, links resolved inside it (the last one only when asked).</summary>
    private static string Resolve(string root, string path, bool followLast = false)
    {
        var clean = Clean(path);
        if (clean.Length == 0)
        {
            return root + "/"; // the root itself (/proc/PID/root is a link: the slash goes through it)
        }

        if (followLast || path.EndsWith("/.", StringComparison.Ordinal) || path.EndsWith('/'))
        {
            return RootedPath.Join(root, "/" + clean);
        }

        var parent = Path.GetDirectoryName(clean) ?? "";
        return Path.Combine(RootedPath.Join(root, "/" + parent), Path.GetFileName(clean));
    }

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

    private async Task AddAsync(TarWriter writer, string host, string name, CancellationToken ct)
    {
        var st = Ctx.Sys.LStat(host);
        if (st is not { } s)
        {
            return; // gone meanwhile
        }

        var type = s.Mode & FileStatus.TypeMask;
        PaxTarEntry entry;
        FileStream? data = null;
        switch (type)
        {
            case FileStatus.Directory:
                entry = new PaxTarEntry(TarEntryType.Directory, name.TrimEnd('/') + "/");
                break;
            case FileStatus.Regular:
                entry = new PaxTarEntry(TarEntryType.RegularFile, name);
                data = new FileStream(host, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                entry.DataStream = data;
                break;
            case FileStatus.Symlink:
                entry = new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = new FileInfo(host).LinkTarget ?? "" };
                break;
            default:
                return; // devices, sockets, fifos: docker cp copies them as entries; we leave them out
        }

        entry.Mode = (UnixFileMode)(s.Mode & 0xFFF);
        entry.Uid = s.Uid;
        entry.Gid = s.Gid;
        entry.ModificationTime = DateTimeOffset.FromUnixTimeMilliseconds(s.MtimeNs / 1_000_000);
        await using (data)
        {
            await writer.WriteEntryAsync(entry, ct).ConfigureAwait(false);
        }

        if (type == FileStatus.Directory)
        {
            foreach (var child in Directory.EnumerateFileSystemEntries(host).Select(Path.GetFileName).Order(StringComparer.Ordinal))
            {
                await AddAsync(writer, Path.Combine(host, child!), name.TrimEnd('/') + "/" + child, ct).ConfigureAwait(false);
            }
        }
    }
}
