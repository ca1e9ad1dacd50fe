using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Containers.Orchestration.Api.Kinds;
using Containers.Orchestration.Controllers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// The built-in Ingress controller (as ingress-nginx on the node's host ports): serves the Ingresses of its class
/// (<see cref="ClassName"/>, the default class, made when no class names this controller) on an HTTP and an HTTPS
/// port. A request is routed by host (exact, then a <c>*.domain</c> wildcard of one label, then rules without a host)
/// and path (Exact first, then the longest Prefix by path elements; ImplementationSpecific as Prefix) to a Service,
/// and forwarded (YARP's forwarder: streaming, WebSockets, the original Host and X-Forwarded-* headers) to one of the
/// Service's ready endpoints in turn; no rule falls to the default backend, else 404; no endpoint is 503. TLS takes
/// the certificate of the Secret named by the Ingress's tls entry for the requested name (SNI), else a self-signed
/// fallback. Ingresses get the node's address in their status; a missing Service or Secret is a Warning event.
/// </summary>
public sealed class IngressProxy : IAsyncDisposable
{
    /// <summary>The controller name the IngressClass of this controller carries.</summary>
    public const string ControllerName = "containers.dev/ingress";

    /// <summary>The IngressClass made for this controller (the default class).</summary>
    public const string ClassName = "containers";

