using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>
/// The Docker API locked to its owners, as dockerd: the socket is 0660 with group docker (0600 without that group),
/// so an unprivileged user cannot connect; TCP needs TLS with client certificates, and the docker CLI works over it.
/// </summary>
public sealed class AccessTests
{
    [Fact]
    public async Task An_unprivileged_user_cannot_connect_to_the_socket()
    {
        await using var t = new TestEngine();
        // a directory anyone may enter, so that only the socket's own mode can keep them out
        var dir = Directory.CreateDirectory(Path.Combine("/tmp", "containers-access-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ed); // 0755
        try
        {
            await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(dir, "docker.sock"));
            var mode = File.GetUnixFileMode(server.SocketPath);
            var expected = SocketAccess.GroupId("docker") is null ? (UnixFileMode)0x180 : (UnixFileMode)0x1b0; // 0600, or 0660 with group docker
            Assert.Equal(expected, mode);
            Assert.Equal(0, await PingAsNobodyAsync(server.SocketPath, asRoot: true));
            Assert.NotEqual(0, await PingAsNobodyAsync(server.SocketPath, asRoot: false));

            File.SetUnixFileMode(server.SocketPath, (UnixFileMode)0x1b6); // the control: opened to all, nobody gets in
            Assert.Equal(0, await PingAsNobodyAsync(server.SocketPath, asRoot: false));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Tcp_needs_tls_with_client_certificates_and_the_docker_cli_works_over_it()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        int port = FreePort();
        Assert.Throws<ArgumentException>(() => new DockerApiOptions { SocketPath = "x", TcpPort = port }.TcpEndPoint());
        Assert.Throws<ArgumentException>(() => new DockerApiOptions { SocketPath = "x", TcpPort = port, InsecureLoopback = true, TcpAddress = IPAddress.Any }.TcpEndPoint());

        var certs = Directory.CreateDirectory(Path.Combine(t.Root, "certs")).FullName;
        using var ca = Authority("containers-test-ca");
        using var otherCa = Authority("another-ca");
        using var server = Issue(ca, "localhost", server: true);
        var good = Directory.CreateDirectory(Path.Combine(certs, "client")).FullName;
        var foreign = Directory.CreateDirectory(Path.Combine(certs, "foreign")).FullName;
        WriteClientDir(good, ca, Issue(ca, "client", server: false));
        WriteClientDir(foreign, ca, Issue(otherCa, "client", server: false)); // trusts our server, signed by another CA
        File.WriteAllText(Path.Combine(certs, "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(certs, "server-cert.pem"), server.ExportCertificatePem());
        File.WriteAllText(Path.Combine(certs, "server-key.pem"), server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());

        var tls = DockerApiTls.FromPemFiles(Path.Combine(certs, "ca.pem"), Path.Combine(certs, "server-cert.pem"), Path.Combine(certs, "server-key.pem"));
        await using var api = await DockerApiServer.StartAsync(t.Engine, new DockerApiOptions { SocketPath = Path.Combine(t.Root, "docker.sock"), TcpPort = port, Tls = tls });

        var version = await Docker(t.Root, port, good, "version", "--format", "{{.Server.APIVersion}}");
        Assert.True(version.Code == 0, version.Stderr);
        Assert.Equal(DockerApiServer.ApiVersion, version.Stdout.Trim());
        var run = await Docker(t.Root, port, good, "run", "--rm", "busybox", "echo", "over-tls"); // attach: the hijacked connection is TLS too
        Assert.True(run.Code == 0, run.Stderr);
        Assert.Equal("over-tls", run.Stdout.Trim());

        var plain = await Docker(t.Root, port, null, "version");
        Assert.NotEqual(0, plain.Code);
        var refused = await Docker(t.Root, port, foreign, "version");
        Assert.NotEqual(0, refused.Code);
        Assert.Empty(t.Engine.List(all: true));
    }

    private static async Task<int> PingAsNobodyAsync(string socket, bool asRoot)
    {
        var args = new List<string>();
        if (!asRoot)
        {
            args.AddRange(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        }

        args.AddRange(["curl", "-sf", "--max-time", "5", "--unix-socket", socket, "http://docker/_ping"]);
        using var p = Process.Start(new ProcessStartInfo(asRoot ? "env" : "setpriv", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await p.WaitForExitAsync();
        return p.ExitCode;
    }

    private static async Task<(int Code, string Stdout, string Stderr)> Docker(string root, int port, string? certPath, params string[] args)
    {
        var psi = new ProcessStartInfo("docker", args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOCKER_HOST"] = $"tcp://localhost:{port}";
        psi.Environment["DOCKER_CONFIG"] = Path.Combine(root, "docker-config");
        psi.Environment.Remove("DOCKER_TLS_VERIFY");
        psi.Environment.Remove("DOCKER_CERT_PATH");
        if (certPath is not null)
        {
            psi.Environment["DOCKER_TLS_VERIFY"] = "1";
            psi.Environment["DOCKER_CERT_PATH"] = certPath;
        }

        using var p = Process.Start(psi)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stdout = p.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = p.StandardError.ReadToEndAsync(timeout.Token);
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>docker's DOCKER_CERT_PATH: ca.pem (the server's CA), cert.pem and key.pem (the client's).</summary>
    private static void WriteClientDir(string dir, X509Certificate2 serverCa, X509Certificate2 client)
    {
        File.WriteAllText(Path.Combine(dir, "ca.pem"), serverCa.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "cert.pem"), client.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "key.pem"), client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        client.Dispose();
    }

    private static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), ca.NotAfter.AddMinutes(-1), serial); // within the authority's life, whatever the clock did since it was made
        return signed.CopyWithPrivateKey(key);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
