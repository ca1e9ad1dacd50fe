namespace Containers.Linux;

/// <summary>
/// The one seam between the SDK and the kernel. Everything that makes a system call takes this as a
/// parameter; failures throw <see cref="SyscallException"/>.
/// </summary>
internal interface ISyscalls
{
    void Unshare(int flags);
    void Setns(int fd, int nstype);
    int Open(string path, int flags, int mode = 0);
    void Close(int fd);
    (int Read, int Write) Pipe(bool closeOnExec);
    void SetCloseOnExec(int fd, bool value);
    int Read(int fd, Span<byte> buffer);
    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="fd"/> to be readable or hung up; false on timeout.</summary>
    bool PollReadable(int fd, int timeoutMs);
    void WriteAll(int fd, ReadOnlySpan<byte> data);
    bool Kill(int pid, int signal);
    void Flock(int fd, bool exclusive);
    (int Master, int Slave) OpenPty();
    void SetWindowSize(int fd, ushort rows, ushort cols);
    /// <summary>The bytes written to a socket that its peer has not read yet (SIOCOUTQ).</summary>
    int UnreadOutput(int fd);
    int Socket(int domain, int type, int protocol);
    void BindNetlink(int fd);
    void Send(int fd, ReadOnlySpan<byte> data);
    int Receive(int fd, Span<byte> buffer);
    int NameToIndex(string name);
    void Mount(string? source, string target, string? fsType, ulong flags, string? data);
    void Unmount(string target, int flags);
    void SetSid();
    string ReadLink(string path);
    void RedirectStdioToNull();

    // Files (layer unpacking and commit): path-based calls never follow a final symlink unless they say so.
    /// <summary>lstat-like: the file's mode (type and permission bits), uid, gid and size; null when it does not exist.</summary>
    FileStatus? LStat(string path);
    void MkDir(string path, int mode);
    void Symlink(string target, string path);
    void Link(string existing, string path);
    void MkNod(string path, int mode, ulong device);
    void LChown(string path, int uid, int gid);
    void FChown(int fd, int uid, int gid);
    void FChmod(int fd, int mode);
    void Chmod(string path, int mode);
    /// <summary>Sets atime and mtime (nanoseconds since the epoch) without following a final symlink.</summary>
    void SetTimes(string path, long atimeNs, long mtimeNs);
    void FSetTimes(int fd, long atimeNs, long mtimeNs);
    void LSetXattr(string path, string name, ReadOnlySpan<byte> value);
    /// <summary>The value of an xattr, or null when the file has none by that name.</summary>
    byte[]? LGetXattr(string path, string name);
    /// <summary>The names of a file's xattrs.</summary>
    IReadOnlyList<string> LListXattr(string path);
    void Unlink(string path);
    void RmDir(string path);

    // Calls relative to a directory fd, for trees that a container may change while they are walked: openat2 with
    // RESOLVE_IN_ROOT resolves a path in one step with the fd as "/", and the rest act on one name in a pinned directory.
    /// <summary>openat2: opens <paramref name="path"/> under <paramref name="dirFd"/> with <paramref name="resolve"/> (RESOLVE_* flags); returns the fd.</summary>
    int OpenAt2(int dirFd, string path, int flags, int mode, ulong resolve);
    /// <summary>statx of <paramref name="name"/> in <paramref name="dirFd"/> (the fd itself when empty), never following a final symlink; null when missing.</summary>
    FileStatus? StatAt(int dirFd, string name);
    void MkDirAt(int dirFd, string name, int mode);
    void UnlinkAt(int dirFd, string name, bool directory);
    void SymlinkAt(string target, int dirFd, string name);
    void LinkAt(int oldDirFd, string oldName, int newDirFd, string newName);
    /// <summary>fchownat without following a final symlink.</summary>
    void ChownAt(int dirFd, string name, int uid, int gid);
    /// <summary>utimensat without following a final symlink (nanoseconds since the epoch).</summary>
    void SetTimesAt(int dirFd, string name, long atimeNs, long mtimeNs);
    /// <summary>bpf(2): <paramref name="cmd"/> with <paramref name="attr"/> (a union bpf_attr's bytes); returns what the kernel returns (an fd for loads).</summary>
    int Bpf(int cmd, Span<byte> attr);
    /// <summary>readlinkat: the target of the symlink <paramref name="name"/> in <paramref name="dirFd"/> (the fd itself, an O_PATH symlink, when empty).</summary>
    string ReadLinkAt(int dirFd, string name);
    void FSync(int fd);
    void SyncFs(int fd);
}

/// <summary>What lstat says of a file.</summary>
internal readonly record struct FileStatus(int Mode, int Uid, int Gid, long Size, ulong Device, long MtimeNs, ulong Inode, int LinkCount)
{
    public const int TypeMask = 0xF000, Directory = 0x4000, Regular = 0x8000, Symlink = 0xA000, CharDevice = 0x2000, BlockDevice = 0x6000, Fifo = 0x1000, Socket = 0xC000;

    public int Type => Mode & TypeMask;

    public bool IsDirectory => Type == Directory;

    public int Permissions => Mode & 0xFFF;
}

/// <summary>Terminal sizes on a pty master held by a <see cref="FileStream"/>.</summary>
internal static class Pty
{
    /// <summary>Sets the window size (TIOCSWINSZ); a master already closed, or a failing ioctl, changes nothing.</summary>
    public static void Resize(ISyscalls sys, FileStream master, int rows, int columns)
    {
        var handle = master.SafeFileHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            sys.SetWindowSize((int)handle.DangerousGetHandle(), (ushort)Math.Min(rows, ushort.MaxValue), (ushort)Math.Min(columns, ushort.MaxValue));
        }
        catch (Exception e) when (e is ObjectDisposedException or SyscallException)
        {
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
