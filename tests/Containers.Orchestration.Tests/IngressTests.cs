using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>
/// The built-in Ingress controller through the real kubectl: two hosts routed to two Services (whose Endpoints name
/// HTTP servers of this test on the loopback), a path rule, TLS with a Secret's certificate chosen by SNI, and events
/// for a missing Service and Secret.
/// </summary>
public sealed class IngressTests : ClusterTestRoot
{
    private readonly CancellationTokenSource stop = new();

    public IngressTests()
        : base("ingress")
    {
    }

    public override async Task DisposeAsync()
    {
        await stop.CancelAsync();
        stop.Dispose();
        await base.DisposeAsync();
    }

    /// <summary>A tiny HTTP server on the loopback answering "NAME HOST PATH" to every request; returns its port.</summary>
    private int Backend(string name)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = Task.Run(async () =>
        {
            using (listener)
            {
                while (!stop.IsCancellationRequested)
                {
                    using var socket = await listener.AcceptSocketAsync(stop.Token);
                    await using var stream = new NetworkStream(socket);
                    using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
                    string path = (await reader.ReadLineAsync())?.Split(' ')[1] ?? "";
                    string host = "";
                    for (string? line; !string.IsNullOrEmpty(line = await reader.ReadLineAsync());)
                    {
                        if (line.StartsWith("Host:", StringComparison.OrdinalIgnoreCase))
                        {
                            host = line[5..].Trim();
                        }
                    }

                    byte[] body = Encoding.UTF8.GetBytes($"{name} {host} {path}");
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                    await stream.WriteAsync(body);
                }
            }
        });
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string ServiceWithEndpoints(string name, int port) => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
        spec:
          ports:
          - port: 80
            targetPort: {port}
        ---
        apiVersion: v1
        kind: Endpoints
        metadata:
          name: {name}
        subsets:
        - addresses:
          - ip: 127.0.0.1
          ports:
          - port: {port}
        ---

        """;

    [Fact]
    public async Task An_ingress_routes_two_hosts_to_two_services_and_serves_tls_with_the_secrets_certificate()
    {
        await using var cluster = await new ClusterBuilder(Root).WithNodes(1).WithPort(0).WithRuntime(new RecordingPodRuntime()).WithIngress(0, 0).StartAsync();
        var k = new Kubectl(cluster.KubeconfigPath);
        Assert.Contains("containers.dev/ingress", await k.RunAsync("get", "ingressclass"), StringComparison.Ordinal);

        // a certificate for b.example.com, as a tls Secret
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=b.example.com", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(Path.Combine(Root, "tls.crt"), cert.ExportCertificatePem());
        File.WriteAllText(Path.Combine(Root, "tls.key"), key.ExportPkcs8PrivateKeyPem());
        await k.RunAsync("create", "secret", "tls", "b-tls", "--cert", Path.Combine(Root, "tls.crt"), "--key", Path.Combine(Root, "tls.key"));

        await k.RunAsync("apply", "-f", Manifest("web", ServiceWithEndpoints("a", Backend("A")) + ServiceWithEndpoints("b", Backend("B")) + """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: web
            spec:
              tls:
              - hosts: [b.example.com]
                secretName: b-tls
              rules:
              - host: a.example.com
                http:
                  paths:
                  - path: /
                    pathType: Prefix
                    backend:
                      service: {name: a, port: {number: 80}}
              - host: b.example.com
                http:
                  paths:
                  - path: /api
                    pathType: Prefix
                    backend:
                      service: {name: b, port: {number: 80}}
                  - path: /exact
                    pathType: Exact
                    backend:
                      service: {name: a, port: {number: 80}}
            """));
        await k.WaitForAsync("127.0.0.1", TimeSpan.FromSeconds(30), "get", "ingress", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}");
        Assert.Matches(@"web\s+<none>\s+a.example.com,b.example.com\s+127.0.0.1\s+80, 443", await k.RunAsync("get", "ingress"));

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        async Task<(HttpStatusCode, string)> GetAsync(string host, string path)
        {
            using var message = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{cluster.Ingress!.HttpPort}{path}");
            message.Headers.Host = host;
            using var response = await http.SendAsync(message);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal((HttpStatusCode.OK, "A a.example.com /"), await GetAsync("a.example.com", "/"));
        Assert.Equal((HttpStatusCode.OK, "B b.example.com /api/users?x=1"), await GetAsync("b.example.com", "/api/users?x=1"));
        Assert.Equal((HttpStatusCode.OK, "A b.example.com /exact"), await GetAsync("b.example.com", "/exact"));
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("b.example.com", "/apiary")).Item1); // prefixes match whole path elements
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("c.example.com", "/")).Item1);

        // https://b.example.com: the Secret's certificate, by SNI
        X509Certificate2? presented = null;
        using var https = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, cluster.Ingress!.HttpsPort!.Value, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = { RemoteCertificateValidationCallback = (_, c, _, _) => { presented = c is null ? null : new X509Certificate2(c); return true; } },
        });
        Assert.Equal("B b.example.com /api/v1", await https.GetStringAsync("https://b.example.com/api/v1"));
        Assert.Equal("CN=b.example.com", presented?.Subject);
        presented?.Dispose();

        // an Ingress naming a missing Service and Secret: events say so, and its requests get 503
        await k.RunAsync("apply", "-f", Manifest("broken", """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: broken
            spec:
              tls:
              - hosts: [c.example.com]
                secretName: gone
              rules:
              - host: c.example.com
                http:
                  paths:
                  - path: /
                    pathType: Prefix
                    backend:
                      service: {name: nope, port: {number: 80}}
            """));
        await k.WaitForAsync("SecretNotFound ServiceNotFound", TimeSpan.FromSeconds(30), "get", "events", "--field-selector", "involvedObject.name=broken", "--sort-by=.reason", "-o", "jsonpath={.items[*].reason}");
        Assert.Contains("service \"default/nope\" not found", await k.RunAsync("describe", "ingress", "broken"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync("c.example.com", "/")).Item1);

        // bad input: a path type that does not exist, named
        var (code, _, err) = await k.TryAsync("apply", "-f", Manifest("bad", """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: bad
            spec:
              rules:
              - http:
                  paths:
                  - path: /
                    pathType: Regex
                    backend:
                      service: {name: a, port: {number: 80}}
            """));
        Assert.NotEqual(0, code);
        Assert.Contains("spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\"", err, StringComparison.Ordinal);
    }
}
