using System.Net;
using Containers.Compose;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Containers.Dashboard;

/// <summary>Hosting the dashboard in an ASP.NET Core app: <c>services.AddContainersDashboard(...)</c>, then <c>app.MapContainersDashboard()</c>.</summary>
public static class DashboardEndpoints
{
    /// <summary>The session cookie's name.</summary>
    public const string SessionCookie = "containers_dashboard_session";

    /// <summary>The header a page's state-changing requests carry their session's CSRF token in.</summary>
    public const string CsrfHeader = "X-CSRF-Token";

    /// <summary>Adds a dashboard's state (its endpoints come up with the host) for <see cref="MapContainersDashboard"/>.</summary>
    public static IServiceCollection AddContainersDashboard(this IServiceCollection services, DashboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(_ => new DashboardState(options));
        services.AddHostedService(sp => new DashboardState.Lifetime(sp.GetRequiredService<DashboardState>()));
        return services;
    }

    /// <summary>
    /// Serves the dashboard under <paramref name="prefix"/> (default: the root): its page and assets, and its API
    /// (<c>PREFIX/api/...</c>): the Docker API and the cluster's API through it for a logged-in user, consoles over
    /// WebSockets, stacks, manifests and Helm releases. Needs <see cref="AddContainersDashboard"/>; turns WebSockets on
    /// when <paramref name="endpoints"/> is the app.
    /// </summary>
    public static IEndpointConventionBuilder MapContainersDashboard(this IEndpointRouteBuilder endpoints, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        prefix = "/" + (prefix ?? "").Trim('/');
        if (endpoints is IApplicationBuilder app)
        {
            app.UseWebSockets();
        }

        var state = endpoints.ServiceProvider.GetRequiredService<DashboardState>();
        var group = endpoints.MapGroup(prefix);
        group.AddEndpointFilter(async (context, next) =>
        {
            Harden(context.HttpContext.Response);
            return await next(context).ConfigureAwait(false);
        });
        string basePath = prefix == "/" ? "/" : prefix + "/";
        group.MapGet("/", (HttpContext http) => Asset(http, "index.html", basePath));
        group.MapGet("/index.html", (HttpContext http) => Asset(http, "index.html", basePath));
        group.MapGet("/assets/{**file}", (HttpContext http, string file) => Asset(http, file, basePath));

        var open = group.MapGroup("/api/auth");
        open.MapGet("/status", (HttpContext http) => Status(http, state));
        open.MapPost("/setup", (HttpContext http, CancellationToken _) => SetupAsync(http, state, basePath));
        open.MapPost("/login", (HttpContext http, CancellationToken _) => LoginAsync(http, state, basePath));
        open.MapPost("/logout", (HttpContext http) =>
        {
            if (http.Request.Cookies[SessionCookie] is { } id)
            {
                state.Auth.EndSession(id);
            }

            http.Response.Cookies.Delete(SessionCookie, new CookieOptions { Path = basePath });
            return Results.NoContent();
        });

        var api = group.MapGroup("/api");
        api.AddEndpointFilter(async (context, next) => Authorize(context.HttpContext, state) ?? await next(context).ConfigureAwait(false));
        api.MapGet("/tokens", () => Results.Json(state.Auth.Tokens.Select(t => t with { Sha256 = "" }).ToList(), DashboardJson.Default.ListTokenRecord));
        api.MapPost("/tokens", async Task<IResult> (HttpContext http, CancellationToken _) =>
        {
            var body = await ReadAsync(http, DashboardJson.Default.NameRequest).ConfigureAwait(false);
            try
            {
                string name = body?.Name ?? "";
                return Results.Json(new TokenCreated(name, state.Auth.CreateToken(name)), DashboardJson.Default.TokenCreated, statusCode: 201);
            }
            catch (ArgumentException e)
            {
                return Error(e.Message, 400);
            }
        });
        api.MapDelete("/tokens/{name}", (string name) => state.Auth.DeleteToken(name) ? Results.NoContent() : Error($"no token named '{name}'", 404));

        api.Map("/docker/{**path}", (HttpContext http, string? path) => state.Docker is { } docker
            ? Proxy.ForwardAsync(http, docker.Http, path ?? "")
            : Task.FromResult(Error("this dashboard serves no Docker endpoint", 503)));
        api.MapGet("/docker-console/{id}", (HttpContext http, string id) => state.Docker is { } docker
            ? Consoles.DockerAsync(http, docker, id)
            : Task.FromResult(Error("this dashboard serves no Docker endpoint", 503)));
        api.Map("/k8s/{**path}", (HttpContext http, string? path) => state.Kubernetes is { } k8s
            ? Proxy.ForwardAsync(http, k8s.Http, path ?? "")
            : Task.FromResult(Error("this dashboard serves no cluster", 503)));
        api.MapGet("/k8s-console/{ns}/{pod}", (HttpContext http, string ns, string pod) => state.Kubernetes is { } k8s
            ? Consoles.PodAsync(http, k8s, ns, pod)
            : Task.FromResult(Error("this dashboard serves no cluster", 503)));
        api.MapPost("/k8s-apply", async Task<IResult> (HttpContext http, CancellationToken _) =>
        {
            if (state.Kubernetes is not { } k8s)
            {
                return Error("this dashboard serves no cluster", 503);
            }

            var body = await ReadAsync(http, DashboardJson.Default.YamlRequest).ConfigureAwait(false);
            var answer = await KubernetesApply.ApplyAsync(k8s, body?.Yaml ?? "", http.RequestAborted).ConfigureAwait(false);
            return Results.Json(answer, DashboardJson.Default.ApplyAnswer, statusCode: answer.Message is null ? 200 : 400);
        });
        api.MapGet("/helm/releases", async Task<IResult> (HttpContext http, CancellationToken _) => state.Kubernetes is { } k8s
            ? Results.Json(await KubernetesApply.HelmReleasesAsync(k8s, http.RequestAborted).ConfigureAwait(false), DashboardJson.Default.ListHelmRelease)
            : Error("this dashboard serves no cluster", 503));

        api.MapGet("/stacks", () => state.Stacks is { } stacks ? Results.Json(stacks.List(), DashboardJson.Default.IReadOnlyListStackSummary) : NoStacks());
        api.MapGet("/stacks/{name}", IResult (string name) => StackCall(state, s => Results.Json(new StackFile(name, s.Read(name)), DashboardJson.Default.StackFile)));
        api.MapPost("/stacks/{name}/plan", async Task<IResult> (HttpContext http, string name) =>
        {
            var body = await ReadAsync(http, DashboardJson.Default.YamlRequest).ConfigureAwait(false);
            return await StackCallAsync(state, async s => Results.Json(await s.PlanAsync(name, body?.Yaml ?? "", http.RequestAborted).ConfigureAwait(false), DashboardJson.Default.IReadOnlyListPlanStep)).ConfigureAwait(false);
        });
        api.MapPost("/stacks/{name}/up", async Task<IResult> (HttpContext http, string name) =>
        {
            var body = await ReadAsync(http, DashboardJson.Default.YamlRequest).ConfigureAwait(false);
            return await StackCallAsync(state, async s => Results.Json(new ProgressAnswer(await s.UpAsync(name, body?.Yaml ?? "", http.RequestAborted).ConfigureAwait(false)), DashboardJson.Default.ProgressAnswer)).ConfigureAwait(false);
        });
        api.MapPost("/stacks/{name}/down", Task<IResult> (HttpContext http, string name, bool? volumes, bool? remove) =>
            StackCallAsync(state, async s => Results.Json(new ProgressAnswer(await s.DownAsync(name, volumes ?? false, remove ?? false, http.RequestAborted).ConfigureAwait(false)), DashboardJson.Default.ProgressAnswer)));
        return group;
    }

