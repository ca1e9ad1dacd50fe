using System.Runtime.InteropServices;

namespace Containers.Linux;

/// <summary>A failed system call: which call, on what, and the errno the kernel returned.</summary>
public sealed class SyscallException : ContainerException
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errno"/>.</summary>
    public SyscallException(string call, int errno, string? target = null)
        : base($"{call}{(target is null ? "" : $" {target}")}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>The system call that failed.</summary>
    public string Call { get; }

    /// <summary>The errno value.</summary>
    public int Errno { get; }
}
