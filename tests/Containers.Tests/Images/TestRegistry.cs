using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Containers.Tests.Images;

/// <summary>
/// Debian's docker-registry (the distribution server) on 127.0.0.1 with its own storage, optionally with
/// htpasswd auth over TLS (a self-signed certificate made here). Stopped by PID when disposed.
/// </summary>
public sealed class TestRegistry : IDisposable
{
    private readonly Process process = null!;

    /// <param name="auth">htpasswd auth over TLS.</param>
    /// <param name="token">Bearer token auth by this token server (plain HTTP).</param>
    public TestRegistry(bool auth = false, TestTokenServer? token = null)
    {
        Dir = Path.Combine(Path.GetTempPath(), "containers-tests-registry-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Dir);
        for (var attempt = 0; ; attempt++)
        {
            Port = FreePort();
            try
            {
                process = Start(auth, token);
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                // the port was taken between the probe and the registry's bind: try another
            }
        }
    }

    private Process Start(bool auth, TestTokenServer? token)
    {
        var config = $"""
            version: 0.1
            log:
              level: error
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {Dir}/data
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{Port}

            """;
        if (auth)
        {
            Run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", $"{Dir}/key.pem", "-out", $"{Dir}/cert.pem", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1");
            File.WriteAllText($"{Dir}/htpasswd", Run("htpasswd", "-Bbn", User, Password));
            config += $"""
                  tls:
                    certificate: {Dir}/cert.pem
                    key: {Dir}/key.pem
                auth:
                  htpasswd:
                    realm: test-registry
                    path: {Dir}/htpasswd

                """;
        }

        if (token is not null)
        {
            File.WriteAllText($"{Dir}/token-root.pem", token.CertificatePem);
            config += $"""
                auth:
                  token:
                    realm: {token.Realm}
                    service: {TestTokenServer.Service}
                    issuer: {TestTokenServer.Issuer}
                    rootcertbundle: {Dir}/token-root.pem

                """;
        }

        File.WriteAllText($"{Dir}/config.yml", config);
        var started = Process.Start(new ProcessStartInfo("docker-registry", ["serve", $"{Dir}/config.yml"]) { RedirectStandardError = true, RedirectStandardOutput = true })
            ?? throw new FileNotFoundException("docker-registry did not start (apt-get install docker-registry)");
        started.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        started.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        started.BeginErrorReadLine();
        started.BeginOutputReadLine();
        try
        {
            WaitUntilUp(started, auth);
        }
        catch (InvalidOperationException)
        {
            if (!started.HasExited)
            {
                started.Kill();
            }

            started.WaitForExit();
            started.Dispose();
            throw;
        }

        return started;
    }

    private readonly System.Text.StringBuilder log = new();

    public const string User = "tester";
    public const string Password = "s3cret-pass";

    public string Dir { get; }

    public int Port { get; private set; }

    /// <summary>The registry as image references name it.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public string CertificatePath => $"{Dir}/cert.pem";

    /// <summary>The file that holds a blob in the registry's storage (to corrupt it on purpose).</summary>
    public string BlobData(string digestHex) => $"{Dir}/data/docker/registry/v2/blobs/sha256/{digestHex[..2]}/{digestHex}/data";

    public void Dispose()
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit();
        }

        process.Dispose();
        Directory.Delete(Dir, true);
    }

    public static string Run(string file, params string[] args) => Run(file, args, null);

    /// <summary>Runs a tool to its end; returns its stdout, or throws with its stderr when it fails.</summary>
    public static string Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? stdout.Result : throw new InvalidOperationException($"{file} {string.Join(' ', psi.ArgumentList)} exited {p.ExitCode}: {stderr}");
    }

    private void WaitUntilUp(Process started, bool tls)
    {
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var http = new HttpClient(handler);
        for (var i = 0; i < 200; i++)
        {
            if (started.HasExited)
            {
                break;
            }

            try
            {
                using var r = http.GetAsync(new Uri($"{(tls ? "https" : "http")}://127.0.0.1:{Port}/v2/")).GetAwaiter().GetResult();
                return;
            }
            catch (HttpRequestException)
            {
                Thread.Sleep(25);
            }
        }

        lock (log)
        {
            throw new InvalidOperationException("docker-registry did not come up: " + log);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
