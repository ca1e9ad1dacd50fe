using System.Buffers.Binary;
using System.Diagnostics;
using Containers.Volumes.Frontend;
using Containers.Volumes.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Containers.Volumes;

/// <summary>
/// A replicated volume attached on this machine and mounted: its engine's bytes as a file on a FUSE mount, a loop
/// device over that file, and the filesystem on the device (made with mkfs on first attach) mounted at a directory.
/// Detaching unmounts, frees the loop device, ends the FUSE mount and flushes; a failed attach leaves nothing behind.
/// </summary>
public sealed class VolumeAttachment : IAsyncDisposable
{
    private readonly ReplicatedVolume volume;
    private readonly ILogger logger;
    private FuseDisk? fuse;
    private LoopDevice? loop;
    private bool mounted;

    private readonly string fsType;

    private VolumeAttachment(ReplicatedVolume volume, string fuseDir, string target, string fsType, ILogger logger)
    {
        this.fsType = fsType;
        this.volume = volume;
        FuseDirectory = fuseDir;
        Target = target;
        this.logger = logger;
    }

    /// <summary>Where the filesystem is mounted.</summary>
    public string Target { get; }

    /// <summary>The loop device (/dev/loopN).</summary>
    public string Device => loop?.Path ?? "";

    /// <summary>The FUSE mount holding the volume's <c>disk</c> file.</summary>
    public string FuseDirectory { get; }

    /// <summary>True when this attach made the filesystem.</summary>
    public bool Formatted { get; private set; }