    private readonly ObjectApi api;
    private readonly Informer ingresses;
    private readonly Informer services;
    private readonly Informer endpoints;
    private readonly Informer classes;
    private readonly string address;
    private readonly ILogger logger;
    private readonly ConcurrentDictionary<(string Ns, string Name, string Rv), X509Certificate2?> certificates = new();
    private readonly ConcurrentDictionary<string, byte> reported = new(StringComparer.Ordinal);
    private readonly Lazy<X509Certificate2> fallback = new(Fallback);
    private readonly HttpMessageInvoker client = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(5) });
    private WebApplication? app;
    private int next;

    private IngressProxy(ObjectApi api, InformerSet informers, string address, ILogger logger)
    {
        this.api = api;
        this.address = address;
        this.logger = logger;
        ingresses = informers.For(IngressStrategy.Type);
        services = informers.For(ResourceType.Services);
        endpoints = informers.For(ResourceType.Endpoints);
        classes = informers.For(IngressClassStrategy.Type);
        ingresses.OnChange((_, ing) => Sync(ing));
        services.OnChange((_, _) => SyncAll());
    }

    /// <summary>The HTTP port bound (null when none is served).</summary>
    public int? HttpPort { get; private set; }

    /// <summary>The HTTPS port bound (null when none is served).</summary>
    public int? HttpsPort { get; private set; }

    /// <summary>
    /// Serves Ingresses on <paramref name="httpPort"/> and <paramref name="httpsPort"/> of every address (0: a free
    /// port; null: not served), writing <paramref name="address"/> into their status. A port in use is a
    /// <see cref="ContainerConflictException"/> naming it.
    /// </summary>
    public static async Task<IngressProxy> StartAsync(ObjectApi api, InformerSet informers, int? httpPort, int? httpsPort, string address, ILogger logger, CancellationToken cancellationToken = default)
    {
        var proxy = new IngressProxy(api, informers, address, logger);
        await Task.WhenAll(proxy.ingresses.Synced, proxy.services.Synced, proxy.endpoints.Synced, proxy.classes.Synced).WaitAsync(cancellationToken).ConfigureAwait(false);
        proxy.EnsureClass();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            if (httpPort is { } http)
            {
                k.Listen(IPAddress.Any, http);
            }

            if (httpsPort is { } https)
            {
                k.Listen(IPAddress.Any, https, lo => lo.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
                {
                    ServerCertificateSelector = (_, name) => proxy.CertificateFor(name),
                }));
            }
        });
        builder.Services.AddHttpForwarder();
        var app = builder.Build();
        app.UseWebSockets();
        var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
        app.Run(http => proxy.ServeAsync(http, forwarder));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new ContainerConflictException($"cannot serve Ingresses on ports {httpPort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} (HTTP) and {httpsPort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} (HTTPS): a port is already in use ({e.InnerException.Message})");
        }

        proxy.app = app;
        var ports = app.Urls.Select(u => new Uri(u)).ToList();
        proxy.HttpPort = httpPort is null ? null : ports.First(u => u.Scheme == "http").Port;
        proxy.HttpsPort = httpsPort is null ? null : ports.First(u => u.Scheme == "https").Port;
        proxy.SyncAll();
        return proxy;
    }

    /// <summary>Stops serving.</summary>
    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync().ConfigureAwait(false);
        }

        client.Dispose();
    }

    private void EnsureClass()
    {
        if (classes.List().Any(c => Json.Str(c, "spec", "controller") == ControllerName))
        {
            return;
        }

        try
        {
            api.Create(IngressClassStrategy.Type, null, new JsonObject
            {
                ["apiVersion"] = "networking.k8s.io/v1",
                ["kind"] = "IngressClass",
                ["metadata"] = new JsonObject
                {
                    ["name"] = ClassName,
                    ["annotations"] = new JsonObject { [IngressClassStrategy.DefaultAnnotation] = "true" },
                },
                ["spec"] = new JsonObject { ["controller"] = ControllerName },
            });
        }
        catch (ApiException e) when (e.Code == 409)
        {
        }
    }

    /// <summary>Whether this controller serves <paramref name="ing"/>: its class names this controller, or it names none and this controller's class is the default.</summary>
    private bool Ours(JsonObject ing)
    {
        string? name = Json.Str(ing, "spec", "ingressClassName") ?? Json.Map(ing, "metadata", "annotations").GetValueOrDefault("kubernetes.io/ingress.class");
        if (name is null)
        {
            return classes.List().Any(c => Json.Str(c, "spec", "controller") == ControllerName && Json.Map(c, "metadata", "annotations").GetValueOrDefault(IngressClassStrategy.DefaultAnnotation) == "true");
        }

        return classes.Get(null, name) is { } cls && Json.Str(cls, "spec", "controller") == ControllerName;
    }

    private void SyncAll()
    {
        foreach (var ing in ingresses.List())
        {
            Sync(ing);
        }
    }

    /// <summary>The status address of one of ours, and a Warning event for each Service or Secret it names that does not exist.</summary>
    private void Sync(JsonObject? ing)
    {
        if (ing is null || app is null || !Ours(ing))
        {
            return;
        }

        string ns = Json.Namespace(ing) ?? "default";
        try
        {
            var backends = Json.Items(ing, "spec", "rules").SelectMany(r => Json.Items(r, "http", "paths")).Select(p => Json.At(p, "backend") as JsonObject)
                .Append(Json.At(ing, "spec", "defaultBackend") as JsonObject).OfType<JsonObject>();
            foreach (string service in backends.Select(b => Json.Str(b, "service", "name")).OfType<string>().Distinct())
            {
                if (services.Get(ns, service) is null)
                {
                    Report(ing, "ServiceNotFound", $"service \"{ns}/{service}\" not found");
                }
            }

            foreach (string secret in Json.Items(ing, "spec", "tls").Select(t => Json.Str(t, "secretName")).OfType<string>().Distinct())
            {
                if (api.TryGet(ResourceType.Secrets, ns, secret) is null)
                {
                    Report(ing, "SecretNotFound", $"secret \"{ns}/{secret}\" not found: the fallback certificate is served");
                }
            }

            var wanted = new JsonArray(new JsonObject { ["ip"] = address });
            if (!JsonNode.DeepEquals(Json.At(ing, "status", "loadBalancer", "ingress"), wanted))
            {
                api.Mutate(IngressStrategy.Type, ns, Json.Name(ing), o =>
                {
                    Json.Obj(o, "status", "loadBalancer")["ingress"] = wanted.DeepClone();
                    return true;
                }, "status");
            }
        }
#pragma warning disable CA1031 // the next change tries again; serving goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            logger.LogWarning(e, "syncing ingress {Namespace}/{Name} failed", ns, Json.Name(ing));
        }
    }

    private void Report(JsonObject ing, string reason, string message)
    {
        if (reported.TryAdd($"{Json.Uid(ing)}/{Json.Str(ing, "metadata", "generation")}/{reason}/{message}", 0))
        {
            api.RecordEvent(ing, "Warning", reason, message, "ingress-controller");
        }
    }

    private async Task ServeAsync(HttpContext http, IHttpForwarder forwarder)
    {
        string host = http.Request.Host.Host.ToLowerInvariant();
        string path = http.Request.Path.HasValue ? http.Request.Path.Value! : "/";
        if (Route(host, path) is not { } route)
        {
            await Plain(http, 404, "404 Not Found: no Ingress rule matches this host and path\n").ConfigureAwait(false);
            return;
        }

        var (ns, backend) = route;
        string service = Json.Str(backend, "service", "name") ?? "";
        if (services.Get(ns, service) is not { } svc || Destination(ns, svc, backend) is not { } destination)
        {
            await Plain(http, 503, $"503 Service Unavailable: no ready endpoint of service {ns}/{service}\n").ConfigureAwait(false);
            return;
        }

        var error = await forwarder.SendAsync(http, destination, client, ForwarderRequestConfig.Empty, Forwarded.Instance).ConfigureAwait(false);
        if (error != ForwarderError.None && !http.Response.HasStarted)
        {
            await Plain(http, 502, $"502 Bad Gateway: {error} from {destination}\n").ConfigureAwait(false);
        }
    }

    private static Task Plain(HttpContext http, int code, string text)
    {
        http.Response.StatusCode = code;
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync(text);
    }

    /// <summary>The backend for a request, with its Ingress's namespace (see the class summary for the order).</summary>
    internal (string Ns, JsonObject Backend)? Route(string host, string path)
    {
        var ours = ingresses.List().Where(Ours).OrderBy(i => Json.Str(i, "metadata", "creationTimestamp"), StringComparer.Ordinal).ToList();
        foreach (int pass in (int[])[0, 1, 2])
        {
            // pass 0: rules for the exact host, 1: a wildcard host, 2: rules without a host
            (string Ns, JsonObject Backend, int Rank, int Length)? best = null;
            foreach (var ing in ours)
            {
                foreach (var rule in Json.Items(ing, "spec", "rules"))
                {
                    string? ruleHost = Json.Str(rule, "host");
                    bool matches = pass switch
                    {
                        0 => ruleHost is not null && !ruleHost.StartsWith("*.", StringComparison.Ordinal) && ruleHost == host,
                        1 => ruleHost is not null && ruleHost.StartsWith("*.", StringComparison.Ordinal) && host.EndsWith(ruleHost[1..], StringComparison.Ordinal)
                             && !host[..^(ruleHost.Length - 1)].Contains('.', StringComparison.Ordinal) && host.Length > ruleHost.Length - 1,
                        _ => ruleHost is null,
                    };
                    if (!matches)
                    {
                        continue;
                    }

                    foreach (var p in Json.Items(rule, "http", "paths"))
                    {
                        string rulePath = Json.Str(p, "path") ?? "/";
                        bool exact = Json.Str(p, "pathType") == "Exact";
                        int rank = exact ? 1 : 0;
                        bool hit = exact ? path == rulePath : PrefixMatches(rulePath, path);
                        if (hit && Json.At(p, "backend") is JsonObject backend && (best is null || (rank, rulePath.Length).CompareTo((best.Value.Rank, best.Value.Length)) > 0))
                        {
                            best = (Json.Namespace(ing) ?? "default", backend, rank, rulePath.Length);
                        }
                    }
                }
            }

            if (best is { } b)
            {
                return (b.Ns, b.Backend);
            }
        }

        return ours.FirstOrDefault(i => Json.At(i, "spec", "defaultBackend") is JsonObject) is { } withDefault
            ? (Json.Namespace(withDefault) ?? "default", (JsonObject)Json.At(withDefault, "spec", "defaultBackend")!)
            : null;
    }

    /// <summary>Prefix matching by path elements: /foo matches /foo, /foo/ and /foo/bar, never /foobar.</summary>
    private static bool PrefixMatches(string prefix, string path)
    {
        string trimmed = prefix.TrimEnd('/');
        return trimmed.Length == 0 || path == trimmed || path.StartsWith(trimmed + "/", StringComparison.Ordinal);
    }

    /// <summary>The next ready endpoint of the Service port the backend names, as http://IP:PORT/.</summary>
    private string? Destination(string ns, JsonObject svc, JsonObject backend)
    {
        long? number = Json.Int(backend, "service", "port", "number");
        string? name = Json.Str(backend, "service", "port", "name");
        var port = Json.Items(svc, "spec", "ports").FirstOrDefault(p => number is not null ? Json.Int(p, "port") == number : Json.Str(p, "name") == name);
        if (port is null)
        {
            return null;
        }

        string? portName = Json.Str(port, "name");
        var targets = new List<string>();
        foreach (var subset in Json.Items(endpoints.Get(ns, Json.Name(svc)), "subsets"))
        {
            var ep = Json.Items(subset, "ports").FirstOrDefault(p => portName is null || Json.Str(p, "name") == portName);
            if (ep is null || Json.Int(ep, "port") is not { } target)
            {
                continue;
            }

            targets.AddRange(Json.Items(subset, "addresses").Select(a => Json.Str(a, "ip")).OfType<string>()
                .Select(ip => $"http://{(ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip)}:{target}/"));
        }

        return targets.Count == 0 ? null : targets[(int)((uint)Interlocked.Increment(ref next) % (uint)targets.Count)];
    }

    /// <summary>The certificate for an SNI name: the Secret of an Ingress's tls entry naming the host, else the fallback.</summary>
    private X509Certificate2 CertificateFor(string? name)
    {
        string host = (name ?? "").ToLowerInvariant();
        foreach (var ing in ingresses.List().Where(Ours))
        {
            foreach (var tls in Json.Items(ing, "spec", "tls"))
            {
                var hosts = (Json.At(tls, "hosts") as JsonArray)?.Select(h => h?.ToString() ?? "").ToList() ?? [];
                bool covers = hosts.Any(h => h == host || (h.StartsWith("*.", StringComparison.Ordinal) && host.EndsWith(h[1..], StringComparison.Ordinal) && !host[..^(h.Length - 1)].Contains('.', StringComparison.Ordinal)));
                if (covers && Json.Str(tls, "secretName") is { } secretName && SecretCertificate(Json.Namespace(ing) ?? "default", secretName) is { } cert)
                {
                    return cert;
                }
            }
        }

        return fallback.Value;
    }

    private X509Certificate2? SecretCertificate(string ns, string name)
    {
        if (api.TryGet(ResourceType.Secrets, ns, name) is not { } secret)
        {
            return null;
        }

        return certificates.GetOrAdd((ns, name, Json.Str(secret, "metadata", "resourceVersion") ?? ""), _ =>
        {
            try
            {
                string crt = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Json.Str(secret, "data", "tls.crt") ?? ""));
                string key = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Json.Str(secret, "data", "tls.key") ?? ""));
                using var pem = X509Certificate2.CreateFromPem(crt, key);
                return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null); // a key Kestrel can use on any platform
            }
#pragma warning disable CA1031 // a bad secret serves the fallback certificate, as ingress-nginx does
            catch (Exception e)
#pragma warning restore CA1031
            {
                logger.LogWarning(e, "the certificate of secret {Namespace}/{Name} cannot be used", ns, name);
                return null;
            }
        });
    }

    /// <summary>ingress-nginx's fallback: a self-signed "Kubernetes Ingress Controller Fake Certificate".</summary>
    private static X509Certificate2 Fallback()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Kubernetes Ingress Controller Fake Certificate, O=Acme Co", key, HashAlgorithmName.SHA256);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(1));
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>The request as ingress-nginx passes it on: the original Host, and X-Forwarded-For, -Host and -Proto.</summary>
    private sealed class Forwarded : HttpTransformer
    {
        public static readonly Forwarded Instance = new();

        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
            proxyRequest.Headers.Host = httpContext.Request.Host.Value;
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-For", httpContext.Connection.RemoteIpAddress?.ToString());
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Host", httpContext.Request.Host.Value);
            proxyRequest.Headers.TryAddWithoutValidation("X-Forwarded-Proto", httpContext.Request.Scheme);
        }
    }
}
