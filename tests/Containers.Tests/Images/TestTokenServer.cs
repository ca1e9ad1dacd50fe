using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Containers.Tests.Images;

/// <summary>
/// A docker token server on 127.0.0.1 (as Docker Hub's auth.docker.io): checks Basic credentials and issues an
/// RS256 JWT with an x5c certificate the registry trusts, granting the scopes asked for.
/// </summary>
public sealed class TestTokenServer : IDisposable
{
    public const string Service = "test-registry";
    public const string Issuer = "test-issuer";
    private readonly HttpListener listener = new();
    private readonly RSA key = RSA.Create(2048);
    private readonly X509Certificate2 certificate;
    private readonly Task loop;
    private int requests;

    public TestTokenServer()
    {
        var request = new CertificateRequest("CN=test-token-issuer", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        for (var attempt = 0; ; attempt++)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            try
            {
                listener.Prefixes.Clear();
                listener.Prefixes.Add($"http://127.0.0.1:{port}/");
                listener.Start();
                Realm = $"http://127.0.0.1:{port}/token";
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                // the port was taken between the probe and the bind: take another
            }
        }

        loop = Task.Run(ServeAsync);
    }

    public string Realm { get; } = "";

    public string CertificatePem => certificate.ExportCertificatePem();

    /// <summary>Token requests answered (to see that tokens are cached per scope).</summary>
    public int Requests => Volatile.Read(ref requests);

    public void Dispose()
    {
        try
        {
            listener.Close(); // the managed listener may try to re-bind its port while removing prefixes: ignore that
        }
        catch (HttpListenerException)
        {
        }

        try
        {
            loop.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
        {
        }

        certificate.Dispose();
        key.Dispose();
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            Interlocked.Increment(ref requests);
            using var response = context.Response;
            var auth = context.Request.Headers["Authorization"];
            var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{TestRegistry.User}:{TestRegistry.Password}"));
            if (auth != expected)
            {
                response.StatusCode = 401;
                continue;
            }

            var access = new JsonArray();
            foreach (var scope in context.Request.QueryString.GetValues("scope") ?? [])
            {
                var parts = scope.Split(':');
                if (parts.Length == 3)
                {
                    access.Add(new JsonObject { ["type"] = parts[0], ["name"] = parts[1], ["actions"] = new JsonArray([.. parts[2].Split(',').Select(a => (JsonNode)a)]) });
                }
            }

            var body = Encoding.UTF8.GetBytes(new JsonObject { ["token"] = Jwt(access), ["expires_in"] = 300 }.ToJsonString());
            response.ContentType = "application/json";
            await response.OutputStream.WriteAsync(body);
        }
    }

    private string Jwt(JsonArray access)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = new JsonObject { ["typ"] = "JWT", ["alg"] = "RS256", ["x5c"] = new JsonArray(Convert.ToBase64String(certificate.RawData)) };
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["sub"] = TestRegistry.User,
            ["aud"] = Service,
            ["exp"] = now + 300,
            ["nbf"] = now - 10,
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        };
        var signingInput = B64(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + B64(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + B64(signature);
    }

    private static string B64(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
