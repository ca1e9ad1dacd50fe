using System.Runtime.InteropServices;

namespace Containers.Cli;

/// <summary>Puts the user's terminal in raw mode for <c>-it</c> and restores it.</summary>
internal sealed unsafe partial class RawTerminal : IDisposable
{
    private readonly byte[] saved = new byte[64];
    private readonly bool active;

    public RawTerminal()
    {
        if (isatty(0) != 1)
        {
            return;
        }

        fixed (byte* p = saved)
        {
            if (tcgetattr(0, p) != 0)
            {
                return;
            }
        }

        var raw = (byte[])saved.Clone();
        fixed (byte* p = raw)
        {
            cfmakeraw(p);
            active = tcsetattr(0, 0, p) == 0;
        }
    }

    public void Dispose()
    {
        if (active)
        {
            fixed (byte* p = saved)
            {
                _ = tcsetattr(0, 0, p);
            }
        }
    }

    // Tmds.LibC lacks cfmakeraw and a termios struct of glibc's size: the four calls are bound here
    [LibraryImport("libc")] private static partial int isatty(int fd);
    [LibraryImport("libc")] private static partial int tcgetattr(int fd, byte* termios);
    [LibraryImport("libc")] private static partial int tcsetattr(int fd, int action, byte* termios);
    [LibraryImport("libc")] private static partial void cfmakeraw(byte* termios);
}
