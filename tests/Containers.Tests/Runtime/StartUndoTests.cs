using System.Diagnostics;
using Containers.Linux;
using Containers.Runtime;

namespace Containers.Tests.Runtime;

/// <summary>The kernel's calls, one of which fails when <see cref="FailOpen"/> says so: a failure injected into a start.</summary>
internal sealed class FaultySyscalls(ISyscalls inner) : ISyscalls
{
    private int failures;

    /// <summary>Which opens fail (with ENOSPC), or null for none.</summary>
    public Func<string, bool>? FailOpen { get; set; }

    /// <summary>How many opens failed.</summary>
    public int Failures => Volatile.Read(ref failures);

    public void Unshare(int flags) => inner.Unshare(flags);
    public void Setns(int fd, int nstype) => inner.Setns(fd, nstype);
    public int Open(string path, int flags, int mode = 0)
    {
        if (FailOpen is { } fail && fail(path))
        {
            Interlocked.Increment(ref failures);
            throw new SyscallException("open", 28 /* ENOSPC */, path);
        }

        return inner.Open(path, flags, mode);
    }
    public void Close(int fd) => inner.Close(fd);
    public int OpenAt2(int dirFd, string path, int flags, int mode, ulong resolve) => inner.OpenAt2(dirFd, path, flags, mode, resolve);
    public FileStatus? StatAt(int dirFd, string name) => inner.StatAt(dirFd, name);
    public void MkDirAt(int dirFd, string name, int mode) => inner.MkDirAt(dirFd, name, mode);
    public void UnlinkAt(int dirFd, string name, bool directory) => inner.UnlinkAt(dirFd, name, directory);
    public void SymlinkAt(string target, int dirFd, string name) => inner.SymlinkAt(target, dirFd, name);
    public void LinkAt(int oldDirFd, string oldName, int newDirFd, string newName) => inner.LinkAt(oldDirFd, oldName, newDirFd, newName);
    public void ChownAt(int dirFd, string name, int uid, int gid) => inner.ChownAt(dirFd, name, uid, gid);
    public void SetTimesAt(int dirFd, string name, long atimeNs, long mtimeNs) => inner.SetTimesAt(dirFd, name, atimeNs, mtimeNs);
    public string ReadLinkAt(int dirFd, string name) => inner.ReadLinkAt(dirFd, name);
    public int Bpf(int cmd, Span<byte> attr) => inner.Bpf(cmd, attr);
    public (int Read, int Write) Pipe(bool closeOnExec) => inner.Pipe(closeOnExec);
    public void SetCloseOnExec(int fd, bool value) => inner.SetCloseOnExec(fd, value);
    public int Read(int fd, Span<byte> buffer) => inner.Read(fd, buffer);
    public bool PollReadable(int fd, int timeoutMs) => inner.PollReadable(fd, timeoutMs);
    public void WriteAll(int fd, ReadOnlySpan<byte> data) => inner.WriteAll(fd, data);
    public bool Kill(int pid, int signal) => inner.Kill(pid, signal);
    public void Flock(int fd, bool exclusive) => inner.Flock(fd, exclusive);
    public (int Master, int Slave) OpenPty() => inner.OpenPty();
    public void SetWindowSize(int fd, ushort rows, ushort cols) => inner.SetWindowSize(fd, rows, cols);
    public int UnreadOutput(int fd) => inner.UnreadOutput(fd);
    public int Socket(int domain, int type, int protocol) => inner.Socket(domain, type, protocol);
    public void BindNetlink(int fd) => inner.BindNetlink(fd);
    public void Send(int fd, ReadOnlySpan<byte> data) => inner.Send(fd, data);
    public int Receive(int fd, Span<byte> buffer) => inner.Receive(fd, buffer);
    public int NameToIndex(string name) => inner.NameToIndex(name);
    public void Mount(string? source, string target, string? fsType, ulong flags, string? data) => inner.Mount(source, target, fsType, flags, data);
    public void Unmount(string target, int flags) => inner.Unmount(target, flags);
    public void SetSid() => inner.SetSid();
    public string ReadLink(string path) => inner.ReadLink(path);
    public void RedirectStdioToNull() => inner.RedirectStdioToNull();
    public FileStatus? LStat(string path) => inner.LStat(path);
    public void MkDir(string path, int mode) => inner.MkDir(path, mode);
    public void Symlink(string target, string path) => inner.Symlink(target, path);
    public void Link(string existing, string path) => inner.Link(existing, path);
    public void MkNod(string path, int mode, ulong device) => inner.MkNod(path, mode, device);
    public void LChown(string path, int uid, int gid) => inner.LChown(path, uid, gid);
    public void FChown(int fd, int uid, int gid) => inner.FChown(fd, uid, gid);
    public void FChmod(int fd, int mode) => inner.FChmod(fd, mode);
    public void Chmod(string path, int mode) => inner.Chmod(path, mode);
    public void SetTimes(string path, long atimeNs, long mtimeNs) => inner.SetTimes(path, atimeNs, mtimeNs);
    public void FSetTimes(int fd, long atimeNs, long mtimeNs) => inner.FSetTimes(fd, atimeNs, mtimeNs);
    public void LSetXattr(string path, string name, ReadOnlySpan<byte> value) => inner.LSetXattr(path, name, value);
    public byte[]? LGetXattr(string path, string name) => inner.LGetXattr(path, name);
    public IReadOnlyList<string> LListXattr(string path) => inner.LListXattr(path);
    public void Unlink(string path) => inner.Unlink(path);
    public void RmDir(string path) => inner.RmDir(path);
    public void FSync(int fd) => inner.FSync(fd);
    public void SyncFs(int fd) => inner.SyncFs(fd);
}

