using System.Text;

namespace Containers.Shim;

/// <summary>
/// Paths and names as the NUL-terminated UTF-8 bytes that Tmds.LibC's calls take (<c>byte*</c>): pin the array with
/// <c>fixed</c>; a null string gives a null array, so a null pointer.
/// </summary>
internal static class CString
{
    /// <summary>The NUL-terminated UTF-8 encoding of <paramref name="value"/>, or null for null.</summary>
    public static byte[]? Of(string? value)
    {
        if (value is null)
        {
            return null;
        }

        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }
}
