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
    void WriteAll(int fd, ReadOnlySpan<byte> data);
    bool Kill(int pid, int signal);
    void Flock(int fd, bool exclusive);
    (int Master, int Slave) OpenPty();
    void SetWindowSize(int fd, ushort rows, ushort cols);
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
}
