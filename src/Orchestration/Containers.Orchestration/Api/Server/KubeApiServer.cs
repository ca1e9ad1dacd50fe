using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Api;

/// <summary>
/// Kubernetes' HTTP API over an <see cref="ObjectApi"/> on 127.0.0.1: discovery (/version, /api, /apis and group
/// versions), get/list/watch/create/update/patch/delete/deletecollection with label and field selectors, the status and
/// scale subresources, pods/log and pods/eviction, and Table output for <c>kubectl get</c>. Errors are Status objects.
/// </summary>
public sealed class KubeApiServer : IAsyncDisposable
{
    /// <summary>The Kubernetes version announced.</summary>
    public const string KubernetesVersion = "v1.32.0";

    private readonly WebApplication app;

    private KubeApiServer(WebApplication app, int port, ApiAccess? access)
    {
        this.app = app;
        Port = port;
        Access = access;
    }

    /// <summary>Who may call it and how they prove it; null when it serves plain HTTP to anyone (a test double's API).</summary>
    public ApiAccess? Access { get; }

    /// <summary>The certificates it serves and authenticates with; null when it serves plain HTTP (a test double's API).</summary>
    public ClusterPki? Pki => Access?.Pki;

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>The URL kubectl points at.</summary>
    public string Url => $"{(Pki is null ? "http" : "https")}://127.0.0.1:{Port}";

    /// <summary>
    /// Starts serving <paramref name="api"/> on 127.0.0.1:<paramref name="port"/> (0 = any free port). With
    /// <paramref name="access"/> it serves HTTPS only with its certificates and authenticates callers by client
    /// certificates that chain to the cluster CA (kube-apiserver's x509 authentication: CN is the user, O the groups),
    /// static tokens and service-account tokens; anonymous requests get 401, but for /healthz, /livez, /readyz and
    /// /version; every request is then authorized (Node, RBAC; 403 Forbidden) and, when it keeps one, written to the
    /// audit log. Throws <see cref="ContainerConflictException"/> naming the port when something else listens there.
    /// </summary>
    public static async Task<KubeApiServer> StartAsync(ObjectApi api, int port, IPodStreams? logs = null, CancellationToken cancellationToken = default, ApiAccess? access = null, System.Net.IPAddress? bindAddress = null)
    {
        var listen = bindAddress ?? System.Net.IPAddress.Loopback;
        var pki = access?.Pki;
        // an empty builder: no appsettings.json or ASPNETCORE_ variables from the hosting process (whose Kestrel endpoints
        // must not become the API server's), and no watch on the working directory for configuration changes
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(listen, port, lo =>
        {
            if (pki is not null)
            {
                lo.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
                {
                    ServerCertificate = pki.Server,
                    ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true, // checked per request: a bad certificate is a 401, as kube-apiserver's
                });
            }
        }));
        builder.Services.AddRoutingCore();
        builder.Services.AddHttpForwarder(); // pods' streams on other machines' nodes
        var app = builder.Build();
        app.UseWebSockets(); // pods/exec (channel.k8s.io v5/v4)
        if (access?.Audit is { } audit)
        {
            app.Use(async (http, next) =>
            {
                var received = api.Time.GetUtcNow();
                try
                {
                    await next(http).ConfigureAwait(false);
                }
                finally
                {
                    audit.Record(http, received);
                }
            });
        }

        if (access is not null)
        {
            app.Use((http, next) => Authentication.AuthenticateAsync(access, http, next));
            app.MapGet("/openid/v1/jwks", http => ApiHttp.WriteAsync(http, 200, access.Tokens.Jwks()));
        }

        app.Use(StatusErrorsAsync);
        app.UseRouting();
        DiscoveryEndpoints.Map(app);
        new PodStreamEndpoints(api, logs).Map(app);
        new ResourceEndpoints(api, access is null ? null : new ReviewEndpoints(api, access)).Map(app);
        app.MapFallback(_ => throw ApiHttp.NotServed());
        int bound = await StartOrConflictAsync(app, $"the Kubernetes API on {listen}:{port}", cancellationToken).ConfigureAwait(false);
        return new KubeApiServer(app, bound, access);
    }

    /// <summary>
    /// Starts <paramref name="app"/> and returns the port it listens on; a port in use disposes it and throws
    /// <see cref="ContainerConflictException"/> naming <paramref name="what"/>.
    /// </summary>
    internal static async Task<int> StartOrConflictAsync(WebApplication app, string what, CancellationToken cancellationToken)
    {
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new ContainerConflictException($"cannot serve {what}: the port is already in use (choose another port)");
        }

        return new Uri(app.Urls.First()).Port;
    }

    /// <summary>
    /// Writes a kubeconfig for this server to <paramref name="path"/> (context <paramref name="contextName"/>), mode
    /// 0600: the cluster CA and the admin's client certificate and key, when the server has certificates; the server
    /// URL is <paramref name="serverUrl"/> when given (a virtual IP's), else this server's on 127.0.0.1.
    /// </summary>
    public string WriteKubeconfig(string path, string contextName = "containers-dotnet", string? serverUrl = null) =>
        Kubeconfig.Write(path, serverUrl ?? Url, Pki is { } p ? ClusterPki.Pem(p.Authority) : null, Pki?.Admin, contextName);

    /// <summary>Answers errors as Kubernetes' Status objects: an <see cref="ApiException"/> with its code, the engine's errors by their <see cref="ErrorKind"/>, anything else as 500.</summary>
    internal static async Task StatusErrorsAsync(HttpContext http, RequestDelegate next)
    {
        try
        {
            await next(http).ConfigureAwait(false);
        }
        catch (ApiException e) when (!http.Response.HasStarted)
        {
            await ApiHttp.WriteAsync(http, e.Code, e.ToStatus()).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException && !http.Response.HasStarted)
        {
            // the engine's errors by their kind, from the one table the Docker API uses too
            var kind = ErrorKinds.Of(e);
            int code = ErrorKinds.HttpStatus(kind);
            await ApiHttp.WriteAsync(http, code, new ApiException(code, ErrorKinds.KubernetesReason(kind), e.Message).ToStatus()).ConfigureAwait(false);
        }
    }

    /// <summary>Stops serving (open watches end).</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