    private static IResult NoStacks() => Error("stacks are deployed on the engine of this process; this dashboard serves another Docker endpoint", 501);

    private static IResult StackCall(DashboardState state, Func<Stacks, IResult> call)
    {
        if (state.Stacks is not { } stacks)
        {
            return NoStacks();
        }

        try
        {
            return call(stacks);
        }
        catch (ComposeException e)
        {
            return ComposeError(e);
        }
    }

    private static async Task<IResult> StackCallAsync(DashboardState state, Func<Stacks, Task<IResult>> call)
    {
        if (state.Stacks is not { } stacks)
        {
            return NoStacks();
        }

        try
        {
            return await call(stacks).ConfigureAwait(false);
        }
        catch (ComposeException e)
        {
            return ComposeError(e);
        }
        catch (ContainerException e)
        {
            return Error(e.Message, 400);
        }
    }

    /// <summary>A compose error, with the line it names (compose.yaml:LINE) for the editor to mark.</summary>
    private static IResult ComposeError(ComposeException e)
    {
        var match = System.Text.RegularExpressions.Regex.Match(e.Message, @"(?:compose\.yaml:|line )(\d+)");
        return Results.Json(new Message(e.Message, match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null), DashboardJson.Default.Message, statusCode: 400);
    }

    internal static IResult Error(string message, int status) => Results.Json(new Message(message), DashboardJson.Default.Message, statusCode: status);

