using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Containers.Orchestration.Api;

/// <summary>
/// A cluster's certificates, made with the BCL's certificate APIs: its CA and the admin's client certificate (kept in
/// the cluster's pki directory, mode 0600, so a kubeconfig stays valid across restarts), and the API server's serving
/// certificate, made at each start for 127.0.0.1, localhost and the <c>kubernetes</c> Service's names and address.
/// </summary>
public sealed class ClusterPki : IDisposable
{
    /// <summary>The admin's user name (the client certificate's CN, as kube-apiserver reads it).</summary>
    public const string AdminUser = "kubernetes-admin";

    /// <summary>The admin's group (the certificate's O): kube-apiserver's superuser group.</summary>
    public const string AdminGroup = "system:masters";

    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private ClusterPki(X509Certificate2 authority, X509Certificate2 server, X509Certificate2 admin, ECDsa serviceAccountKey)
    {
        Authority = authority;
        Server = server;
        Admin = admin;
        ServiceAccountKey = serviceAccountKey;
    }

    /// <summary>The key service-account tokens are signed with (ECDSA P-256, kept as sa.key, mode 0600).</summary>
    public ECDsa ServiceAccountKey { get; }

    /// <summary>The cluster CA (with its key).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The API server's serving certificate (with its key).</summary>
    public X509Certificate2 Server { get; }

    /// <summary>The admin's client certificate (with its key): CN <see cref="AdminUser"/>, O <see cref="AdminGroup"/>.</summary>
    public X509Certificate2 Admin { get; }

    /// <summary>
    /// Loads the CA and the admin's certificate from <paramref name="directory"/>, making them when missing, and makes a
    /// serving certificate for 127.0.0.1, localhost, the <c>kubernetes</c> Service's DNS names and <paramref name="addresses"/>.
    /// </summary>
    public static ClusterPki LoadOrCreate(string directory, IEnumerable<IPAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        Directory.CreateDirectory(directory);
        var authority = LoadOrMake(directory, "ca", () => MakeAuthority());
        var admin = LoadOrMake(directory, "admin", () => Issue(authority, $"CN={AdminUser}, O={AdminGroup}", ClientAuthentication, null));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in new[] { "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local" })
        {
            san.AddDnsName(name);
        }

        foreach (var address in addresses.Append(IPAddress.Loopback).Distinct())
        {
            san.AddIpAddress(address);
        }

        var server = Issue(authority, "CN=kube-apiserver", ServerAuthentication, san.Build());
        string saKey = Path.Combine(directory, "sa.key");
        var serviceAccountKey = ECDsa.Create();
        if (File.Exists(saKey))
        {
            serviceAccountKey.ImportFromPem(File.ReadAllText(saKey));
        }
        else
        {
            serviceAccountKey.GenerateKey(ECCurve.NamedCurves.nistP256);
            WritePrivate(saKey, serviceAccountKey.ExportPkcs8PrivateKeyPem());
        }

