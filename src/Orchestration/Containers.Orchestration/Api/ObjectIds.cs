using System.Security.Cryptography;

namespace Containers.Orchestration.Api;

/// <summary>The identities the API server gives objects: uids, and the random suffix of a generateName.</summary>
internal static class ObjectIds
{
    /// <summary>
    /// A random (version 4) UUID, as Kubernetes gives every object, from this thread's buffer of cryptographically
    /// random bytes refilled 256 at a time (Guid.NewGuid asks the kernel for every one: a system call per object).
    /// </summary>
    public static string NewUid()
    {
        var pool = uidBytes ??= new byte[256];
        if (uidOffset is 0 or >= 256)
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(pool);
            uidOffset = 0;
        }

        Span<byte> b = stackalloc byte[16];
        pool.AsSpan(uidOffset, 16).CopyTo(b);
        uidOffset += 16;
        b[6] = (byte)((b[6] & 0x0F) | 0x40); // version 4
        b[8] = (byte)((b[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(b, bigEndian: true).ToString();
    }

    [ThreadStatic]
    private static byte[]? uidBytes;

    [ThreadStatic]
    private static int uidOffset;

    /// <summary>Five characters from Kubernetes' alphabet for generateName (no vowels, no look-alikes).</summary>
    public static string RandomSuffix()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Create(5, 0, (span, _) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
            }
        });
    }
}
