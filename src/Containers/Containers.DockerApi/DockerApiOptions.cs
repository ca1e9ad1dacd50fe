using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Containers.DockerApi;

/// <summary>Where and how <see cref="DockerApiServer"/> serves: the unix socket, and optionally a TCP port.</summary>
public sealed class DockerApiOptions
{
    /// <summary>The unix socket to serve (required).</summary>
    public required string SocketPath { get; init; }

    /// <summary>
    /// The group given the socket (mode 0660), as dockerd's <c>docker</c> group; when the group does not exist, or
    /// this is null, the socket is its owner's only (0600).
    /// </summary>
    public string? SocketGroup { get; init; } = "docker";

    /// <summary>Also serve on this TCP port (with <see cref="Tls"/>, or plain on loopback with <see cref="InsecureLoopback"/>).</summary>
    public int? TcpPort { get; init; }

    /// <summary>The address of the TCP port: 127.0.0.1 unless given. Without TLS, only a loopback address is accepted.</summary>
    public IPAddress? TcpAddress { get; init; }

    /// <summary>TLS with client certificates on the TCP port, as dockerd's <c>--tlsverify</c>.</summary>
    public DockerApiTls? Tls { get; init; }

    /// <summary>
    /// Serve the TCP port without TLS, on loopback only. The API is root on this machine to anyone who can connect,
    /// so every local user is: an explicit choice, for tests and single-user machines.
    /// </summary>
    public bool InsecureLoopback { get; init; }

    /// <summary>The TCP endpoint to listen on, or null; throws <see cref="ArgumentException"/> when it would be unauthenticated without being asked.</summary>
    internal IPEndPoint? TcpEndPoint()
    {
        if (TcpPort is not { } port)
        {
            return null;
        }

        var address = TcpAddress ?? IPAddress.Loopback;
        if (Tls is null && !InsecureLoopback)
        {
            throw new ArgumentException($"TcpPort {port}: the Docker API on TCP needs Tls (client certificates, as dockerd's --tlsverify), or InsecureLoopback to serve it plain on loopback", nameof(TcpPort));
        }

        if (Tls is null && !IPAddress.IsLoopback(address))
        {
            throw new ArgumentException($"TcpAddress {address}: without TLS the Docker API is served on loopback only", nameof(TcpAddress));
        }

        return new IPEndPoint(address, port);
    }
}

/// <summary>
/// TLS for the Docker API's TCP port, as dockerd's <c>--tlsverify --tlscacert --tlscert --tlskey</c>: clients must
/// present a certificate that chains to <see cref="ClientCertificateAuthority"/> and may be used for client authentication.
/// </summary>
/// <param name="ServerCertificate">The server's certificate, with its private key.</param>
/// <param name="ClientCertificateAuthority">The CA that client certificates must chain to.</param>
public sealed record DockerApiTls(X509Certificate2 ServerCertificate, X509Certificate2 ClientCertificateAuthority)
{
    private static readonly System.Security.Cryptography.Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    /// <summary>Reads docker's PEM files: the CA (<c>--tlscacert</c>), the server's certificate and its key (<c>--tlscert</c>, <c>--tlskey</c>).</summary>
    public static DockerApiTls FromPemFiles(string caCertificate, string certificate, string key)
    {
        foreach (var (option, path) in new[] { ("--tlscacert", caCertificate), ("--tlscert", certificate), ("--tlskey", key) })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{option} {path}: no such file", path);
            }
        }

        return new DockerApiTls(X509Certificate2.CreateFromPemFile(certificate, key), X509CertificateLoader.LoadCertificateFromFile(caCertificate));
    }

    /// <summary>Whether <paramref name="client"/> chains to the CA and allows client authentication (no revocation lists, as docker's).</summary>
    public bool Accepts(X509Certificate2 client)
    {
        ArgumentNullException.ThrowIfNull(client);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ClientCertificateAuthority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        return chain.Build(client);
    }

    internal HttpsConnectionAdapterOptions HttpsOptions() => new()
    {
        ServerCertificate = ServerCertificate,
        ClientCertificateMode = ClientCertificateMode.RequireCertificate,
        ClientCertificateValidation = (certificate, _, _) => Accepts(certificate),
        SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
    };
}

/// <summary>The socket's owner and mode, as dockerd sets them.</summary>
internal static class SocketAccess
{
    /// <summary>Mode 0660 and group <paramref name="group"/> when it exists in /etc/group; else 0600.</summary>
    public static void Restrict(string socketPath, string? group)
    {
        if (group is not null && GroupId(group) is { } gid)
        {
            Chown(socketPath, gid);
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        }
        else
        {
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>The ID of <paramref name="name"/> in /etc/group, or null.</summary>
    internal static uint? GroupId(string name) =>
        File.Exists("/etc/group")
            ? File.ReadLines("/etc/group").Select(l => l.Split(':')).Where(f => f.Length >= 3 && f[0] == name && uint.TryParse(f[2], out _)).Select(f => (uint?)uint.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault()
            : null;

    private static unsafe void Chown(string path, uint gid)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            if (Tmds.Linux.LibC.chown(p, Tmds.Linux.LibC.geteuid(), gid) != 0)
            {
                throw new IOException($"chown {path} to group {gid}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
            }
        }
    }
}
