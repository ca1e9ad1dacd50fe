using System.Formats.Tar;

namespace Containers.Images.Snapshots;

/// <summary>
/// Writes a directory as a layer tar, in sorted order so the same tree gives the same bytes. An overlay upper
/// directory's whiteouts (0/0 character devices) become <c>.wh.name</c> entries and opaque directories
/// (<c>trusted.overlay.opaque=y</c>) a <c>.wh..wh..opq</c> entry; hardlinks within the tree stay hardlinks.
/// </summary>
internal sealed class LayerWriter(ISyscalls sys)
{
    /// <summary>
    /// What the runtime creates in a container's upper directory only as mount points (for /etc/hostname, /etc/hosts,
    /// /etc/resolv.conf, /proc, /sys, /dev): not the container's changes when empty.
    /// </summary>
    public static Func<string, FileStatus, bool> RuntimePlaceholders { get; } = (rel, st) =>
        (rel is "etc/hostname" or "etc/hosts" or "etc/resolv.conf" && st.Type == FileStatus.Regular && st.Size == 0) ||
        (rel is "proc" or "sys" or "dev" && st.IsDirectory);

    /// <summary>Writes <paramref name="root"/> to <paramref name="output"/> (left open). <paramref name="overlay"/>: convert overlay whiteouts.</summary>
    public void Write(string root, Stream output, bool overlay, Func<string, FileStatus, bool>? skip = null, long? clampMtime = null)
    {
        using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        var inodes = new Dictionary<(ulong, ulong), string>();
        this.clamp = clampMtime;
        Walk(tar, root, "", overlay, inodes, skip ?? ((_, _) => false));
    }

    private long? clamp;

    private void Walk(TarWriter tar, string root, string rel, bool overlay, Dictionary<(ulong, ulong), string> inodes, Func<string, FileStatus, bool> skip)
    {
        var dir = rel.Length == 0 ? root : Path.Combine(root, rel);
        var names = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var childRel = rel.Length == 0 ? name : rel + "/" + name;
            var path = Path.Combine(root, childRel);
            if (sys.LStat(path) is not { } st || skip(childRel, st))
            {
                continue; // vanished meanwhile, or a runtime placeholder
            }

            if (overlay && st.Type == FileStatus.CharDevice && st.Device == 0)
            {
                tar.WriteEntry(Meta(new PaxTarEntry(TarEntryType.RegularFile, Parent(childRel) + ".wh." + name), st));
                continue;
            }

            switch (st.Type)
            {
                case FileStatus.Directory:
                    tar.WriteEntry(Meta(new PaxTarEntry(TarEntryType.Directory, childRel + "/", Xattrs(path)), st));
                    if (overlay && sys.LGetXattr(path, "trusted.overlay.opaque") is [(byte)'y'])
                    {
                        tar.WriteEntry(Meta(new PaxTarEntry(TarEntryType.RegularFile, childRel + "/.wh..wh..opq"), st));
                    }

                    Walk(tar, root, childRel, overlay, inodes, skip);
                    break;
                case FileStatus.Regular:
                    if (st.LinkCount > 1 && inodes.TryGetValue((st.Device, st.Inode), out var first))
                    {
                        tar.WriteEntry(Meta(new PaxTarEntry(TarEntryType.HardLink, childRel) { LinkName = first }, st));
                        break;
                    }

                    if (st.LinkCount > 1)
                    {
                        inodes[(st.Device, st.Inode)] = childRel;
                    }

                    using (var data = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16))
                    {
                        tar.WriteEntry(Meta(new PaxTarEntry(TarEntryType.RegularFile, childRel, Xattrs(path)) { DataStream = data }, st));
                    }

                    break;
                case FileStatus.Symlink:
                    tar.WriteEntry(Meta(new PaxTarEntry(TarEntryType.SymbolicLink, childRel) { LinkName = sys.ReadLink(path) }, st));
                    break;
                case FileStatus.CharDevice or FileStatus.BlockDevice:
                    var (major, minor) = Split(st.Device);
                    tar.WriteEntry(Meta(new PaxTarEntry(st.Type == FileStatus.CharDevice ? TarEntryType.CharacterDevice : TarEntryType.BlockDevice, childRel) { DeviceMajor = major, DeviceMinor = minor }, st));
                    break;
                case FileStatus.Fifo:
                    tar.WriteEntry(Meta(new PaxTarEntry(TarEntryType.Fifo, childRel), st));
                    break;
                default:
                    break; // sockets are not archived (as tar and docker)
            }
        }
    }

    private Dictionary<string, string> Xattrs(string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in sys.LListXattr(path))
        {
            if (name.StartsWith("trusted.overlay.", StringComparison.Ordinal) || sys.LGetXattr(path, name) is not { } value)
            {
                continue;
            }

            try
            {
                result["SCHILY.xattr." + name] = new System.Text.UTF8Encoding(false, true).GetString(value);
            }
            catch (System.Text.DecoderFallbackException)
            {
                // binary values (security.capability) cannot round-trip through System.Formats.Tar's string attributes
            }
        }

        return result;
    }

    private TarEntry Meta(PaxTarEntry entry, FileStatus st)
    {
        entry.Uid = st.Uid;
        entry.Gid = st.Gid;
        entry.Mode = (UnixFileMode)(st.Permissions & 0xFFF);
        var ms = st.MtimeNs / 1_000_000;
        entry.ModificationTime = DateTimeOffset.FromUnixTimeMilliseconds(clamp is { } c && ms > c * 1000 ? c * 1000 : ms);
        return entry;
    }

    private static string Parent(string rel) => rel.LastIndexOf('/') is var i and >= 0 ? rel[..(i + 1)] : "";

    private static (int Major, int Minor) Split(ulong dev) =>
        ((int)(((dev >> 8) & 0xfff) | ((dev >> 32) & 0xfffff000)), (int)((dev & 0xff) | ((dev >> 12) & 0xffffff00)));
}