    private static async Task<T?> ReadAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        try
        {
            return await System.Text.Json.JsonSerializer.DeserializeAsync(http.Request.Body, type, http.RequestAborted).ConfigureAwait(false);
        }
        catch (System.Text.Json.JsonException)
        {
            return default;
        }
    }

    /// <summary>
    /// Who may call the API: a session's cookie (state-changing requests with its CSRF token in <see cref="CsrfHeader"/>)
    /// or an API token (<c>Authorization: Bearer</c>); WebSockets only from this dashboard's own origin. Null: allowed.
    /// </summary>
    private static IResult? Authorize(HttpContext http, DashboardState state)
    {
        var request = http.Request;
        bool safe = HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method);
        if ((http.WebSockets.IsWebSocketRequest || !safe) && request.Headers.Origin.ToString() is { Length: > 0 } origin && !SameOrigin(request, origin))
        {
            return Error($"origin {origin} is not this dashboard's", 403);
        }

        if (request.Headers.Authorization.ToString() is { } authorization && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return state.Auth.CheckToken(authorization["Bearer ".Length..].Trim()) ? null : Error("the API token is not valid", 401);
        }

        if (state.Auth.FindSession(request.Cookies[SessionCookie]) is not { } session)
        {
            return Error("not logged in", 401);
        }

        if (http.WebSockets.IsWebSocketRequest && request.Headers.Origin.Count == 0)
        {
            return Error("a WebSocket without an Origin", 403);
        }

        if (!safe && !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.ASCII.GetBytes(request.Headers[CsrfHeader].ToString()), System.Text.Encoding.ASCII.GetBytes(session.Csrf)))
        {
            return Error($"missing or wrong {CsrfHeader}", 403);
        }

        return null;
    }

    private static bool SameOrigin(HttpRequest request, string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var o) && string.Equals($"{o.Scheme}://{o.Authority}", $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);

    private static IResult Status(HttpContext http, DashboardState state)
    {
        var session = state.Auth.FindSession(http.Request.Cookies[SessionCookie]);
        bool authenticated = session is not null;
        return Results.Json(new StatusAnswer(state.Auth.Initialized, authenticated, session?.Csrf,
            authenticated ? state.Docker?.Host : null, authenticated ? state.Kubernetes?.Server.ToString() : null, authenticated && state.Stacks is not null), DashboardJson.Default.StatusAnswer);
    }

    private static async Task<IResult> SetupAsync(HttpContext http, DashboardState state, string basePath)
    {
        if (http.Request.Headers.Origin.ToString() is { Length: > 0 } origin && !SameOrigin(http.Request, origin))
        {
            return Error($"origin {origin} is not this dashboard's", 403);
        }

        var body = await ReadAsync(http, DashboardJson.Default.PasswordRequest).ConfigureAwait(false);
        try
        {
            if (!state.Auth.TrySetFirstPassword(body?.Password ?? ""))
            {
                return Error("the admin password is set already; log in", 409);
            }
        }
        catch (ArgumentException e)
        {
            return Error(e.Message, 400);
        }

        return StartSession(http, state, basePath);
    }

    private static async Task<IResult> LoginAsync(HttpContext http, DashboardState state, string basePath)
    {
        if (http.Request.Headers.Origin.ToString() is { Length: > 0 } origin && !SameOrigin(http.Request, origin))
        {
            return Error($"origin {origin} is not this dashboard's", 403);
        }

        var client = http.Connection.RemoteIpAddress;
        if (state.Auth.RetryAfter(client) is { } wait)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Error($"too many failed logins; try again in {Math.Ceiling(wait.TotalSeconds)} s", 429);
        }

        var body = await ReadAsync(http, DashboardJson.Default.PasswordRequest).ConfigureAwait(false);
        if (!state.Auth.Initialized)
        {
            return Error("no admin password is set yet", 409);
        }

        // Argon2id takes tens of milliseconds and 19 MiB: off the request thread's hot path, but awaited
        bool ok = await Task.Run(() => state.Auth.CheckPassword(body?.Password ?? "", client)).ConfigureAwait(false);
        return ok ? StartSession(http, state, basePath) : Error("wrong password", 401);
    }

    private static IResult StartSession(HttpContext http, DashboardState state, string basePath)
    {
        var session = state.Auth.NewSession();
        http.Response.Cookies.Append(SessionCookie, session.Id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = http.Request.IsHttps,
            Path = basePath,
        });
        return Results.Json(new StatusAnswer(true, true, session.Csrf, state.Docker?.Host, state.Kubernetes?.Server.ToString(), state.Stacks is not null), DashboardJson.Default.StatusAnswer);
    }

    /// <summary>Headers every dashboard response carries: no framing, no sniffing, scripts and styles only from here.</summary>
    private static void Harden(HttpResponse response)
    {
        var h = response.Headers;
        h["Content-Security-Policy"] = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
        h["X-Content-Type-Options"] = "nosniff";
        h["X-Frame-Options"] = "DENY";
        h["Referrer-Policy"] = "no-referrer";
    }

    /// <summary>The assets' version: the assembly's build, in the assets' URLs (index.html names assets/app.js?v=VERSION).</summary>
    private static readonly string AssetVersion = typeof(DashboardEndpoints).Assembly.ManifestModule.ModuleVersionId.ToString("N")[..12];

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, CachedAsset?> Assets = new(StringComparer.Ordinal);

    /// <summary>An asset read once from the assembly, with its gzip form and its ETag.</summary>
    private sealed record CachedAsset(byte[] Raw, byte[] Gzip, string ETag, string ContentType);

    /// <summary>
    /// An embedded asset (<c>dashboard/FILE</c>; index.html with its base path and the assets' version filled in),
    /// gzip-compressed when the browser takes it. Versioned assets are cached for good; index.html is revalidated
    /// (its ETag answers 304).
    /// </summary>
    private static IResult Asset(HttpContext http, string file, string basePath)
    {
        if (file.Contains("..", StringComparison.Ordinal))
        {
            return Results.NotFound();
        }

        var asset = Assets.GetOrAdd(basePath + "\0" + file, _ => Load(file, basePath));
        if (asset is null)
        {
            return Results.NotFound();
        }

        var headers = http.Response.Headers;
        headers.ETag = asset.ETag;
        headers.Vary = "Accept-Encoding";
        headers.CacheControl = file != "index.html" && http.Request.Query["v"] == AssetVersion ? "public, max-age=31536000, immutable" : "no-cache";
        if (http.Request.Headers.IfNoneMatch == asset.ETag)
        {
            return Results.StatusCode(304);
        }

        if (http.Request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase))
        {
            headers.ContentEncoding = "gzip";
            return Results.Bytes(asset.Gzip, asset.ContentType);
        }

        return Results.Bytes(asset.Raw, asset.ContentType);
    }

    private static CachedAsset? Load(string file, string basePath)
    {
        using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("dashboard/" + file);
        if (stream is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.ToArray();
        if (file == "index.html")
        {
            bytes = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(bytes)
                .Replace("{{BASE}}", WebUtility.HtmlEncode(basePath), StringComparison.Ordinal)
                .Replace("{{V}}", AssetVersion, StringComparison.Ordinal));
        }

        using var gzip = new MemoryStream();
        using (var z = new System.IO.Compression.GZipStream(gzip, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            z.Write(bytes);
        }

        string type = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            ".svg" => "image/svg+xml",
            ".png" => "image/png",
            _ => "application/octet-stream",
        };
        return new CachedAsset(bytes, gzip.ToArray(), "\"" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..16] + "\"", type);
    }
}
