using Containers.DockerApi.Models;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Containers.DockerApi;

/// <summary>
/// The Docker Engine API over a <see cref="ContainerEngine"/>, on a unix socket, so the docker CLI, Docker.DotNet and
/// Testcontainers work with DOCKER_HOST=unix://PATH: ping, version, info, events, system df; containers (create, start,
/// stop, restart, kill, wait, remove, inspect, list with filters, logs, attach, exec, top, stats, archive, rename, pause,
/// unpause, update, prune); images (create = pull or import, list, inspect, history, tag, push, remove, save, load,
/// build, prune); networks and volumes (create, list, inspect, remove, connect, disconnect, prune). Paths are served
/// with or without a <c>/v1.NN</c> prefix; anything else answers in Docker's JSON error format.
/// </summary>
public sealed partial class DockerApiServer : IAsyncDisposable
{
    /// <summary>
    /// Reads a request body into its DTO (see <see cref="DockerJsonContext.ReadBody"/>): null when empty. Property names
    /// match whatever their case, as Go's JSON decoder (dockerd) matches them (Docker.DotNet sends <c>TTY</c>, the API
    /// documents <c>Tty</c>); map keys (labels) keep theirs.
    /// </summary>
    internal static async Task<T?> ReadBodyAsync<T>(Stream body, Func<DockerJsonContext, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>> type)
        where T : class
    {
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer).ConfigureAwait(false);
        return DockerJsonContext.ReadBody(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), type);
    }

    /// <summary>The API version announced (clients negotiate down to it).</summary>
    public const string ApiVersion = "1.47";

    /// <summary>The oldest API version accepted.</summary>
    public const string MinApiVersion = "1.24";

    private readonly WebApplication app;

    private readonly EventHub events;
    private readonly PendingRequests pending;

    private DockerApiServer(WebApplication app, string socketPath, EventHub events, PendingRequests pending)
    {
        this.app = app;
        this.events = events;
        this.pending = pending;
        SocketPath = socketPath;
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>
    /// Starts serving <paramref name="engine"/> on the unix socket <paramref name="socketPath"/> (a stale socket file is
    /// replaced), mode 0660 with group <c>docker</c> when that group exists, else 0600, as dockerd's.
    /// </summary>
    public static Task<DockerApiServer> StartAsync(ContainerEngine engine, string socketPath, CancellationToken cancellationToken = default) =>
        StartAsync(engine, new DockerApiOptions { SocketPath = socketPath }, cancellationToken);

    /// <summary>
    /// Starts serving <paramref name="engine"/> as <paramref name="options"/> say: the unix socket, and a TCP port
    /// with TLS and client certificates (<see cref="DockerApiOptions.Tls"/>), or, only when asked, plain on loopback.
    /// Throws <see cref="ArgumentException"/> naming the option when a TCP port has neither.
    /// </summary>
    public static async Task<DockerApiServer> StartAsync(ContainerEngine engine, DockerApiOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(options);
        var socketPath = options.SocketPath;
        var tcp = options.TcpEndPoint();
        if (File.Exists(socketPath))
        {
            File.Delete(socketPath);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(socketPath))!);
        var events = new EventHub(engine);
        var streams = new StreamEndpoints(engine, events);
        var pending = new PendingRequests();
        var hijack = HijackMiddleware.Create(async req =>
        {
            using var _ = pending.Begin(req.Method, req.Path);
            return await Hijacked(req, streams).ConfigureAwait(false);
        });
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = null; // image loads and build contexts
            k.ListenUnixSocket(socketPath, lo => lo.Use(hijack));
            if (tcp is { } endPoint)
            {
                k.Listen(endPoint, lo =>
                {
                    if (options.Tls is { } tls)
                    {
                        lo.UseHttps(tls.HttpsOptions()); // the hijack below reads the decrypted bytes
                    }

                    lo.Use(hijack);
                });
            }
        });
        var app = builder.Build();
        app.Use(async (ctx, next) =>
        {
            using var _ = pending.Begin(ctx.Request.Method, ctx.Request.Path + ctx.Request.QueryString);
            await next(ctx).ConfigureAwait(false);
        });
        Map(app, engine, streams, events);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            SocketAccess.Restrict(socketPath, options.SocketGroup); // connecting needs write permission: only the owner can, until now
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            events.Dispose();
            throw;
        }

        return new DockerApiServer(app, socketPath, events, pending);
    }

    /// <summary>The requests being answered now, oldest first, with how long each has run ("POST /containers/ID/wait?condition=removed 12.3 s").
    /// What a client that hangs is waiting for.</summary>
    public IReadOnlyList<string> PendingRequests => pending.Snapshot();

    /// <summary>Stops serving and removes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        events.Dispose();
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        if (File.Exists(SocketPath))
        {
            File.Delete(SocketPath);
        }
    }

    private static async Task<bool> Hijacked(HijackedRequest req, StreamEndpoints streams)
    {
        var parts = req.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts is ["containers", var id, "attach"])
        {
            await streams.AttachAsync(req, id).ConfigureAwait(false);
        }
        else if (parts is ["exec", var execId, "start"])
        {
            await streams.ExecStartAsync(req, execId).ConfigureAwait(false);
        }
        else
        {
            await req.ErrorAsync(404, $"{req.Method} {req.Path} is not served").ConfigureAwait(false);
        }

        return true;
    }

    private static void Map(WebApplication app, ContainerEngine engine, StreamEndpoints streams, EventHub events)
    {
        // /v1.44/containers/json and /containers/json are the same endpoint
        app.Use((ctx, next) =>
        {
            var m = VersionPrefix().Match(ctx.Request.Path.Value ?? "");
            if (m.Success)
            {
                ctx.Items[RequestVersionKey] = System.Version.Parse(m.Groups[1].Value);
                ctx.Request.Path = m.Groups[2].Value;
            }

            // One request per connection. Attach and exec start take their connection over (HijackMiddleware), which
            // only a connection's first request can do: Kestrel owns the connection after it. A client that kept a
            // connection alive and sent one of them on it (HttpClient's pool does) got "not served".
            ctx.Response.Headers.Connection = "close";
            ctx.Response.Headers["Api-Version"] = ApiVersion;
            ctx.Response.Headers["Docker-Experimental"] = "false";
            ctx.Response.Headers["Ostype"] = "linux";
            ctx.Response.Headers["Server"] = "containers-dotnet (linux)";
            return next(ctx);
        });
        app.Use(async (ctx, next) =>
        {
            try
            {
                await next(ctx).ConfigureAwait(false);
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException && !ctx.Response.HasStarted)
            {
                await Error(ctx, 400, e.Message).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ContainerException or IOException && !ctx.Response.HasStarted)
            {
                await Error(ctx, ErrorKinds.HttpStatus(ErrorKinds.Of(e)), e.Message).ConfigureAwait(false); // one table, by kind
            }
        });
        app.UseRouting(); // after the prefix is gone: routes match the unversioned paths

        app.MapMethods("/_ping", ["GET", "HEAD"], async ctx =>
        {
            ctx.Response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
            ctx.Response.Headers["Builder-Version"] = "1"; // the classic builder API (POST /build); BuildKit's session is not served
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            if (ctx.Request.Method == "GET")
            {
                await ctx.Response.WriteAsync("OK").ConfigureAwait(false);
            }
        });
        app.MapGet("/version", ctx => Json(ctx, Version(), j => j.SystemVersion));
        app.MapGet("/info", ctx => Json(ctx, Info(engine, events.Listeners), j => j.SystemInfo));
        app.MapGet("/events", events.StreamAsync);

        var containers = new ContainerEndpoints(engine, streams, events);
        app.MapGet("/containers/json", containers.ListAsync);
        app.MapPost("/containers/create", containers.CreateAsync);
        app.MapPost("/containers/prune", containers.PruneAsync);
        app.MapPost("/containers/{id}/start", containers.StartAsync);
        app.MapPost("/containers/{id}/wait", containers.WaitAsync);
        app.MapPost("/containers/{id}/stop", containers.StopAsync);
        app.MapPost("/containers/{id}/restart", containers.RestartAsync);
        app.MapPost("/containers/{id}/kill", containers.KillAsync);
        app.MapPost("/containers/{id}/pause", containers.PauseAsync);
        app.MapPost("/containers/{id}/unpause", containers.UnpauseAsync);
        app.MapPost("/containers/{id}/rename", containers.RenameAsync);
        app.MapPost("/containers/{id}/update", containers.UpdateAsync);
        app.MapPost("/containers/{id}/resize", streams.ContainerResizeAsync);
        app.MapPost("/containers/{id}/exec", streams.ExecCreateAsync);
        app.MapDelete("/containers/{id}", containers.RemoveAsync);
        app.MapGet("/containers/{id}/json", containers.InspectAsync);
        app.MapGet("/containers/{id}/logs", containers.LogsAsync);
        app.MapGet("/containers/{id}/top", containers.TopAsync);
        app.MapGet("/containers/{id}/stats", containers.StatsAsync);
        app.MapMethods("/containers/{id}/archive", ["GET", "HEAD"], containers.ArchiveGetAsync);
        app.MapPut("/containers/{id}/archive", containers.ArchivePutAsync);
        app.MapGet("/exec/{id}/json", streams.ExecInspectAsync);
        app.MapPost("/exec/{id}/resize", streams.ExecResizeAsync);

        var images = new ImageEndpoints(engine, events);
        app.MapGet("/images/json", images.ListAsync);
        app.MapPost("/images/create", images.CreateAsync);
        app.MapPost("/images/load", images.LoadAsync);
        app.MapGet("/images/get", images.SaveManyAsync);
        app.MapPost("/images/prune", images.PruneAsync);
        app.MapMethods("/images/{**rest}", ["GET", "POST", "DELETE"], images.DispatchAsync);
        app.MapPost("/build", images.BuildAsync);

        var nv = new NetworkVolumeEndpoints(engine, events);
        app.MapGet("/networks", nv.ListNetworksAsync);
        app.MapPost("/networks/create", nv.CreateNetworkAsync);
        app.MapPost("/networks/prune", nv.PruneNetworksAsync);
        app.MapGet("/networks/{id}", nv.InspectNetworkAsync);
        app.MapDelete("/networks/{id}", nv.RemoveNetworkAsync);
        app.MapPost("/networks/{id}/connect", nv.ConnectAsync);
        app.MapPost("/networks/{id}/disconnect", nv.DisconnectAsync);
        app.MapGet("/volumes", nv.ListVolumesAsync);
        app.MapPost("/volumes/create", nv.CreateVolumeAsync);
        app.MapPost("/volumes/prune", nv.PruneVolumesAsync);
        app.MapGet("/volumes/{name}", nv.InspectVolumeAsync);
        app.MapDelete("/volumes/{name}", nv.RemoveVolumeAsync);
        app.MapGet("/system/df", nv.DiskUsageAsync);
        app.MapFallback(ctx => Error(ctx, StatusCodes.Status404NotFound, $"{ctx.Request.Method} {ctx.Request.Path} is not served by containers-dotnet"));
    }

    private static SystemVersion Version() => new()
    {
        Platform = new SystemVersionPlatform { Name = "Containers for .NET" },
        Components = [new ComponentVersion { Name = "Engine", Version = EngineVersion, Details = new() { ["ApiVersion"] = ApiVersion, ["MinAPIVersion"] = MinApiVersion, ["Os"] = "linux", ["Arch"] = "amd64" } }],
        Version = EngineVersion,
        ApiVersion = ApiVersion,
        MinAPIVersion = MinApiVersion,
        GoVersion = "none (.NET " + Environment.Version + ")",
        Os = "linux",
        Arch = "amd64",
        KernelVersion = Environment.OSVersion.Version.ToString(),
    };

    private static string EngineVersion => typeof(ContainerEngine).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    private static SystemInfo Info(ContainerEngine engine, int eventListeners)
    {
        var all = engine.List(all: true);
        return new SystemInfo
        {
            ID = Environment.MachineName,
            Containers = all.Count,
            ContainersRunning = all.Count(c => c.Status == Runtime.ContainerStatus.Running),
            ContainersPaused = all.Count(c => c.Status == Runtime.ContainerStatus.Paused),
            ContainersStopped = all.Count(c => !c.IsActive),
            Images = engine.Images.List().Count,
            Driver = "overlay",
            DockerRootDir = engine.Root,
            CgroupDriver = "cgroupfs",
            CgroupVersion = engine.CgroupVersion == "v2" ? "2" : "1",
            OSType = "linux",
            Architecture = "x86_64",
            OperatingSystem = "Containers for .NET on " + System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            KernelVersion = Environment.OSVersion.Version.ToString(),
            NCPU = Environment.ProcessorCount,
            MemTotal = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            Name = Environment.MachineName,
            ServerVersion = EngineVersion,
                                    Runtimes = new() { ["containers-dotnet"] = new RuntimeInfo { Path = "in-process" } },
            DefaultRuntime = "containers-dotnet",
            SecurityOptions = ["name=seccomp,profile=builtin"],
            // what this engine can limit: memory, CPU by CFS and shares, pids; not cpusets, not the OOM killer
            MemoryLimit = true,
            SwapLimit = engine.CgroupVersion == "v2" || File.Exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"),
            CpuCfsPeriod = true,
            CpuCfsQuota = true,
            CPUShares = true,
            CPUSet = false,
            PidsLimit = true,
            OomKillDisable = false,
            IPv4Forwarding = File.Exists("/proc/sys/net/ipv4/ip_forward") && File.ReadAllText("/proc/sys/net/ipv4/ip_forward").Trim() == "1",
            Debug = false,
            NEventsListener = eventListeners,
            ExperimentalBuild = false,
            NFd = Directory.Exists("/proc/self/fd") ? Directory.GetFileSystemEntries("/proc/self/fd").Length : 0,
            NGoroutines = Directory.Exists("/proc/self/task") ? Directory.GetDirectories("/proc/self/task").Length : 0, // its threads: the nearest thing
            SystemTime = DateTimeOffset.Now.ToString("yyyy-MM-ddTHH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture),
            LoggingDriver = "json-file",
            IndexServerAddress = "https://index.docker.io/v1/",
            HttpProxy = Environment.GetEnvironmentVariable("HTTP_PROXY") ?? Environment.GetEnvironmentVariable("http_proxy") ?? "",
            HttpsProxy = Environment.GetEnvironmentVariable("HTTPS_PROXY") ?? Environment.GetEnvironmentVariable("https_proxy") ?? "",
            NoProxy = Environment.GetEnvironmentVariable("NO_PROXY") ?? Environment.GetEnvironmentVariable("no_proxy") ?? "",
            OSVersion = HostInfo.OsRelease("VERSION_ID") ?? "",
            Isolation = "",
            InitBinary = "",
                                    DefaultAddressPools = [new AddressPool { Base = ContainerDefaults.AddressPool, Size = 24 }], // where networks get their /24
            Swarm = new SwarmInfo(),
        };
    }

    /// <summary>docker's short form: docker.io/library/busybox:1 → busybox:1.</summary>
    internal static string Short(string name) => name.StartsWith("docker.io/library/", StringComparison.Ordinal) ? name[18..] : name.StartsWith("docker.io/", StringComparison.Ordinal) ? name[10..] : name;

    /// <summary>
    /// The <c>filters</c> query parameter: <c>{"label":["a=b"]}</c> or the older <c>{"label":{"a=b":true}}</c>. Throws
    /// <see cref="FormatException"/> when it is not JSON of either shape.
    /// </summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<string>> Filters(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return new Dictionary<string, IReadOnlyList<string>>();
        }

        JsonObject o;
        try
        {
            o = JsonNode.Parse(json) as JsonObject ?? throw new FormatException("filters: expected a JSON object");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new FormatException("filters: invalid JSON: " + e.Message, e);
        }

        return o.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)(kv.Value switch
        {
            JsonArray a => [.. a.Select(x => x?.ToString() ?? "")],
            JsonObject m => [.. m.Where(x => x.Value is JsonValue v && v.TryGetValue<bool>(out var b) && b).Select(x => x.Key)],
            JsonValue v => [v.ToString()],
            _ => throw new FormatException($"filters.{kv.Key}: expected a list"),
        }));
    }

    /// <summary>Answers <paramref name="value"/> as JSON through its source-generated metadata.</summary>
    internal static Task Json<T>(HttpContext ctx, T value, Func<Models.DockerJsonContext, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>> type)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(Models.DockerJsonContext.Serialize(value, type));
    }

    /// <summary>
    /// A boolean query parameter as dockerd reads one (moby's httputils.BoolValueOrDefault): absent is
    /// <paramref name="absent"/>; "", "0", "no", "false" and "none" are false in any case and with spaces around; anything
    /// else is true (the Docker SDK for Python sends <c>force=True</c>, <c>stream=False</c>).
    /// </summary>
    internal static bool Flag(IQueryCollection query, string name, bool absent = false) =>
        query.TryGetValue(name, out var values) ? Truthy(values.ToString()) : absent;

    /// <summary>moby's BoolValue of one value.</summary>
    internal static bool Truthy(string? value) =>
        value?.Trim().ToLowerInvariant() is not (null or "" or "0" or "no" or "false" or "none");

    internal static Task Error(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        return Json(ctx, new ErrorResponse { Message = message }, j => j.ErrorResponse);
    }

    [GeneratedRegex(@"^/v([0-9]+\.[0-9]+)(/.*)$")]
    internal static partial Regex VersionPrefix();

    private const string RequestVersionKey = "docker-api-version";

    /// <summary>The API version the client asked for in the path (<c>/v1.38/...</c>); <see cref="ApiVersion"/> when it
    /// named none. dockerd answers some requests by this version (moby's <c>versions.LessThan</c>).</summary>
    internal static System.Version RequestVersion(HttpContext ctx) =>
        ctx.Items.TryGetValue(RequestVersionKey, out var v) && v is System.Version version ? version : System.Version.Parse(ApiVersion);
}