        return new ClusterPki(authority, server, admin, serviceAccountKey);
    }

    /// <summary>
    /// A client certificate of the cluster CA for <paramref name="user"/> in <paramref name="groups"/> (CN and O, as
    /// kube-apiserver reads them), valid from <paramref name="notBefore"/> (now when null) for
    /// <paramref name="lifetime"/> (a year when null): what <c>containers cluster kubeconfig --user</c> hands out.
    /// </summary>
    public X509Certificate2 IssueClientCertificate(string user, IEnumerable<string> groups, DateTimeOffset? notBefore = null, TimeSpan? lifetime = null) =>
        IssueClientCertificate(Authority, user, groups, notBefore, lifetime);

    /// <summary>A client certificate of <paramref name="authority"/> (a cluster CA with its key) for <paramref name="user"/> in <paramref name="groups"/>; see the instance method.</summary>
    public static X509Certificate2 IssueClientCertificate(X509Certificate2 authority, string user, IEnumerable<string> groups, DateTimeOffset? notBefore = null, TimeSpan? lifetime = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(groups);
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(user);
        foreach (var group in groups)
        {
            name.AddOrganizationName(group);
        }

        var from = notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5);
        return Issue(authority, name.Build(), ClientAuthentication, null, from, from + (lifetime ?? TimeSpan.FromDays(365)));
    }

    /// <summary>
    /// The user and groups of a client certificate that chains to the CA and allows client authentication (CN and O,
    /// as kube-apiserver reads them); null for any other certificate.
    /// </summary>
    public (string User, string[] Groups)? Authenticate(X509Certificate2? client)
    {
        if (client is null)
        {
            return null;
        }

        if (!Chains(client, Authority, ClientAuthentication))
        {
            return null;
        }

        var user = client.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        var groups = client.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(r => r.GetSingleElementType().Value == "2.5.4.10").Select(r => r.GetSingleElementValue() ?? "").ToArray();
        return string.IsNullOrEmpty(user) ? null : (user, groups);
    }

    /// <summary>Whether <paramref name="certificate"/> is this cluster's serving certificate's chain (for clients that trust only the cluster CA).</summary>
    public bool ValidatesServer(X509Certificate? certificate) => Chains(certificate, Authority);

    /// <summary>An HttpClient handler that trusts the cluster CA and presents the admin's certificate.</summary>
    public HttpClientHandler AdminHandler() => Handler(Authority, Admin);

    /// <summary>
    /// The admin's HttpClient handler from a cluster's pki directory (ROOT/cluster/pki, readable by its owner only), for a
    /// process on the same machine that did not start the cluster: <c>containers cluster status</c>.
    /// </summary>
    public static HttpClientHandler AdminHandler(string directory) => Handler(
        X509CertificateLoader.LoadCertificateFromFile(Path.Combine(directory, "ca.crt")),
        X509Certificate2.CreateFromPemFile(Path.Combine(directory, "admin.crt"), Path.Combine(directory, "admin.key")));

    /// <summary>The server-certificate check of <see cref="SslStream"/> and ClientWebSocket for this cluster.</summary>
    public RemoteCertificateValidationCallback ServerValidation => (_, cert, _, _) => ValidatesServer(cert);

    /// <summary>PEM of a certificate (for kubeconfig's *-data fields).</summary>
    public static string Pem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.ExportCertificatePem();
    }

    /// <summary>PEM (PKCS#8) of a certificate's private key.</summary>
    public static string KeyPem(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return (certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("the certificate has no ECDSA private key")).ExportPkcs8PrivateKeyPem();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
        Admin.Dispose();
        ServiceAccountKey.Dispose();
    }

    private static HttpClientHandler Handler(X509Certificate2 authority, X509Certificate2 admin) => ClientHandler(authority, admin);

    /// <summary>An HttpClient handler that trusts only <paramref name="authority"/> and presents <paramref name="client"/> (when given).</summary>
    public static HttpClientHandler ClientHandler(X509Certificate2 authority, X509Certificate2? client)
    {
        var handler = new HttpClientHandler
        {
            ClientCertificateOptions = ClientCertificateOption.Manual,
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => Chains(cert, authority),
        };
        if (client is not null)
        {
            handler.ClientCertificates.Add(client);
        }

        return handler;
    }

    /// <summary>Whether <paramref name="certificate"/> chains to <paramref name="authority"/> (no revocation lists), for <paramref name="usage"/> when given.</summary>
    internal static bool Chains(X509Certificate? certificate, X509Certificate2 authority, Oid? usage = null)
    {
        if (certificate is null)
        {
            return false;
        }

        using var cert = new X509Certificate2(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (usage is not null)
        {
            chain.ChainPolicy.ApplicationPolicy.Add(usage);
        }

        return chain.Build(cert);
    }

    private static X509Certificate2 LoadOrMake(string directory, string name, Func<X509Certificate2> make)
    {
        string crt = Path.Combine(directory, name + ".crt"), key = Path.Combine(directory, name + ".key");
        if (File.Exists(crt) && File.Exists(key))
        {
            var loaded = X509Certificate2.CreateFromPemFile(crt, key);
            if (loaded.NotAfter > DateTime.Now.AddDays(1))
            {
                return loaded;
            }

            loaded.Dispose(); // about to expire: make a new one
        }

        var made = make();
        WritePrivate(key, KeyPem(made));
        WritePrivate(crt, Pem(made));
        return made;
    }

    private static void WritePrivate(string path, string text)
    {
        using (var f = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        using (var w = new StreamWriter(f))
        {
            w.Write(text);
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static X509Certificate2 MakeAuthority()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=containers-dotnet-ca", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(10));
    }

    /// <summary>
    /// Signs a PKCS#10 request's public key and subject as a client certificate of <paramref name="authority"/> (the
    /// CSR signer's job): the request's own extensions are not copied, only client authentication is granted.
    /// </summary>
    public static X509Certificate2 SignClientRequest(X509Certificate2 authority, CertificateRequest request, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentNullException.ThrowIfNull(request);
        var signing = new CertificateRequest(request.SubjectName, request.PublicKey, HashAlgorithmName.SHA256);
        signing.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        signing.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        signing.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientAuthentication], false));
        signing.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var from = DateTimeOffset.UtcNow.AddMinutes(-5);
        var notAfter = from + lifetime < authority.NotAfter ? from + lifetime : authority.NotAfter;
        // the subject's key may be of another algorithm than the CA's (an RSA user key, an ECDSA CA): sign with the CA's own
        using var caKey = authority.GetECDsaPrivateKey();
        using var caRsa = caKey is null ? authority.GetRSAPrivateKey() : null;
        var generator = caKey is not null ? X509SignatureGenerator.CreateForECDsa(caKey)
            : caRsa is not null ? X509SignatureGenerator.CreateForRSA(caRsa, RSASignaturePadding.Pkcs1)
            : throw new CryptographicException("the CA certificate has no private key of ECDSA or RSA");
        return signing.Create(authority.SubjectName, generator, from, notAfter, RandomNumberGenerator.GetBytes(16));
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string subject, Oid usage, X509Extension? san) =>
        Issue(authority, new X500DistinguishedName(subject), usage, san, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));

    private static X509Certificate2 Issue(X509Certificate2 authority, X500DistinguishedName subject, Oid usage, X509Extension? san, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        if (san is not null)
        {
            request.CertificateExtensions.Add(san);
        }

        using var signed = request.Create(authority, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        return signed.CopyWithPrivateKey(key);
    }
}
