using System.Buffers.Binary;
using Containers.Volumes.Linux;
using Microsoft.Extensions.Logging;

namespace Containers.Volumes.Frontend;

/// <summary>
/// A FUSE filesystem of one file, <c>disk</c>, whose bytes are a volume engine's: the block frontend of a replicated
/// volume (a loop device is set over the file). It speaks the kernel's FUSE protocol on <c>/dev/fuse</c> itself (no
/// libfuse): INIT, LOOKUP, GETATTR, OPEN, READ, WRITE, FSYNC, STATFS and the directory calls of a root holding one
/// file. The file is opened for direct I/O, so every write the loop device sends reaches the engine (and every healthy
/// replica) before the kernel sees it done, with no second page cache under the filesystem's own.
/// </summary>
internal sealed class FuseDisk : IDisposable
{
    public const string FileName = "disk";
    private const int Threads = 8;
    private const int MaxBackground = 16; // 64 was measured: no faster, and slower for one replica
    private const int AsyncLimit = 64 * 1024; // reads and writes up to this size go on while the engine works on them
    private const int MaxWrite = 1 << 20;
    private const int InHeader = 40, OutHeader = 16;
    private const ulong RootId = 1, DiskId = 2;

    private readonly ReplicatedVolume volume;
    private readonly string mountpoint;
    private readonly ILogger logger;
    private readonly List<Thread> threads = [];
    private int fd;
    private int inFlight; // reads and writes started by TryStartSmallIo and not answered yet
    private volatile bool stopping;

    private FuseDisk(ReplicatedVolume volume, string mountpoint, int fd, ILogger logger)
    {
        this.volume = volume;
        this.mountpoint = mountpoint;
        this.fd = fd;
        this.logger = logger;
    }

    /// <summary>The path of the file holding the volume's bytes.</summary>
    public string DiskPath => Path.Combine(mountpoint, FileName);

    /// <summary>Mounts the filesystem at <paramref name="mountpoint"/> (an existing, empty directory) and starts serving it.</summary>
    public static FuseDisk Mount(ReplicatedVolume volume, string mountpoint, ILogger logger)
    {
        var fd = VolumeSyscalls.Open("/dev/fuse", VolumeSyscalls.O_RDWR);
        try
        {
            VolumeSyscalls.Mount($"containers-volume:{volume.Name}", mountpoint, "fuse.containers-volume", VolumeSyscalls.MS_NOSUID | VolumeSyscalls.MS_NODEV,
                $"fd={fd},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions");
        }
        catch
        {
            VolumeSyscalls.Close(fd);
            throw;
        }

        var disk = new FuseDisk(volume, mountpoint, fd, logger);
        for (var i = 0; i < Threads; i++)
        {
            var t = new Thread(disk.Serve) { IsBackground = true, Name = $"fuse {volume.Name} {i}" };
            disk.threads.Add(t);
            t.Start();
        }

        return disk;
    }

