using System.Formats.Tar;
using Containers.Images;
using Containers.Images.Snapshots;
using Containers.Linux;

namespace Containers.Tests.Images;

/// <summary>Layer unpacking into overlay form, and the suite of hostile layers that must write nothing outside.</summary>
public sealed class LayerUnpackerTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-layer-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string root;
    private readonly string outside;

    public LayerUnpackerTests()
    {
        root = Path.Combine(dir, "layer");
        outside = Path.Combine(dir, "outside");
        Directory.CreateDirectory(root);
        Directory.CreateDirectory(outside);
    }

    public void Dispose() => Directory.Delete(dir, true);

    private static MemoryStream Tar(params TarEntry[] entries)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var e in entries)
            {
                w.WriteEntry(e);
            }
        }

        ms.Position = 0;
        return ms;
    }

    private static PaxTarEntry File(string name, string content, int mode = 0x1a4, int uid = 0, int gid = 0) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)mode, Uid = uid, Gid = gid, ModificationTime = new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero) };

    private static PaxTarEntry Dir(string name, int mode = 0x1ed) => new(TarEntryType.Directory, name) { Mode = (UnixFileMode)mode, ModificationTime = new DateTimeOffset(2021, 1, 1, 0, 0, 0, TimeSpan.Zero) };

    private static PaxTarEntry Link(TarEntryType type, string name, string target) => new(type, name) { LinkName = target };

    private void Unpack(MemoryStream tar) => new LayerUnpacker(LinuxSyscalls.Instance, root, "test-layer").Unpack(tar);

    [Fact]
    public void Keeps_modes_ownership_mtimes_links_devices_and_overlay_whiteouts()
    {
        var dev = new PaxTarEntry(TarEntryType.CharacterDevice, "dev/null2") { DeviceMajor = 1, DeviceMinor = 3, Mode = (UnixFileMode)0x1b6 };
        var fifo = new PaxTarEntry(TarEntryType.Fifo, "run/fifo") { Mode = (UnixFileMode)0x180 };
        Unpack(Tar(
            Dir("etc/"),
            File("etc/conf", "x=1", 0x9ed, 1000, 50), // setuid bit kept, after chown
            Link(TarEntryType.SymbolicLink, "etc/link", "/etc/conf"),
            Link(TarEntryType.HardLink, "etc/hard", "etc/conf"),
            Dir("gone/"),
            File("gone/.wh..wh..opq", ""),
            File(".wh.deleted", ""),
            dev,
            fifo,
            File("a/b/c/deep", "d")));

        var sys = LinuxSyscalls.Instance;
        var conf = sys.LStat(Path.Combine(root, "etc/conf"))!.Value;
        Assert.Equal(0x9ed, conf.Permissions);
        Assert.Equal((1000, 50), (conf.Uid, conf.Gid));
        Assert.Equal(new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero).ToUnixTimeSeconds(), conf.MtimeNs / 1_000_000_000);
        Assert.Equal(2, conf.LinkCount);
        Assert.Equal("/etc/conf", sys.ReadLink(Path.Combine(root, "etc/link")));
        Assert.Equal(new DateTimeOffset(2021, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds(), sys.LStat(Path.Combine(root, "etc"))!.Value.MtimeNs / 1_000_000_000);
        Assert.Equal("y"u8.ToArray(), sys.LGetXattr(Path.Combine(root, "gone"), "trusted.overlay.opaque"));
        var whiteout = sys.LStat(Path.Combine(root, "deleted"))!.Value;
        Assert.Equal((FileStatus.CharDevice, 0UL), (whiteout.Type, whiteout.Device));
        var node = sys.LStat(Path.Combine(root, "dev/null2"))!.Value;
        Assert.Equal((FileStatus.CharDevice, LinuxSyscalls.MakeDev(1, 3)), (node.Type, node.Device));
        Assert.Equal(FileStatus.Fifo, sys.LStat(Path.Combine(root, "run/fifo"))!.Value.Type);
        Assert.Equal("d", System.IO.File.ReadAllText(Path.Combine(root, "a/b/c/deep")));
        Assert.False(System.IO.File.Exists(Path.Combine(root, ".wh.deleted")));
    }

    public static TheoryData<string, TarEntry[]> Hostile => new()
    {
        { "'..'", [File("../escaped", "x")] },
        { "'..'", [File("a/../../escaped", "x")] },
        { "absolute", [File("/tmp/escaped", "x")] },
        { "symbolic link", [Link(TarEntryType.SymbolicLink, "out", "../outside"), File("out/escaped", "x")] },
        { "symbolic link", [Link(TarEntryType.SymbolicLink, "out", "/"), File("out/tmp/escaped", "x")] },
        { "symbolic link", [Link(TarEntryType.SymbolicLink, "a", "b"), Link(TarEntryType.SymbolicLink, "b", "../outside"), File("a/escaped", "x")] },
        { "symbolic link", [Link(TarEntryType.SymbolicLink, "out", "../outside"), Link(TarEntryType.SymbolicLink, "out/x", "/etc/passwd")] },
        { "'..'", [Link(TarEntryType.HardLink, "h", "../outside/secret")] },
        { "absolute", [Link(TarEntryType.HardLink, "h", "/etc/passwd")] },
        { "not a file of this layer", [Link(TarEntryType.HardLink, "h", "etc/passwd")] },
        { "not a file of this layer", [Link(TarEntryType.SymbolicLink, "d", "../outside"), Link(TarEntryType.HardLink, "h", "d/secret")] },
        { "symbolic link", [Link(TarEntryType.SymbolicLink, "d", "../outside"), File("d/.wh.secret", "")] },
        { "symbolic link", [Link(TarEntryType.SymbolicLink, "d", "../outside"), File("d/.wh..wh..opq", "")] },
        { "invalid whiteout", [File(".wh..", "")] }, // a whiteout of ".." would delete the layer's parent
        { "invalid whiteout", [File("a/.wh..", "")] },
        { "invalid whiteout", [File("a/b/.wh..", "")] },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_layers_are_refused_and_write_nothing_outside(string why, TarEntry[] entries)
    {
        System.IO.File.WriteAllText(Path.Combine(outside, "secret"), "s");
        var e = Assert.Throws<UnsafeLayerException>(() => Unpack(Tar(entries)));
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
        Assert.Contains("test-layer", e.Message, StringComparison.Ordinal);
        Assert.Equal(["secret"], Directory.GetFileSystemEntries(outside).Select(Path.GetFileName));
        Assert.Equal("s", System.IO.File.ReadAllText(Path.Combine(outside, "secret")));
        Assert.False(System.IO.File.Exists(Path.Combine(dir, "escaped")));
        Assert.False(System.IO.File.Exists("/tmp/escaped"));
    }

    [Fact]
    public void A_corrupt_archive_is_a_clear_error()
    {
        var bytes = Tar(File("a", new string('x', 5000))).ToArray();
        var e = Assert.ThrowsAny<ImageException>(() => Unpack(new MemoryStream(bytes[..700])));
        Assert.Contains("test-layer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Snapshotter_keeps_nothing_when_the_diff_id_is_wrong()
    {
        var snapshots = new Snapshotter(Path.Combine(dir, "snapshots"), LinuxSyscalls.Instance);
        var chain = Digest.Of("c"u8);
        Assert.Throws<DigestMismatchException>(() => snapshots.Create(chain, Tar(File("f", "x")), Digest.Of("other"u8), "l"));
        Assert.False(snapshots.Exists(chain));
        Assert.Empty(Directory.GetFileSystemEntries(snapshots.Dir));
        var tar = Tar(File("f", "x"));
        var diff = Digest.Of(tar.ToArray());
        Assert.Equal(diff, snapshots.Create(chain, tar, diff, "l"));
        Assert.True(System.IO.File.Exists(Path.Combine(snapshots.PathOf(chain), "f")));
    }
}