    /// <summary>
    /// Attaches <paramref name="volume"/> and mounts its filesystem at <paramref name="target"/> (made when missing).
    /// <paramref name="runDirectory"/> holds the FUSE mount point. A volume with no filesystem gets one of
    /// <paramref name="fsType"/> (ext4 or xfs; mkfs from e2fsprogs or xfsprogs).
    /// </summary>
    public static async Task<VolumeAttachment> AttachAsync(ReplicatedVolume volume, string runDirectory, string target, string fsType = "ext4", ILogger? logger = null, CancellationToken ct = default)
    {
        if (fsType is not ("ext4" or "xfs"))
        {
            throw new ArgumentException($"filesystem '{fsType}': ext4 or xfs", nameof(fsType));
        }

        var fuseDir = Path.Combine(runDirectory, $"fuse-{volume.Name}");

        // what a killed earlier attach left here (a dead FUSE mount answers ENOTCONN, its ext4 above it stays) goes first
        VolumeSyscalls.Unmount(target, VolumeSyscalls.MNT_DETACH);
        VolumeSyscalls.Unmount(fuseDir, VolumeSyscalls.MNT_DETACH);
        Directory.CreateDirectory(fuseDir);
        Directory.CreateDirectory(target);
        var a = new VolumeAttachment(volume, fuseDir, target, fsType, logger ?? NullLogger.Instance);
        try
        {
            var blank = await IsBlankAsync(volume, ct).ConfigureAwait(false);
            a.fuse = FuseDisk.Mount(volume, fuseDir, a.logger);
            a.loop = await Task.Run(() => LoopDevice.Attach(a.fuse.DiskPath), ct).ConfigureAwait(false);
            if (blank)
            {
                await MakeFilesystemAsync(a.loop.Path, fsType, volume.Name, ct).ConfigureAwait(false);
                a.Formatted = true;
            }

            else if (fsType == "ext4")
            {
                await GrowOfflineAsync(volume, a.loop.Path, ct).ConfigureAwait(false);
            }

            var device = a.loop.Path;
            await Task.Run(() => VolumeSyscalls.Mount(device, target, fsType, 0, null), ct).ConfigureAwait(false);
            a.mounted = true;
            return a;
        }
        catch
        {
            await a.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Grows the device to the volume's size (after <see cref="ReplicatedVolume.ExpandAsync"/>) and the filesystem on
    /// it while mounted. Returns false when the kernel refuses an online ext4 resize (it needs CAP_SYS_RESOURCE, which
    /// some machines withhold even from root): the filesystem then grows at the next attach, before it is mounted.
    /// </summary>
    public async Task<bool> ResizeAsync(CancellationToken ct = default)
    {
        _ = new FileInfo(Path.Combine(FuseDirectory, FuseDisk.FileName)).Length; // the kernel asks the FUSE server for the new size
        loop!.Resize();
        try
        {
            await RunAsync(fsType == "xfs" ? "xfs_growfs" : "resize2fs", [fsType == "xfs" ? Target : loop.Path], ct).ConfigureAwait(false);
            return true;
        }
        catch (IOException e) when (e.Message.Contains("Permission denied", StringComparison.Ordinal))
        {
            logger.LogWarning("volume {Volume}: online resize refused ({Error}); the filesystem grows at the next attach", volume.Name, e.Message);
            return false;
        }
    }

    // an ext4 filesystem smaller than its device (a volume expanded while detached, or where online resize was refused)
    // is checked and grown before it is mounted
    private static async Task GrowOfflineAsync(ReplicatedVolume volume, string device, CancellationToken ct)
    {
        var super = new byte[1024];
        await volume.ReadAsync(1024, super, ct).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt16LittleEndian(super.AsSpan(56)) != 0xEF53)
        {
            return;
        }

        var blockSize = 1024L << (int)BinaryPrimitives.ReadUInt32LittleEndian(super.AsSpan(0x18));
        var incompat = BinaryPrimitives.ReadUInt32LittleEndian(super.AsSpan(0x60));
        var blocks = (long)BinaryPrimitives.ReadUInt32LittleEndian(super.AsSpan(4))
            + ((incompat & 0x80) != 0 ? (long)BinaryPrimitives.ReadUInt32LittleEndian(super.AsSpan(0x150)) << 32 : 0);
        if (blocks * blockSize + blockSize > volume.Size)
        {
            return;
        }

        await RunAsync("e2fsck", ["-f", "-p", device], ct).ConfigureAwait(false);
        await RunAsync("resize2fs", [device], ct).ConfigureAwait(false);
    }

    /// <summary>Unmounts the filesystem (throws when it is busy), frees the loop device, ends the FUSE mount and flushes the volume.</summary>
    public async ValueTask DisposeAsync()
    {
        if (mounted)
        {
            var r = VolumeSyscalls.Unmount(Target, 0);
            if (r == VolumeSyscalls.EBUSY)
            {
                throw new InvalidOperationException($"volume {volume.Name}: {Target} is busy: a process still uses it");
            }

            mounted = false;
        }

        if (loop is not null)
        {
            loop.Dispose();
            if (!await Task.Run(() => loop.WaitFreed(TimeSpan.FromSeconds(10))).ConfigureAwait(false))
            {
                logger.LogWarning("volume {Volume}: {Device} was not freed within 10 s", volume.Name, loop.Path);
            }

            loop = null;
        }

        if (fuse is not null)
        {
            await Task.Run(fuse.Dispose).ConfigureAwait(false);
            fuse = null;
        }

        try
        {
            Directory.Delete(FuseDirectory);
        }
        catch (IOException)
        {
            // a lazily detached mount still holds it
        }

        await volume.FlushAsync().ConfigureAwait(false);
    }

    // a volume whose first 64 KiB are zeros has no filesystem yet
    private static async Task<bool> IsBlankAsync(ReplicatedVolume volume, CancellationToken ct)
    {
        var head = new byte[(int)Math.Min(64 * 1024, volume.Size)];
        await volume.ReadAsync(0, head, ct).ConfigureAwait(false);
        if (head.Length > 1082 && BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(1080)) == 0xEF53)
        {
            return false;
        }

        return !head.AsSpan().ContainsAnyExcept((byte)0);
    }

    private static Task MakeFilesystemAsync(string device, string fsType, string label, CancellationToken ct) =>
        fsType == "xfs"
            ? RunAsync("mkfs.xfs", ["-q", "-f", "-K", "-L", label.Length > 12 ? label[..12] : label, device], ct)
            : RunAsync("mkfs.ext4", ["-q", "-F", "-m", "0", "-b", "4096", "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0", "-L", label.Length > 16 ? label[..16] : label, device], ct);

    private static async Task<string> RunAsync(string program, IReadOnlyList<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct).ConfigureAwait(false);
        if (p.ExitCode != 0)
        {
            throw new IOException($"{program} {string.Join(' ', args)}: exit {p.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        return await stdout.ConfigureAwait(false);
    }
}