    private void Serve()
    {
        var request = GC.AllocateUninitializedArray<byte>(MaxWrite + (64 * 1024));
        var reply = GC.AllocateUninitializedArray<byte>(MaxWrite + OutHeader);
        while (!stopping)
        {
            var n = VolumeSyscalls.Read(fd, request);
            if (n < 0)
            {
                if (-n is VolumeSyscalls.EINTR or VolumeSyscalls.EAGAIN or VolumeSyscalls.ENOENT)
                {
                    continue; // ENOENT: the request was interrupted before we read it
                }

                return; // ENODEV: unmounted
            }

            if (n < InHeader)
            {
                continue;
            }

            var opcode = BinaryPrimitives.ReadUInt32LittleEndian(request.AsSpan(4));
            var unique = BinaryPrimitives.ReadUInt64LittleEndian(request.AsSpan(8));
            var node = BinaryPrimitives.ReadUInt64LittleEndian(request.AsSpan(16));
            var body = request.AsSpan(InHeader, n - InHeader);
            if (opcode is 15 or 16 && TryStartSmallIo(opcode, unique, body))
            {
                continue; // answered when the engine is done: this thread reads the next request meanwhile
            }

            int length;
            try
            {
                length = Handle(opcode, node, body, request, reply);
            }
            catch (Exception e)
            {
                logger.LogWarning("volume {Volume}: FUSE operation {Op} failed: {Error}", volume.Name, opcode, e.Message);
                length = -VolumeSyscalls.EIO;
            }

            if (length == int.MinValue)
            {
                continue; // FORGET, BATCH_FORGET, INTERRUPT: no reply
            }

            var error = length < 0 ? length : 0;
            var size = OutHeader + Math.Max(length, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(reply, (uint)size);
            BinaryPrimitives.WriteInt32LittleEndian(reply.AsSpan(4), error);
            BinaryPrimitives.WriteUInt64LittleEndian(reply.AsSpan(8), unique);
            var w = VolumeSyscalls.Write(fd, reply.AsSpan(0, size));
            if (w < 0 && -w != VolumeSyscalls.ENOENT)
            {
                if (-w == VolumeSyscalls.ENODEV)
                {
                    return;
                }

                logger.LogWarning("volume {Volume}: FUSE reply to {Op}: errno {Errno}", volume.Name, opcode, -w);
            }
        }
    }

    /// <summary>
    /// Starts a READ or WRITE of at most <see cref="AsyncLimit"/> bytes on the engine with buffers of its own and
    /// answers it when the engine is done (the kernel takes replies in any order), so the threads reading /dev/fuse
    /// keep as many requests in flight as the kernel sends (the loop device's queue, up to max_background) instead of
    /// one each. False for a larger or out-of-range one: the caller handles it in place.
    /// </summary>
    private bool TryStartSmallIo(uint opcode, ulong unique, ReadOnlySpan<byte> body)
    {
        var offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(body[8..]);
        var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[16..]);
        if (size <= 0 || size > AsyncLimit || offset < 0 || offset + size > volume.Size)
        {
            return false;
        }

        Interlocked.Increment(ref inFlight);
        // one pooled buffer: a WRITE's data, then its answer (header and size); a READ's answer, read in after the header
        var pooled = System.Buffers.ArrayPool<byte>.Shared.Rent(opcode == 16 ? Math.Max(size, OutHeader + 8) : OutHeader + size);
        ValueTask io;
        try
        {
            if (opcode == 16)
            {
                body.Slice(40, size).CopyTo(pooled);
                io = volume.WriteAsync(offset, pooled.AsMemory(0, size));
            }
            else
            {
                io = volume.ReadAsync(offset, pooled.AsMemory(OutHeader, size));
            }
        }
        catch (Exception e)
        {
            io = ValueTask.FromException(e);
        }

        _ = FinishAsync(io, unique, opcode, size, pooled);
        return true;
    }

    /// <summary>Answers a READ or WRITE that <see cref="TryStartSmallIo"/> started, once the engine is done; returns its pooled buffer (the data written, or the answer read into).</summary>
    private async Task FinishAsync(ValueTask io, ulong unique, uint opcode, int size, byte[] pooled)
    {
        int error = 0;
        try
        {
            await io.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogWarning("volume {Volume}: FUSE operation {Op} failed: {Error}", volume.Name, opcode, e.Message);
            error = -VolumeSyscalls.EIO;
        }

        try
        {
            if (opcode == 16)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(pooled.AsSpan(OutHeader), (uint)size); // the data is written: its buffer takes the answer
                Answer(pooled, error == 0 ? OutHeader + 8 : OutHeader, error, unique, opcode);
            }
            else
            {
                Answer(pooled, error == 0 ? OutHeader + size : OutHeader, error, unique, opcode);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(pooled);
            Interlocked.Decrement(ref inFlight);
        }
    }

