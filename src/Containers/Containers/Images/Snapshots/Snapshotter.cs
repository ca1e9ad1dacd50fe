namespace Containers.Images.Snapshots;

/// <summary>
/// Unpacked layers, one directory per chain ID (<c>snapshots/&lt;hex&gt;</c>), each holding only its layer's diff
/// in overlayfs form, so an image's snapshots stacked top-first are its overlay lowerdirs. A snapshot is unpacked
/// into a temporary directory and renamed into place once its diff ID is verified: a snapshot that exists is whole.
/// The snapshotter returns paths; the runtime mounts them.
/// </summary>
internal sealed class Snapshotter
{
    private const string TempPrefix = ".tmp-";
    private readonly ISyscalls sys;

    public Snapshotter(string dir, ISyscalls sys)
    {
        this.sys = sys;
        Dir = dir;
        Directory.CreateDirectory(dir);
    }

    public string Dir { get; }

    /// <summary>The directory of an empty layer, for images with no layers at all.</summary>
    public string Empty
    {
        get
        {
            var path = Path.Combine(Dir, "empty");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    public string PathOf(Digest chainId) => Path.Combine(Dir, chainId.Hex);

    /// <summary>
    /// The overlay lower directories of a stack of layers given by chain IDs (base first): topmost first, the empty
    /// layer for no layers. Throws <see cref="ImageException"/> naming <paramref name="what"/> when one is not unpacked.
    /// </summary>
    public IReadOnlyList<string> LowerDirs(IReadOnlyList<Digest> chain, string what)
    {
        if (chain.Count == 0)
        {
            return [Empty];
        }

        var dirs = new List<string>(chain.Count);
        for (var i = chain.Count - 1; i >= 0; i--)
        {
            if (!Exists(chain[i]))
            {
                throw new ImageException($"{what}: layer {i + 1} of {chain.Count} (chain {chain[i].Short}) is not unpacked; pull or load the image again");
            }

            dirs.Add(PathOf(chain[i]));
        }

        return dirs;
    }

    public bool Exists(Digest chainId) => Directory.Exists(PathOf(chainId));

    /// <summary>
    /// Unpacks <paramref name="tar"/> as the snapshot <paramref name="chainId"/>. The tar's sha256 (read to its end)
    /// must be <paramref name="diffId"/> (when given), or nothing is kept and <see cref="DigestMismatchException"/> is thrown.
    /// Returns the diff ID read.
    /// </summary>
    public Digest Create(Digest chainId, Stream tar, Digest? diffId, string layerName)
    {
        var temp = Path.Combine(Dir, $"{TempPrefix}{ProcessIdentity.Self.Pid}-{ProcessIdentity.Self.StartTime}-{Guid.NewGuid():N}");
        sys.MkDir(temp, 0x1ed);
        try
        {
            using var hashing = new HashingStream(tar, HashingStream.Sha256());
            new LayerUnpacker(sys, temp, layerName).Unpack(hashing);
            hashing.CopyTo(Stream.Null); // the tar's trailing blocks count towards its digest
            var actual = hashing.Digest;
            if (diffId is { } expected && actual != expected)
            {
                throw new DigestMismatchException($"layer {layerName}: uncompressed content has digest {actual}, the image config says {expected}; discarded");
            }

            Commit(temp, PathOf(chainId));
            return actual;
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private static void Commit(string temp, string final)
    {
        try
        {
            Directory.Move(temp, final);
        }
        catch (IOException) when (Directory.Exists(final))
        {
            // another process unpacked the same chain meanwhile: theirs is as good; ours is deleted by the caller
        }
    }

    public void Delete(Digest chainId)
    {
        var path = PathOf(chainId);
        if (!Directory.Exists(path))
        {
            return;
        }

        // rename first, so a half-deleted snapshot is never taken for a whole one
        var doomed = Path.Combine(Dir, $"{TempPrefix}0-0-{Guid.NewGuid():N}");
        Directory.Move(path, doomed);
        Directory.Delete(doomed, recursive: true);
    }

    /// <summary>Every snapshot's chain ID.</summary>
    public IEnumerable<Digest> List() =>
        Directory.EnumerateDirectories(Dir)
            .Select(d => Digest.TryParse("sha256:" + Path.GetFileName(d), out var c) ? c : (Digest?)null)
            .OfType<Digest>();

    /// <summary>Removes temporary directories whose process is gone (it crashed mid-unpack).</summary>
    public void SweepTemp()
    {
        foreach (var d in Directory.EnumerateDirectories(Dir, TempPrefix + "*"))
        {
            var parts = Path.GetFileName(d)[TempPrefix.Length..].Split('-');
            if (parts.Length == 3 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pid) &&
                long.TryParse(parts[1], CultureInfo.InvariantCulture, out var start) && !new ProcessIdentity(pid, start).IsAlive)
            {
                try
                {
                    Directory.Delete(d, recursive: true);
                }
                catch (IOException)
                {
                    // another sweeper got there first
                }
            }
        }
    }
}
