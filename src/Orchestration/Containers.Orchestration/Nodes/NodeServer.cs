using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// The kubelet's own HTTPS endpoint on a machine's LAN address (port 10250): the logs, exec, attach and port-forward
/// of the pods its node agents run, for API servers on other machines, which forward those requests here, and the
/// Summary API (<c>/stats/summary</c>) their metrics are read from. Only a
/// client certificate of the cluster CA for <c>kube-apiserver-kubelet-client</c> (or <c>system:masters</c>) is let
/// in, as the kubelet with <c>--client-ca-file</c>. It serves with a certificate it makes for itself at start (as a
/// kubelet without a serving certificate does).
/// </summary>
public sealed class NodeServer : IAsyncDisposable
{
    /// <summary>The user API servers reach nodes as (kubeadm's apiserver-kubelet-client certificate).</summary>
    public const string ApiServerUser = "kube-apiserver-kubelet-client";

    /// <summary>The kubelet's port.</summary>
    public const int DefaultPort = 10250;

    private readonly WebApplication app;

    private NodeServer(WebApplication app, int port)
    {
        this.app = app;
        Port = port;
    }

    /// <summary>The port it listens on.</summary>
    public int Port { get; }

    /// <summary>Starts serving <paramref name="streams"/> on <paramref name="address"/>:<paramref name="port"/>; callers must present a certificate of <paramref name="authority"/>.</summary>
    public static async Task<NodeServer> StartAsync(ObjectApi api, IPodStreams streams, IPAddress address, int port, X509Certificate2 authority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        var serving = SelfSigned(address);
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(address, port, lo => lo.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
        {
            ServerCertificate = serving,
            ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate,
            ClientCertificateValidation = (certificate, _, _) => Admitted(certificate, authority),
        })));
        builder.Services.AddRoutingCore();
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        app.UseWebSockets();
        app.Use(KubeApiServer.StatusErrorsAsync);
        app.UseRouting();
        app.MapGet("/healthz", (RequestDelegate)(http => http.Response.WriteAsync("ok")));
        new PodStreamEndpoints(api, streams).Map(app);
        app.MapGet("/stats/summary", (RequestDelegate)(async http =>
        {
            // the kubelet's Summary API (what metrics-server read): the usage of this machine's node, named by ?node= when it has several
            string? node = http.Request.Query["node"].FirstOrDefault() ?? api.Metrics.Nodes().Select(n => n.Name).SingleOrDefault();
            var summary = node is null ? null : NodeSummary.Of(api.Metrics, node);
            await ApiHttp.WriteAsync(http, summary is null ? 404 : 200, summary ?? ApiException.NotFound(ResourceType.Nodes, node ?? "").ToStatus()).ConfigureAwait(false);
        }));
        app.MapFallback(_ => throw ApiHttp.NotServed());
        return new NodeServer(app, await KubeApiServer.StartOrConflictAsync(app, $"the node's endpoint on {address}:{port}", cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Where <paramref name="node"/>'s endpoint answers (its InternalIP and the kubelet port it reports), or null when it reports no address.</summary>
    public static Uri? EndpointOf(JsonObject node)
    {
        if (Json.Items(node, "status", "addresses").FirstOrDefault(a => Json.Str(a, "type") == "InternalIP") is not { } address || Json.Str(address, "address") is not { } ip)
        {
            return null;
        }

        long port = Json.Int(node, "status", "daemonEndpoints", "kubeletEndpoint", "Port") ?? DefaultPort;
        return new Uri($"https://{(ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip)}:{port}");
    }

    /// <summary>The HTTP client an API server reaches nodes with: its client certificate; the nodes' own certificates are not checked (as kube-apiserver without --kubelet-certificate-authority).</summary>
    public static HttpMessageInvoker Client(X509Certificate2 certificate) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        SslOptions = new System.Net.Security.SslClientAuthenticationOptions
        {
            ClientCertificates = [certificate],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        },
    });

    private static bool Admitted(X509Certificate2 certificate, X509Certificate2 authority)
    {
        if (!ClusterPki.Chains(certificate, authority))
        {
            return false;
        }

        var groups = certificate.SubjectName.EnumerateRelativeDistinguishedNames().Where(r => r.GetSingleElementType().Value == "2.5.4.10").Select(r => r.GetSingleElementValue());
        return certificate.GetNameInfo(X509NameType.SimpleName, false) == ApiServerUser || groups.Contains(Authorizer.SuperuserGroup);
    }

    private static X509Certificate2 SelfSigned(IPAddress address)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={address}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(address);
        request.CertificateExtensions.Add(san.Build());
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null); // Kestrel needs a key it can use for TLS
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
