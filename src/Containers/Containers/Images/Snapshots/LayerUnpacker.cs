using System.Formats.Tar;

namespace Containers.Images.Snapshots;

/// <summary>
/// Unpacks one layer tar into an empty directory as an overlayfs lower layer: whiteouts become 0/0 character
/// devices, opaque directories get <c>trusted.overlay.opaque=y</c>. Modes, ownership, mtimes, device nodes,
/// hardlinks, symlinks and xattrs are kept. Nothing is written outside the directory: absolute names, <c>..</c>,
/// writing through a symlink and hardlinks to files outside the layer throw <see cref="UnsafeLayerException"/>.
/// </summary>
internal sealed class LayerUnpacker
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";
    private const int O_WRONLY = 1, O_CREAT = 0x40, O_EXCL = 0x80, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000;
    private const int EPERM = 1, EOPNOTSUPP = 95;

    private readonly ISyscalls sys;
    private readonly string root;
    private readonly string layerName;
    private readonly HashSet<string> knownDirs = new(StringComparer.Ordinal) { "" };
    private readonly List<(string Path, long MtimeNs)> dirTimes = [];
    private readonly byte[] buffer = new byte[1 << 17];

    /// <param name="sys">The kernel seam.</param>
    /// <param name="root">The (empty, private) directory to fill.</param>
    /// <param name="layerName">How errors name the layer (its digest).</param>
    public LayerUnpacker(ISyscalls sys, string root, string layerName)
    {
        this.sys = sys;
        this.root = root;
        this.layerName = layerName;
    }

    /// <summary>Entries written (whiteouts included).</summary>
    public int Entries { get; private set; }

    /// <summary>Reads <paramref name="tar"/> to its end and unpacks it. Throws <see cref="UnsafeLayerException"/>.</summary>
    public void Unpack(Stream tar)
    {
        using var reader = new TarReader(tar, leaveOpen: true);
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = reader.GetNextEntry(copyData: false);
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
            {
                throw new UnsafeLayerException($"layer {layerName}: not a valid tar archive after {Entries} entries: {e.Message}");
            }

            if (entry is null)
            {
                break;
            }

            Apply(entry);
            Entries++;
        }

        // Directory mtimes last: writing their children changed them.
        for (var i = dirTimes.Count - 1; i >= 0; i--)
        {
            sys.SetTimes(dirTimes[i].Path, dirTimes[i].MtimeNs, dirTimes[i].MtimeNs);
        }
    }

    private void Apply(TarEntry entry)
    {
        if (entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes or TarEntryType.LongLink or TarEntryType.LongPath)
        {
            return;
        }

        var rel = Clean(entry.Name, "path", entry.Name);
        if (rel.Length == 0)
        {
            if (entry.EntryType == TarEntryType.Directory)
            {
                SetMetadata(root, entry, isDir: true); // "./": the layer root's own metadata
            }

            return;
        }

        var slash = rel.LastIndexOf('/');
        var parent = slash < 0 ? "" : rel[..slash];
        var name = slash < 0 ? rel : rel[(slash + 1)..];
        EnsureDirectory(parent, rel);
        if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            ApplyWhiteout(parent, name, rel);
            return;
        }

        var path = Full(rel);
        var existing = sys.LStat(path);
        if (entry.EntryType == TarEntryType.Directory)
        {
            if (existing is { IsDirectory: true })
            {
                SetMetadata(path, entry, isDir: true);
                return;
            }

            Remove(rel, existing);
            sys.MkDir(path, 0x1c0);
            knownDirs.Add(rel);
            SetMetadata(path, entry, isDir: true);
            return;
        }

        if (existing is { IsDirectory: true } && entry.EntryType != TarEntryType.Directory)
        {
            Remove(rel, existing);
        }
        else if (existing is not null)
        {
            sys.Unlink(path);
        }

        switch (entry.EntryType)
        {
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                WriteFile(path, entry);
                break;
            case TarEntryType.SymbolicLink:
                sys.Symlink(entry.LinkName, path);
                SetMetadata(path, entry, isDir: false, symlink: true);
                break;
            case TarEntryType.HardLink:
                var target = Clean(entry.LinkName, "hardlink target", entry.Name);
                var targetSlash = target.LastIndexOf('/');
                if (!IsVerifiedDirectory(targetSlash < 0 ? "" : target[..targetSlash]) || sys.LStat(Full(target)) is not { } st || st.IsDirectory)
                {
                    throw new UnsafeLayerException($"layer {layerName}: entry '{entry.Name}' is a hardlink to '{entry.LinkName}', which is not a file of this layer");
                }

                sys.Link(Full(target), path);
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                var type = entry.EntryType switch
                {
                    TarEntryType.CharacterDevice => FileStatus.CharDevice,
                    TarEntryType.BlockDevice => FileStatus.BlockDevice,
                    _ => FileStatus.Fifo,
                };
                var posix = (PosixTarEntry)entry;
                sys.MkNod(path, type | ((int)entry.Mode & 0xFFF), LinuxSyscalls.MakeDev((uint)posix.DeviceMajor, (uint)posix.DeviceMinor));
                SetMetadata(path, entry, isDir: false);
                break;
            default:
                throw new UnsafeLayerException($"layer {layerName}: entry '{entry.Name}' has unsupported type {entry.EntryType}");
        }
    }

    private void WriteFile(string path, TarEntry entry)
    {
        var fd = sys.Open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0x180);
        try
        {
            if (entry.DataStream is { } data)
            {
                int n;
                while ((n = data.Read(buffer)) > 0)
                {
                    sys.WriteAll(fd, buffer.AsSpan(0, n));
                }
            }

            sys.FChown(fd, entry.Uid, entry.Gid);
            sys.FChmod(fd, (int)entry.Mode & 0xFFF);
            ApplyXattrs(path, entry);
            var mtime = ToNs(entry.ModificationTime);
            sys.FSetTimes(fd, mtime, mtime);
        }
        finally
        {
            sys.Close(fd);
        }
    }

    private void SetMetadata(string path, TarEntry entry, bool isDir, bool symlink = false)
    {
        sys.LChown(path, entry.Uid, entry.Gid);
        if (!symlink)
        {
            sys.Chmod(path, (int)entry.Mode & 0xFFF);
            ApplyXattrs(path, entry);
        }

        var mtime = ToNs(entry.ModificationTime);
        if (isDir)
        {
            dirTimes.Add((path, mtime));
        }
        else
        {
            sys.SetTimes(path, mtime, mtime);
        }
    }

    private void ApplyXattrs(string path, TarEntry entry)
    {
        if (entry is not PaxTarEntry pax)
        {
            return;
        }

        foreach (var (key, value) in pax.ExtendedAttributes)
        {
            if (!key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
            {
                continue;
            }

            var name = key["SCHILY.xattr.".Length..];
            if (name.StartsWith("trusted.overlay.", StringComparison.Ordinal) || value.Contains('\uFFFD', StringComparison.Ordinal))
            {
                continue; // overlay's own attributes would corrupt the mount; binary values were not kept by the reader
            }

            try
            {
                sys.LSetXattr(path, name, Encoding.UTF8.GetBytes(value));
            }
            catch (SyscallException e) when (e.Errno is EOPNOTSUPP or EPERM)
            {
                // "where the filesystem allows"
            }
        }
    }

    private void ApplyWhiteout(string parent, string name, string rel)
    {
        if (name == OpaqueMarker)
        {
            sys.LSetXattr(Full(parent), "trusted.overlay.opaque", "y"u8);
            return;
        }

        if (name.StartsWith(WhiteoutPrefix + WhiteoutPrefix, StringComparison.Ordinal))
        {
            return; // other AUFS metadata (.wh..wh.plnk and the like)
        }

        var hidden = (parent.Length == 0 ? "" : parent + "/") + name[WhiteoutPrefix.Length..];
        if (hidden.EndsWith('/') || name.Length == WhiteoutPrefix.Length || name[WhiteoutPrefix.Length..] is "." or "..")
        {
            throw new UnsafeLayerException($"layer {layerName}: invalid whiteout '{rel}'");
        }

        var path = Full(hidden);
        if (sys.LStat(path) is { } existing)
        {
            Remove(hidden, existing);
        }

        sys.MkNod(path, FileStatus.CharDevice, 0);
    }

    /// <summary>Makes sure every component of <paramref name="dir"/> is a real directory of this layer (creating missing ones 0755).</summary>
    private void EnsureDirectory(string dir, string forEntry)
    {
        if (knownDirs.Contains(dir))
        {
            return;
        }

        var slash = dir.LastIndexOf('/');
        EnsureDirectory(slash < 0 ? "" : dir[..slash], forEntry);
        var path = Full(dir);
        switch (sys.LStat(path))
        {
            case null:
                sys.MkDir(path, 0x1ed);
                break;
            case { IsDirectory: true }:
                break;
            case { Type: FileStatus.Symlink }:
                throw new UnsafeLayerException($"layer {layerName}: entry '{forEntry}' would be written through the symbolic link '{dir}'; refused");
            default:
                throw new UnsafeLayerException($"layer {layerName}: entry '{forEntry}' needs '{dir}' to be a directory, but it is a file");
        }

        knownDirs.Add(dir);
    }

    private bool IsVerifiedDirectory(string dir)
    {
        if (knownDirs.Contains(dir))
        {
            return true;
        }

        var slash = dir.LastIndexOf('/');
        if (!IsVerifiedDirectory(slash < 0 ? "" : dir[..slash]) || sys.LStat(Full(dir)) is not { IsDirectory: true })
        {
            return false;
        }

        knownDirs.Add(dir);
        return true;
    }

    private void Remove(string rel, FileStatus? existing)
    {
        if (existing is null)
        {
            return;
        }

        if (existing.Value.IsDirectory)
        {
            Directory.Delete(Full(rel), recursive: true); // does not follow symlinks
            knownDirs.RemoveWhere(d => d == rel || d.StartsWith(rel + "/", StringComparison.Ordinal));
            dirTimes.RemoveAll(d => d.Path == Full(rel) || d.Path.StartsWith(Full(rel) + "/", StringComparison.Ordinal));
        }
        else
        {
            sys.Unlink(Full(rel));
        }
    }

    private string Full(string rel) => rel.Length == 0 ? root : root + "/" + rel;

    /// <summary>The entry name as a relative path with no empty or "." parts; refuses absolute names and "..".</summary>
    private string Clean(string name, string what, string entryName)
    {
        if (name.StartsWith('/'))
        {
            throw new UnsafeLayerException($"layer {layerName}: entry '{entryName}' has an absolute {what} '{name}'; refused");
        }

        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new UnsafeLayerException($"layer {layerName}: entry '{entryName}' has a NUL in its {what}");
        }

        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var sb = new StringBuilder(name.Length);
        foreach (var part in parts)
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                throw new UnsafeLayerException($"layer {layerName}: entry '{entryName}' has '..' in its {what} '{name}'; refused");
            }

            if (sb.Length > 0)
            {
                sb.Append('/');
            }

            sb.Append(part);
        }

        return sb.ToString();
    }

    private static long ToNs(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
}