    /// <summary>Writes a reply whose payload is already in <paramref name="answer"/> after the header.</summary>
    private void Answer(byte[] answer, int size, int error, ulong unique, uint opcode)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(answer, (uint)size);
        BinaryPrimitives.WriteInt32LittleEndian(answer.AsSpan(4), error);
        BinaryPrimitives.WriteUInt64LittleEndian(answer.AsSpan(8), unique);
        var w = VolumeSyscalls.Write(fd, answer.AsSpan(0, size));
        if (w < 0 && -w is not (VolumeSyscalls.ENOENT or VolumeSyscalls.ENODEV))
        {
            logger.LogWarning("volume {Volume}: FUSE reply to {Op}: errno {Errno}", volume.Name, opcode, -w);
        }
    }

    // returns the reply's payload length written after the header in 'reply', a negated errno, or int.MinValue for none
    private int Handle(uint opcode, ulong node, ReadOnlySpan<byte> body, byte[] request, byte[] reply)
    {
        var o = reply.AsSpan(OutHeader);
        switch (opcode)
        {
            case 26: // INIT
                {
                    var minor = BinaryPrimitives.ReadUInt32LittleEndian(body[4..]);
                    var readahead = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
                    var offered = BinaryPrimitives.ReadUInt32LittleEndian(body[12..]);
                    const uint wanted = (1u << 0) | (1u << 5) | (1u << 15) | (1u << 22); // ASYNC_READ, BIG_WRITES, ASYNC_DIO, MAX_PAGES
                    o[..64].Clear();
                    BinaryPrimitives.WriteUInt32LittleEndian(o, 7);
                    BinaryPrimitives.WriteUInt32LittleEndian(o[4..], Math.Min(minor, 31));
                    BinaryPrimitives.WriteUInt32LittleEndian(o[8..], readahead);
                    BinaryPrimitives.WriteUInt32LittleEndian(o[12..], offered & wanted);
                    BinaryPrimitives.WriteUInt16LittleEndian(o[16..], (ushort)MaxBackground); // max_background
                    BinaryPrimitives.WriteUInt16LittleEndian(o[18..], (ushort)(MaxBackground * 3 / 4)); // congestion_threshold
                    BinaryPrimitives.WriteUInt32LittleEndian(o[20..], MaxWrite);
                    BinaryPrimitives.WriteUInt32LittleEndian(o[24..], 1); // time_gran
                    BinaryPrimitives.WriteUInt16LittleEndian(o[28..], MaxWrite / 4096); // max_pages
                    return 64;
                }

            case 1: // LOOKUP
                {
                    var name = body.IndexOf((byte)0) is var z and >= 0 ? body[..z] : body;
                    if (node != RootId || !name.SequenceEqual("disk"u8))
                    {
                        return -VolumeSyscalls.ENOENT;
                    }

                    o[..40].Clear();
                    BinaryPrimitives.WriteUInt64LittleEndian(o, DiskId);
                    BinaryPrimitives.WriteUInt64LittleEndian(o[16..], 1); // entry_valid (s)
                    // attr_valid 0: the size is asked for on every stat, so an expanded volume is seen at once
                    WriteAttr(o[40..], DiskId);
                    return 40 + 88;
                }

            case 3: // GETATTR
            case 4: // SETATTR: nothing may change; answer what is
                if (node is not (RootId or DiskId))
                {
                    return -VolumeSyscalls.ENOENT;
                }

                o[..16].Clear();
                BinaryPrimitives.WriteUInt64LittleEndian(o, node == RootId ? 1UL : 0UL);
                WriteAttr(o[16..], node);
                return 16 + 88;

            case 14: // OPEN
            case 27: // OPENDIR
                o[..16].Clear();
                if (opcode == 14)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(o[8..], 1u | (1u << 6)); // FOPEN_DIRECT_IO, FOPEN_PARALLEL_DIRECT_WRITES
                }

                return 16;

            case 15: // READ
                {
                    var offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(body[8..]);
                    var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[16..]);
                    size = (int)Math.Clamp(volume.Size - offset, 0, Math.Min(size, MaxWrite));
                    if (size > 0)
                    {
                        volume.ReadAsync(offset, reply.AsMemory(OutHeader, size)).AsTask().GetAwaiter().GetResult();
                    }

                    return size;
                }

            case 16: // WRITE
                {
                    var offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(body[8..]);
                    var size = (int)BinaryPrimitives.ReadUInt32LittleEndian(body[16..]);
                    if (offset + size > volume.Size)
                    {
                        return -VolumeSyscalls.ENOSPC;
                    }

                    volume.WriteAsync(offset, request.AsMemory(InHeader + 40, size)).AsTask().GetAwaiter().GetResult();
                    o[..8].Clear();
                    BinaryPrimitives.WriteUInt32LittleEndian(o, (uint)size);
                    return 8;
                }

            case 20: // FSYNC
                volume.FlushAsync().GetAwaiter().GetResult();
                return 0;

            case 17: // STATFS
                o[..80].Clear();
                BinaryPrimitives.WriteUInt64LittleEndian(o, (ulong)(volume.Size / 4096));
                BinaryPrimitives.WriteUInt64LittleEndian(o[24..], 2);
                BinaryPrimitives.WriteUInt32LittleEndian(o[40..], 4096);
                BinaryPrimitives.WriteUInt32LittleEndian(o[44..], 255);
                BinaryPrimitives.WriteUInt32LittleEndian(o[48..], 4096);
                return 80;

            case 28: // READDIR
                {
                    var offset = BinaryPrimitives.ReadUInt64LittleEndian(body[8..]);
                    if (offset > 0)
                    {
                        return 0;
                    }

                    o[..32].Clear();
                    BinaryPrimitives.WriteUInt64LittleEndian(o, DiskId);
                    BinaryPrimitives.WriteUInt64LittleEndian(o[8..], 1);
                    BinaryPrimitives.WriteUInt32LittleEndian(o[16..], (uint)FileName.Length);
                    BinaryPrimitives.WriteUInt32LittleEndian(o[20..], 8); // DT_REG
                    System.Text.Encoding.ASCII.GetBytes(FileName, o[24..]);
                    return 32;
                }

            case 18: // RELEASE
            case 25: // FLUSH
            case 29: // RELEASEDIR
            case 30: // FSYNCDIR
            case 34: // ACCESS
            case 38: // DESTROY
                return 0;

            case 2: // FORGET
            case 42: // BATCH_FORGET
            case 36: // INTERRUPT
                return int.MinValue;

            case 43: // FALLOCATE: no discards through the loop device
                return -VolumeSyscalls.EOPNOTSUPP;

            default:
                return -VolumeSyscalls.ENOSYS;
        }
    }

    private void WriteAttr(Span<byte> a, ulong node)
    {
        a[..88].Clear();
        var isDisk = node == DiskId;
        var size = isDisk ? volume.Size : 0;
        BinaryPrimitives.WriteUInt64LittleEndian(a, node);
        BinaryPrimitives.WriteUInt64LittleEndian(a[8..], (ulong)size);
        BinaryPrimitives.WriteUInt64LittleEndian(a[16..], (ulong)(size / 512));
        BinaryPrimitives.WriteUInt32LittleEndian(a[60..], isDisk ? 0x8000u | 0x180 : 0x4000u | 0x1ED); // S_IFREG 0600, S_IFDIR 0755
        BinaryPrimitives.WriteUInt32LittleEndian(a[64..], isDisk ? 1u : 2u);
        BinaryPrimitives.WriteUInt32LittleEndian(a[80..], 4096);
    }

    /// <summary>Unmounts (lazily: the kernel ends the connection once the last user of the file lets go) and waits for the serving threads to end.</summary>
    public void Dispose()
    {
        if (fd < 0)
        {
            return;
        }

        stopping = true;
        var r = VolumeSyscalls.Unmount(mountpoint, VolumeSyscalls.MNT_DETACH);
        if (r != 0 && r != VolumeSyscalls.EINVAL)
        {
            logger.LogWarning("volume {Volume}: unmount {Mountpoint}: errno {Errno}", volume.Name, mountpoint, r);
        }

        foreach (var t in threads)
        {
            if (!t.Join(TimeSpan.FromSeconds(10)))
            {
                logger.LogWarning("volume {Volume}: a FUSE thread did not end within 10 s of the unmount", volume.Name);
            }
        }

        // the engine's answers still on their way are written to this descriptor: it is closed once they are (a
        // closed number could be reused by another file of the process and get a FUSE reply)
        var until = Environment.TickCount64 + 10_000;
        while (Volatile.Read(ref inFlight) > 0 && Environment.TickCount64 < until)
        {
            Thread.Sleep(5);
        }

        if (Volatile.Read(ref inFlight) > 0)
        {
            logger.LogWarning("volume {Volume}: {Count} FUSE replies still pending 10 s after the unmount: /dev/fuse left open", volume.Name, Volatile.Read(ref inFlight));
            return;
        }

        VolumeSyscalls.Close(fd);
        fd = -1;
    }
}
