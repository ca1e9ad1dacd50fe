namespace Containers.Runtime;

/// <summary>
/// For a kernel or filesystem without idmapped mounts (before Linux 5.19, overlay over idmapped layers; or a
/// filesystem that refuses them): each layer of a container in a user namespace is copied once per map with every
/// owner shifted to its host id, cached under ROOT/idmapped/MAP/LAYER and shared by every container with that map.
/// </summary>
internal static class ShiftedLayers
{
    private static readonly Lock Gate = new();

    /// <summary>Whether idmapped mounts of layers can be had under <paramref name="root"/>: Linux 5.19 or later and a filesystem that allows them.</summary>
    public static bool Supported(string root)
    {
        var release = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : "";
        var numbers = release.Split('.', '-').Take(2).Select(p => int.TryParse(p, out var n) ? n : 0).ToArray();
        var modern = numbers.Length == 2 && (numbers[0] > 5 || (numbers[0] == 5 && numbers[1] >= 19));
        string type;
        try
        {
            type = new DriveInfo(root).DriveFormat;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return false;
        }

        return modern && type is "ext4" or "ext3" or "ext2" or "xfs" or "btrfs" or "tmpfs" or "f2fs" or "overlay" or "erofs" or "squashfs";
    }

    /// <summary>The shifted copies of <paramref name="layers"/> for the maps (made now when missing).</summary>
    public static string[] For(ISyscalls sys, string root, string[] layers, IReadOnlyList<IdMapping> uidMap, IReadOnlyList<IdMapping> gidMap)
    {
        var key = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(string.Join(',', uidMap) + "|" + string.Join(',', gidMap))))[..16];
        var dir = Path.Combine(root, "idmapped", key);
        Directory.CreateDirectory(dir);
        return [.. layers.Select(layer => Copy(sys, layer, Path.Combine(dir, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(layer))))[..16]), uidMap, gidMap))];
    }

    private static string Copy(ISyscalls sys, string layer, string target, IReadOnlyList<IdMapping> uidMap, IReadOnlyList<IdMapping> gidMap)
    {
        lock (Gate)
        {
            if (Directory.Exists(target))
            {
                return target;
            }

            var tmp = target + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
            try
            {
                var cp = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("cp", ["-a", "--reflink=auto", layer, tmp]) { RedirectStandardError = true })
                    ?? throw new ContainerException("failed to start cp");
                var error = cp.StandardError.ReadToEnd();
                cp.WaitForExit();
                if (cp.ExitCode != 0)
                {
                    throw new ContainerException($"copying layer {layer} for a user namespace without idmapped mounts failed: {error.Trim()}");
                }

                Shift(sys, tmp, uidMap, gidMap);
                Directory.Move(tmp, target);
                return target;
            }
            catch
            {
                if (Directory.Exists(tmp))
                {
                    Directory.Delete(tmp, recursive: true);
                }

                throw;
            }
        }
    }

    /// <summary>Gives every entry under <paramref name="dir"/> (and it) the host ids its ids map to; setuid and setgid bits (cleared by chown) restored.</summary>
    private static void Shift(ISyscalls sys, string dir, IReadOnlyList<IdMapping> uidMap, IReadOnlyList<IdMapping> gidMap)
    {
        var overflowUid = IdMapping.ToHost(uidMap, 65534) ?? 65534;
        var overflowGid = IdMapping.ToHost(gidMap, 65534) ?? 65534;
        foreach (var path in new[] { dir }.Concat(Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, ReturnSpecialDirectories = false })))
        {
            if (sys.LStat(path) is not { } st)
            {
                continue;
            }

            sys.LChown(path, (int)(IdMapping.ToHost(uidMap, st.Uid) ?? overflowUid), (int)(IdMapping.ToHost(gidMap, st.Gid) ?? overflowGid));
            if ((st.Mode & 0xC00) != 0 && st.Type != FileStatus.Symlink)
            {
                sys.Chmod(path, st.Mode & 0xFFF);
            }
        }
    }
}
