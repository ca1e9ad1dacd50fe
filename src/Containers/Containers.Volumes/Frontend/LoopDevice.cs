using Containers.Volumes.Linux;

namespace Containers.Volumes.Frontend;

/// <summary>A loop device over a file (LOOP_CONFIGURE with autoclear: the device frees itself when its last user closes it).</summary>
internal sealed class LoopDevice : IDisposable
{
    private const nuint LOOP_CTL_GET_FREE = 0x4C82, LOOP_CONFIGURE = 0x4C0A, LOOP_SET_CAPACITY = 0x4C07;
    private const uint LO_FLAGS_AUTOCLEAR = 4, LO_FLAGS_DIRECT_IO = 16;

    private int fd;

    private LoopDevice(string path, int fd)
    {
        Path = path;
        this.fd = fd;
    }

    /// <summary>/dev/loopN.</summary>
    public string Path { get; }

    /// <summary>Sets a free loop device over <paramref name="file"/> with 4 KiB logical blocks.</summary>
    public static unsafe LoopDevice Attach(string file)
    {
        var backing = VolumeSyscalls.Open(file, VolumeSyscalls.O_RDWR);
        try
        {
            var control = VolumeSyscalls.Open("/dev/loop-control", VolumeSyscalls.O_RDWR);
            try
            {
                var config = stackalloc byte[304];
                for (var attempt = 0; ; attempt++)
                {
                    var n = VolumeSyscalls.Ioctl(control, LOOP_CTL_GET_FREE, 0);
                    if (n < 0)
                    {
                        throw new VolumeIOException("LOOP_CTL_GET_FREE", -n);
                    }

                    var path = $"/dev/loop{n}";
                    int dev;
                    try
                    {
                        dev = VolumeSyscalls.Open(path, VolumeSyscalls.O_RDWR);
                    }
                    catch (VolumeIOException e) when (e.Errno == VolumeSyscalls.ENOENT && attempt < 20)
                    {
                        Thread.Sleep(10); // udev has not made the node yet
                        continue;
                    }

                    new Span<byte>(config, 304).Clear();
                    *(uint*)config = (uint)backing;
                    *(uint*)(config + 4) = 4096;
                    *(uint*)(config + 8 + 52) = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
                    var r = VolumeSyscalls.Ioctl(dev, LOOP_CONFIGURE, (nint)config);
                    if (r == 0)
                    {
                        return new LoopDevice(path, dev);
                    }

                    VolumeSyscalls.Close(dev);
                    if (-r != VolumeSyscalls.EBUSY || attempt >= 20)
                    {
                        throw new VolumeIOException($"LOOP_CONFIGURE {path} over {file}", -r);
                    }
                }
            }
            finally
            {
                VolumeSyscalls.Close(control);
            }
        }
        finally
        {
            VolumeSyscalls.Close(backing); // the loop device holds its own reference
        }
    }

    /// <summary>Makes the device see its file's new size.</summary>
    public void Resize()
    {
        var r = VolumeSyscalls.Ioctl(fd, LOOP_SET_CAPACITY, 0);
        if (r < 0)
        {
            throw new VolumeIOException($"LOOP_SET_CAPACITY {Path}", -r);
        }
    }

    /// <summary>Closes the device; once no one has it open (its filesystem unmounted), it frees itself.</summary>
    public void Dispose()
    {
        if (fd >= 0)
        {
            VolumeSyscalls.Close(fd);
            fd = -1;
        }
    }

    /// <summary>Waits until the device no longer has a backing file (freed), up to <paramref name="timeout"/>.</summary>
    public bool WaitFreed(TimeSpan timeout)
    {
        var name = System.IO.Path.GetFileName(Path);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (!File.Exists($"/sys/block/{name}/loop/backing_file"))
            {
                return true;
            }

            Thread.Sleep(5);
        }

        return false;
    }
}
