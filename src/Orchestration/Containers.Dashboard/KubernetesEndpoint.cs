using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace Containers.Dashboard;

/// <summary>A Kubernetes API server as a kubeconfig's current context names it: its URL, the CA it chains to, and the user's credentials.</summary>
internal sealed class KubernetesEndpoint : IDisposable
{
    private readonly X509Certificate2? clientCertificate;
    private readonly X509Certificate2Collection trust = [];
    private readonly Func<string?> bearerToken;
    private readonly bool insecure;

    /// <summary>Where a pod finds its service account's token, its cluster's CA and its namespace.</summary>
    public const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>
    /// The cluster this process runs in, as client-go's rest.InClusterConfig finds it: KUBERNETES_SERVICE_HOST and
    /// _PORT, the service account's CA, and its token (read again each minute: projected tokens are rotated).
    /// </summary>
    public static KubernetesEndpoint InCluster()
    {
        string host = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") ?? throw new InvalidOperationException("not in a pod: KUBERNETES_SERVICE_HOST is not set");
        string port = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT") ?? "443";
        string tokenFile = Path.Combine(ServiceAccountDirectory, "token");
        if (!File.Exists(tokenFile))
        {
            throw new InvalidOperationException($"{tokenFile}: no such file (is the pod's service account token mounted?)");
        }

        string? token = null;
        var read = DateTime.MinValue;
        var gate = new Lock();
        string? Token()
        {
            lock (gate)
            {
                if (DateTime.UtcNow - read > TimeSpan.FromMinutes(1))
                {
                    token = File.ReadAllText(tokenFile).Trim();
                    read = DateTime.UtcNow;
                }

                return token;
            }
        }

        var server = new Uri($"https://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{port}/");
        return new KubernetesEndpoint(server, File.ReadAllText(Path.Combine(ServiceAccountDirectory, "ca.crt")), null, Token);
    }

    private KubernetesEndpoint(Uri server, string? caPem, X509Certificate2? client, Func<string?> token)
    {
        Server = server;
        if (caPem is not null)
        {
            trust.ImportFromPem(caPem);
        }

        clientCertificate = client;
        bearerToken = token;
        Http = NewClient();
    }

    public KubernetesEndpoint(string kubeconfigPath)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(kubeconfigPath))
        {
            yaml.Load(reader);
        }

        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        string? current = Scalar(root, "current-context");
        var context = Named(root, "contexts", current, "context") ?? throw new InvalidDataException($"{kubeconfigPath}: no context '{current}'");
        var cluster = Named(root, "clusters", Scalar(context, "cluster"), "cluster") ?? throw new InvalidDataException($"{kubeconfigPath}: the context's cluster is not in 'clusters'");
        var user = Named(root, "users", Scalar(context, "user"), "user");
        Server = new Uri((Scalar(cluster, "server") ?? throw new InvalidDataException($"{kubeconfigPath}: the cluster has no 'server'")).TrimEnd('/') + "/");
        string dir = Path.GetDirectoryName(Path.GetFullPath(kubeconfigPath))!;
        string? Read(YamlMappingNode? node, string dataKey, string fileKey) =>
            node is null ? null
            : Scalar(node, dataKey) is { } data ? Encoding.UTF8.GetString(Convert.FromBase64String(data))
            : Scalar(node, fileKey) is { } file ? File.ReadAllText(Path.Combine(dir, file))
            : null;
        if (Read(cluster, "certificate-authority-data", "certificate-authority") is { } ca)
        {
            trust.ImportFromPem(ca);
        }

        insecure = Scalar(cluster, "insecure-skip-tls-verify") == "true";
        if (Read(user, "client-certificate-data", "client-certificate") is { } cert && Read(user, "client-key-data", "client-key") is { } key)
        {
            using var pem = X509Certificate2.CreateFromPem(cert, key);
            clientCertificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null); // a key the TLS stack can use
        }

        string? staticToken = user is null ? null : Scalar(user, "token");
        bearerToken = () => staticToken;
        Http = NewClient();
    }

    private HttpClient NewClient()
    {
        var handler = new SocketsHttpHandler { UseProxy = false, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30), SslOptions = { RemoteCertificateValidationCallback = Validate } };
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
        }

        return new HttpClient(new BearerHandler(bearerToken) { InnerHandler = handler }) { BaseAddress = Server, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Puts the current bearer token (if any) on each request.</summary>
    private sealed class BearerHandler(Func<string?> token) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (token() is { } value)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", value);
            }

            return base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>The API server's URL.</summary>
    public Uri Server { get; }

    /// <summary>Requests to the API server (paths relative to its root), authenticated as the kubeconfig's user.</summary>
    public HttpClient Http { get; }

    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None || insecure)
        {
            return true;
        }

        if (certificate is null || trust.Count == 0 || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(trust);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    /// <summary>Opens a WebSocket to <paramref name="pathAndQuery"/> speaking Kubernetes' remote command protocol (v4.channel.k8s.io).</summary>
    public async Task<ClientWebSocket> OpenChannelAsync(string pathAndQuery, CancellationToken ct)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("v4.channel.k8s.io");
        socket.Options.RemoteCertificateValidationCallback = Validate;
        if (clientCertificate is not null)
        {
            socket.Options.ClientCertificates = [clientCertificate];
        }

        if (bearerToken() is { } token)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        }

        var uri = new UriBuilder(new Uri(Server, pathAndQuery)) { Scheme = Server.Scheme == "https" ? "wss" : "ws" }.Uri;
        try
        {
            await socket.ConnectAsync(uri, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode s ? s.Value : null;

    /// <summary>The <paramref name="inner"/> mapping of the entry of list <paramref name="list"/> named <paramref name="name"/>.</summary>
    private static YamlMappingNode? Named(YamlMappingNode root, string list, string? name, string inner)
    {
        if (name is null || !root.Children.TryGetValue(new YamlScalarNode(list), out var items) || items is not YamlSequenceNode seq)
        {
            return null;
        }

        foreach (var item in seq.OfType<YamlMappingNode>())
        {
            if (Scalar(item, "name") == name && item.Children.TryGetValue(new YamlScalarNode(inner), out var value) && value is YamlMappingNode m)
            {
                return m;
            }
        }

        return null;
    }

    public void Dispose()
    {
        Http.Dispose();
        clientCertificate?.Dispose();
    }
}
