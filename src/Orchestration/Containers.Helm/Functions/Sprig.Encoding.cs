using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

public static partial class Sprig
{
    private const string AlphaNum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private static void AddEncoding(Adder add, Context context)
    {
        add("b64enc", [S], a => Convert.ToBase64String(Encoding.UTF8.GetBytes((string)a[0]!)));
        add("b64dec", [S], a =>
        {
            try
            {
                return Encoding.UTF8.GetString(Convert.FromBase64String((string)a[0]!));
            }
            catch (FormatException)
            {
                return "illegal base64 data at input byte 0";
            }
        });
        add("b32enc", [S], a => Base32(Encoding.UTF8.GetBytes((string)a[0]!)));
        add("b32dec", [S], a => Encoding.UTF8.GetString(Base32Decode((string)a[0]!)));
        add("sha1sum", [S], a => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes((string)a[0]!))));
        add("sha256sum", [S], a => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes((string)a[0]!))));
        add("sha512sum", [S], a => Convert.ToHexStringLower(SHA512.HashData(Encoding.UTF8.GetBytes((string)a[0]!))));
        add("adler32sum", [S], a => Adler32(Encoding.UTF8.GetBytes((string)a[0]!)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        add("randAlphaNum", [I], a => RandomString((int)(long)a[0]!, AlphaNum));
        add("randAlpha", [I], a => RandomString((int)(long)a[0]!, AlphaNum[..52]));
        add("randNumeric", [I], a => RandomString((int)(long)a[0]!, "0123456789"));
        add("randAscii", [I], a => RandomString((int)(long)a[0]!, string.Concat(Enumerable.Range(32, 95).Select(c => (char)c))));
        add("randBytes", [I], a => Convert.ToBase64String(RandomNumberGenerator.GetBytes((int)(long)a[0]!)));
        add("uuidv4", [], _ => Guid.NewGuid().ToString());
        add("htpasswd", [S, S], a => ((string)a[0]!).Contains(':', StringComparison.Ordinal) ? "invalid username: " + a[0] : a[0] + ":" + BCrypt.Net.BCrypt.HashPassword((string)a[1]!, 10).Replace("$2a$", "$2a$", StringComparison.Ordinal));
        add("bcrypt", [S], a => BCrypt.Net.BCrypt.HashPassword((string)a[0]!, 10));
        add("encryptAES", [S, S], a => EncryptAes((string)a[0]!, (string)a[1]!));
        add("decryptAES", [S, S], a => DecryptAes((string)a[0]!, (string)a[1]!));
        add("genPrivateKey", [S], a => PrivateKey((string)a[0]!));
        add("genCA", [S, I], a => NewCertificate((string)a[0]!, null, null, (long)a[1]!, null, isCa: true, context));
        add("genSelfSignedCert", [S, GoType.List, GoType.List, I], a => NewCertificate((string)a[0]!, a[1], a[2], (long)a[3]!, null, isCa: false, context));
        add("genSignedCert", [S, GoType.List, GoType.List, I, A], a => NewCertificate((string)a[0]!, a[1], a[2], (long)a[3]!, a[4] as Certificate ?? throw Fail("the CA must come from genCA"), isCa: false, context));
    }

    private static string RandomString(int count, string alphabet) =>
        count <= 0 ? "" : RandomNumberGenerator.GetString(alphabet, count);

    private static uint Adler32(byte[] data)
    {
        uint a = 1, b = 0;
        foreach (byte d in data)
        {
            a = (a + d) % 65521;
            b = (b + a) % 65521;
        }

        return (b << 16) | a;
    }

    private static string Base32(byte[] data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new StringBuilder();
        for (int i = 0; i < data.Length; i += 5)
        {
            int n = Math.Min(5, data.Length - i);
            ulong buffer = 0;
            for (int j = 0; j < 5; j++)
            {
                buffer = (buffer << 8) | (j < n ? data[i + j] : 0u);
            }

            int chars = (n * 8 + 4) / 5;
            for (int j = 0; j < 8; j++)
            {
                sb.Append(j < chars ? Alphabet[(int)((buffer >> (35 - j * 5)) & 31)] : '=');
            }
        }

        return sb.ToString();
    }

    private static byte[] Base32Decode(string s)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (char c in s.TrimEnd('='))
        {
            int v = Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (v < 0)
            {
                break;
            }

            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }

        return [.. bytes];
    }

    private static string EncryptAes(string password, string plaintext)
    {
        byte[] key = new byte[32];
        Encoding.UTF8.GetBytes(password).AsSpan(0, Math.Min(32, Encoding.UTF8.GetByteCount(password))).CopyTo(key);
        using var aes = Aes.Create();
        aes.Key = key;
        byte[] iv = RandomNumberGenerator.GetBytes(16);
        byte[] cipher = aes.EncryptCbc(Encoding.UTF8.GetBytes(plaintext), iv, PaddingMode.PKCS7);
        return Convert.ToBase64String([.. iv, .. cipher]);
    }

    private static string DecryptAes(string password, string encoded)
    {
        byte[] key = new byte[32];
        Encoding.UTF8.GetBytes(password).AsSpan(0, Math.Min(32, Encoding.UTF8.GetByteCount(password))).CopyTo(key);
        try
        {
            byte[] data = Convert.FromBase64String(encoded);
            using var aes = Aes.Create();
            aes.Key = key;
            return Encoding.UTF8.GetString(aes.DecryptCbc(data.AsSpan(16), data.AsSpan(0, 16), PaddingMode.PKCS7));
        }
        catch (Exception e) when (e is FormatException or CryptographicException or ArgumentException)
        {
            throw Fail(e.Message);
        }
    }

    private static string PrivateKey(string type)
    {
        switch (type)
        {
            case "rsa":
                using (var rsa = RSA.Create(4096))
                {
                    return rsa.ExportRSAPrivateKeyPem() + "\n";
                }

            case "ecdsa":
                using (var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                {
                    return ec.ExportECPrivateKeyPem() + "\n";
                }

            case "ed25519":
                throw Fail("ed25519 keys are not supported by this runtime");
            default:
                return "Unknown type " + type;
        }
    }

    private static Certificate NewCertificate(string cn, object? ips, object? dns, long days, Certificate? ca, bool isCa, Context context)
    {
        using var key = RSA.Create(2048);
        var subject = new X500DistinguishedName("CN=" + cn.Replace(",", "\\,", StringComparison.Ordinal));
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.DigitalSignature | (isCa ? X509KeyUsageFlags.KeyCertSign : 0), true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        var names = new SubjectAlternativeNameBuilder();
        bool anyName = false;
        foreach (var ip in Cast.List(ips) ?? [])
        {
            if (IPAddress.TryParse(Str(ip), out var address))
            {
                names.AddIpAddress(address);
                anyName = true;
            }
            else
            {
                throw Fail($"error parsing ip: {Str(ip)}");
            }
        }

        foreach (var name in Cast.List(dns) ?? [])
        {
            names.AddDnsName(Str(name));
            anyName = true;
        }

        if (anyName)
        {
            request.CertificateExtensions.Add(names.Build());
        }

        var now = context.Time.GetUtcNow();
        var notAfter = now.AddDays(days);
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        X509Certificate2 cert;
        if (ca is null)
        {
            cert = request.Create(subject, X509SignatureGenerator.CreateForRSA(key, RSASignaturePadding.Pkcs1), now, notAfter, serial);
        }
        else
        {
            using var issuer = X509Certificate2.CreateFromPem(ca.Cert, ca.Key);
            using var issuerKey = issuer.GetRSAPrivateKey()!;
            cert = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForRSA(issuerKey, RSASignaturePadding.Pkcs1), now, notAfter, serial);
        }

        using (cert)
        {
            return new Certificate(PemEncoding.WriteString("CERTIFICATE", cert.RawData) + "\n", key.ExportRSAPrivateKeyPem() + "\n");
        }
    }

    /// <summary>Sprig's certificate: .Cert and .Key as PEM.</summary>
    internal sealed record Certificate(string Cert, string Key) : ITemplateObject
    {
        public string GoTypeName => "sprig.certificate";

        public bool TryGetField(string name, out object? value)
        {
            value = name switch { "Cert" => Cert, "Key" => Key, _ => null };
            return value is not null;
        }

        public TemplateFunction? GetMethod(string name) => null;
    }
}