/// <summary>A start that fails at its last step undoes every step before it (the start path's rollback).</summary>
public sealed class StartUndoTests
{
    [Fact]
    public async Task A_start_that_cannot_record_itself_running_undoes_the_cgroup_the_shim_the_address_and_the_dns()
    {
        var sys = new FaultySyscalls(LinuxSyscalls.Instance);
        await using var t = new TestEngine(sys: sys);
        var container = t.Engine.Create(t.Busybox("sleep", "100").WithName("undone").ToSpec());
        var dir = Path.Combine(t.Root, "containers", container.Id);
        // the disk fills up as the start writes the container's state as running: the last of its steps
        sys.FailOpen = path => path.StartsWith(dir + "/", StringComparison.Ordinal) && path.EndsWith(".tmp", StringComparison.Ordinal) && sys.Failures == 0;
        var e = await Assert.ThrowsAnyAsync<ContainerException>(() => container.StartAsync());
        sys.FailOpen = null;
        Assert.True(e.ToString().Contains("record the container as running", StringComparison.Ordinal), e.ToString());
        Assert.Equal(1, sys.Failures);

        // nothing of the run is left: no process, no cgroup, no veth; the never-started container is removed (as
        // ContainerEngine.StartAsync documents), its name free, and the same spec starts under it
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Get("undone"));
        Assert.False(Directory.Exists(dir));
        Assert.False(TestEngine.CgroupExists(container.Id));
        Assert.False(TestEngine.LinkExists("vcd" + container.Id[..11]));
        Assert.DoesNotContain(Process.GetProcesses(), p => IsOurSleep(p.Id));
        var again = await t.Busybox("sleep", "100").WithName("undone").StartAsync();
        Assert.True(again.State.IsActive);
        await again.KillAsync();
        await again.WaitAsync();
    }

    // the payload of that start: a child of this process running "sleep 100"
    private static bool IsOurSleep(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            return parent == Environment.ProcessId && File.ReadAllText($"/proc/{pid}/cmdline") == "sleep\0" + "100\0";
        }
        catch (IOException)
        {
            return false; // gone meanwhile
        }
    }
}
