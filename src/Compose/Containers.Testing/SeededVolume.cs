using System.Runtime.InteropServices;
using Containers.Shim;
using Tmds.Linux;

namespace Containers.Testing;

/// <summary>
/// Copy-on-write reset of a volume: its data, once seeded, becomes the read-only lower layer of an overlay mounted
/// at the volume's data directory; a reset drops the overlay's upper layer (the test's writes) and mounts a fresh
/// one, whatever the size of the seed.
/// </summary>
internal sealed unsafe class SeededVolume : IDisposable
{
    private readonly string data;
    private readonly string seed;
    private readonly string upper;
    private readonly string work;

    private SeededVolume(string dataPath)
    {
        data = dataPath;
        var dir = Path.GetDirectoryName(dataPath)!;
        seed = Path.Combine(dir, "_seed");
        upper = Path.Combine(dir, "_upper");
        work = Path.Combine(dir, "_work");
    }

    /// <summary>Freezes the current content of <paramref name="dataPath"/> as the seed and mounts the first overlay over it.</summary>
    public static SeededVolume Freeze(string dataPath)
    {
        var v = new SeededVolume(dataPath);
        Directory.Move(dataPath, v.seed);
        Directory.CreateDirectory(dataPath);
        v.Mount();
        return v;
    }

    /// <summary>Back to the seed: the writes since the last reset are dropped.</summary>
    public void Reset()
    {
        Unmount(data);
        Mount();
    }

    /// <summary>Unmounts and puts the seed back as the plain data directory.</summary>
    public void Dispose() => Release(data);

    /// <summary>Undoes a freeze (also one a killed run left): unmount, drop the layers, restore the seed.</summary>
    public static void Release(string dataPath)
    {
        var v = new SeededVolume(dataPath);
        if (!Directory.Exists(v.seed))
        {
            return;
        }

        Unmount(dataPath);
        foreach (var d in new[] { v.upper, v.work })
        {
            if (Directory.Exists(d))
            {
                Directory.Delete(d, true);
            }
        }

        Directory.Delete(dataPath, true);
        Directory.Move(v.seed, dataPath);
    }

    private void Mount()
    {
        foreach (var d in new[] { upper, work })
        {
            if (Directory.Exists(d))
            {
                Directory.Delete(d, true);
            }

            Directory.CreateDirectory(d);
        }

        int rc;
        fixed (byte* source = CString.Of("overlay"), target = CString.Of(data), options = CString.Of($"lowerdir={seed},upperdir={upper},workdir={work}"))
        {
            rc = LibC.mount(source, target, source, 0, options);
        }

        if (rc != 0)
        {
            throw new ContainerException($"mount overlay at {data}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
    }

    private static void Unmount(string path)
    {
        fixed (byte* target = CString.Of(path))
        {
            while (LibC.umount2(target, 0) == 0)
            {
            }
        }
    }
}