/// <summary>Hosting: the Docker Engine API as a hosted service of any app (<c>services.AddDockerApi("/run/app/docker.sock")</c>).</summary>
public static class DockerApiServiceCollectionExtensions
{
    /// <summary>
    /// Serves the registered <see cref="ContainerEngine"/> (one is added with default options when none is) on
    /// <paramref name="socketPath"/> while the app runs.
    /// </summary>
    public static Microsoft.Extensions.DependencyInjection.IServiceCollection AddDockerApi(this Microsoft.Extensions.DependencyInjection.IServiceCollection services, string socketPath)
    {
        Microsoft.Extensions.DependencyInjection.Extensions.ServiceCollectionDescriptorExtensions.TryAddSingleton(services, _ => new ContainerEngine());
        Microsoft.Extensions.DependencyInjection.ServiceCollectionHostedServiceExtensions.AddHostedService(services, sp => new DockerApiHostedService(
            Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<ContainerEngine>(sp), socketPath));
        return services;
    }

    private sealed class DockerApiHostedService(ContainerEngine engine, string socketPath) : Microsoft.Extensions.Hosting.IHostedService
    {
        private DockerApiServer? server;

        public async Task StartAsync(CancellationToken cancellationToken) => server = await DockerApiServer.StartAsync(engine, socketPath, cancellationToken).ConfigureAwait(false);

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
