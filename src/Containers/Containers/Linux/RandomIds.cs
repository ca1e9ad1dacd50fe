using System.Runtime.InteropServices;

namespace Containers.Linux;

/// <summary>
/// Random ids (containers, networks, volumes: 64 hex digits, as docker's) from the kernel's CSPRNG, getrandom(2).
/// Not <see cref="System.Security.Cryptography.RandomNumberGenerator"/>: on Linux it loads OpenSSL (libssl, libcrypto
/// and openssl.cnf), 2-3 ms of a <c>containers run</c> that needs no other cryptography.
/// </summary>
internal static partial class RandomIds
{
    /// <summary><paramref name="bytes"/> random bytes as lower-case hex.</summary>
    public static string NewHex(int bytes = 32)
    {
        Span<byte> buffer = stackalloc byte[bytes];
        Fill(buffer);
        return Convert.ToHexStringLower(buffer);
    }

    private static unsafe void Fill(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            int filled = 0;
            while (filled < buffer.Length)
            {
                nint n = getrandom(p + filled, (nuint)(buffer.Length - filled), 0);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == 4)
                    {
                        continue; // EINTR
                    }

                    throw new SyscallException("getrandom", errno);
                }

                filled += (int)n;
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint getrandom(byte* buffer, nuint length, uint flags);
}
