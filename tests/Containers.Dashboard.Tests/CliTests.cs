using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace Containers.Tests.Dashboard;

/// <summary><c>containers dashboard</c>: serving, HTTPS with a given certificate, and its refusals.</summary>
[Collection(DashboardCollection.Name)]
public sealed partial class CliTests
{
    [GeneratedRegex(@"dashboard: (https?://\S+)")]
    private static partial Regex UrlLine();

    private static ProcessStartInfo Cli(string root, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "containers-cli")) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(root);
        psi.ArgumentList.Add("dashboard");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("CONTAINERS_DASHBOARD_PASSWORD");
        return psi;
    }

    /// <summary>Runs the dashboard until its URL is printed, calls <paramref name="use"/>, then stops it with SIGTERM.</summary>
    private static async Task ServeAsync(ProcessStartInfo psi, Func<Uri, Task> use)
    {
        using var p = Process.Start(psi)!;
        var url = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var lines = new System.Text.StringBuilder();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                url.TrySetException(new InvalidOperationException("the dashboard ended: " + lines));
                return;
            }

            lock (lines)
            {
                lines.AppendLine(e.Data);
            }

            if (UrlLine().Match(e.Data) is { Success: true } m)
            {
                url.TrySetResult(new Uri(m.Groups[1].Value));
            }
        };
        p.BeginErrorReadLine();
        try
        {
            await use(await url.Task.WaitAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            using (var term = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await p.WaitForExitAsync(timeout.Token);
        }

        Assert.Equal(0, p.ExitCode);
    }

    private static async Task<(int Code, string Error)> RunAsync(ProcessStartInfo psi)
    {
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await error);
    }

    [Fact]
    public async Task The_command_serves_the_engine_with_a_password_file_and_over_https_with_a_given_certificate()
    {
        await using var t = DockerViewTests.Engine();
        string passwordFile = Path.Combine(t.Root, "password");
        await File.WriteAllTextAsync(passwordFile, DockerViewTests.Password + "\n");

        // plain HTTP on loopback
        await ServeAsync(Cli(t.Root, "--port", "0", "--password-file", passwordFile), async url =>
        {
            Assert.Equal("127.0.0.1", url.Host);
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = url };
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/docker/_ping")).StatusCode);
            (await http.PostAsJsonAsync("api/auth/login", new { password = DockerViewTests.Password })).EnsureSuccessStatusCode();
            Assert.Equal("OK", await http.GetStringAsync("api/docker/_ping"));
        });

        // HTTPS with a certificate of our own: the session cookie is Secure
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=dashboard.test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        string certFile = Path.Combine(t.Root, "tls.crt"), keyFile = Path.Combine(t.Root, "tls.key");
        await File.WriteAllTextAsync(certFile, cert.ExportCertificatePem());
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        var psi = Cli(t.Root, "--port", "0", "--tls-cert", certFile, "--tls-key", keyFile);
        psi.Environment["CONTAINERS_DASHBOARD_PASSWORD"] = DockerViewTests.Password;
        await ServeAsync(psi, async url =>
        {
            Assert.Equal("https", url.Scheme);
            using var http = new HttpClient(new SocketsHttpHandler
            {
                UseProxy = false,
                SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => c is not null && c.GetCertHashString() == cert.GetCertHashString() },
            })
            { BaseAddress = url };
            var login = await http.PostAsJsonAsync("api/auth/login", new { password = DockerViewTests.Password });
            login.EnsureSuccessStatusCode();
            Assert.Contains("secure", login.Headers.GetValues("Set-Cookie").Single(), StringComparison.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public async Task The_command_refuses_plain_http_beyond_loopback_a_port_in_use_and_a_missing_password_file()
    {
        string root = Path.Combine(Path.GetTempPath(), "containers-dashboard-cli-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var (code, error) = await RunAsync(Cli(root, "--address", "0.0.0.0"));
            Assert.NotEqual(0, code);
            Assert.Contains("--address 0.0.0.0", error, StringComparison.Ordinal);
            Assert.Contains("HTTPS", error, StringComparison.Ordinal);

            (code, error) = await RunAsync(Cli(root, "--password-file", Path.Combine(root, "nope")));
            Assert.NotEqual(0, code);
            Assert.Contains("no such file", error, StringComparison.Ordinal);

            using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            taken.Start();
            int port = ((IPEndPoint)taken.LocalEndpoint).Port;
            (code, error) = await RunAsync(Cli(root, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.NotEqual(0, code);
            Assert.Contains($"127.0.0.1:{port}", error, StringComparison.Ordinal);
            Assert.Contains("in use", error, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }
}
