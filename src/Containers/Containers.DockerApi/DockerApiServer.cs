using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Containers.DockerApi;

/// <summary>
/// The Docker Engine API over a <see cref="ContainerEngine"/>, on a unix socket, so the docker CLI and Docker clients
/// work with DOCKER_HOST=unix://PATH. This first slice serves <c>_ping</c>, <c>version</c>, <c>info</c>, the lists of
/// containers, images, networks and volumes, and containers create, start, wait, stop, kill, inspect and delete (with or
/// without a <c>/v1.NN</c> prefix); anything else answers in Docker's JSON error format naming what is not served yet.
/// </summary>
public sealed partial class DockerApiServer : IAsyncDisposable
{
    /// <summary>The API version announced (clients negotiate down to it).</summary>
    public const string ApiVersion = "1.47";

    /// <summary>The oldest API version accepted.</summary>
    public const string MinApiVersion = "1.24";

    private static readonly System.Text.Json.JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly WebApplication app;

    private DockerApiServer(WebApplication app, string socketPath)
    {
        this.app = app;
        SocketPath = socketPath;
    }

    /// <summary>The socket it listens on.</summary>
    public string SocketPath { get; }

    /// <summary>Starts serving <paramref name="engine"/> on <paramref name="socketPath"/> (a stale socket file is replaced).</summary>
    public static async Task<DockerApiServer> StartAsync(ContainerEngine engine, string socketPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (File.Exists(socketPath))
        {
            File.Delete(socketPath);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socketPath));
        var app = builder.Build();
        Map(app, engine);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        return new DockerApiServer(app, socketPath);
    }

    /// <summary>Stops serving and removes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        if (File.Exists(SocketPath))
        {
            File.Delete(SocketPath);
        }
    }

    private static void Map(WebApplication app, ContainerEngine engine)
    {
        // /v1.44/containers/json and /containers/json are the same endpoint
        app.Use((ctx, next) =>
        {
            var m = VersionPrefix().Match(ctx.Request.Path.Value ?? "");
            if (m.Success)
            {
                ctx.Request.Path = m.Groups[1].Value;
            }

            ctx.Response.Headers["Api-Version"] = ApiVersion;
            ctx.Response.Headers["Docker-Experimental"] = "false";
            ctx.Response.Headers["Ostype"] = "linux";
            ctx.Response.Headers["Server"] = "containers-dotnet (linux)";
            return next(ctx);
        });
        app.UseRouting(); // after the prefix is gone: routes match the unversioned paths

        app.MapMethods("/_ping", ["GET", "HEAD"], async ctx =>
        {
            ctx.Response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            if (ctx.Request.Method == "GET")
            {
                await ctx.Response.WriteAsync("OK").ConfigureAwait(false);
            }
        });
        app.MapGet("/version", ctx => Json(ctx, Version()));
        app.MapGet("/info", ctx => Json(ctx, Info(engine)));
        app.MapGet("/containers/json", ctx => Json(ctx, Containers(engine, ctx.Request.Query["all"] is var all && (all == "1" || all == "true"))));
        app.MapGet("/images/json", ctx => Json(ctx, Images(engine)));
        app.MapGet("/networks", ctx => Json(ctx, new JsonArray([.. engine.Networks.List().Select(n => (JsonNode)Network(engine, n))])));
        app.MapGet("/volumes", ctx => Json(ctx, new JsonObject
        {
            ["Volumes"] = new JsonArray([.. engine.Volumes.List().Select(v => (JsonNode)new JsonObject
            {
                ["Name"] = v.Name,
                ["Driver"] = v.Driver,
                ["Mountpoint"] = v.Mountpoint,
                ["CreatedAt"] = v.CreatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture),
                ["Labels"] = Map(v.Labels),
                ["Scope"] = "local",
                ["Options"] = new JsonObject(),
            })]),
            ["Warnings"] = new JsonArray(),
        }));
        var lifecycle = new ContainerEndpoints(engine);
        app.MapPost("/containers/create", lifecycle.CreateAsync);
        app.MapPost("/containers/{id}/start", lifecycle.StartAsync);
        app.MapPost("/containers/{id}/attach", lifecycle.AttachAsync);
        app.MapPost("/containers/{id}/wait", lifecycle.WaitAsync);
        app.MapPost("/containers/{id}/stop", lifecycle.StopAsync);
        app.MapPost("/containers/{id}/kill", lifecycle.KillAsync);
        app.MapDelete("/containers/{id}", lifecycle.RemoveAsync);
        app.MapGet("/containers/{id}/json", lifecycle.InspectAsync);
        app.MapFallback(ctx => Error(ctx, StatusCodes.Status404NotFound, $"{ctx.Request.Method} {ctx.Request.Path} is not served by containers-dotnet yet"));
    }

    private static JsonObject Version() => new()
    {
        ["Platform"] = new JsonObject { ["Name"] = "Containers for .NET" },
        ["Components"] = new JsonArray(new JsonObject { ["Name"] = "Engine", ["Version"] = EngineVersion, ["Details"] = new JsonObject { ["ApiVersion"] = ApiVersion, ["MinAPIVersion"] = MinApiVersion, ["Os"] = "linux", ["Arch"] = "amd64" } }),
        ["Version"] = EngineVersion,
        ["ApiVersion"] = ApiVersion,
        ["MinAPIVersion"] = MinApiVersion,
        ["GitCommit"] = "",
        ["GoVersion"] = "none (.NET " + Environment.Version + ")",
        ["Os"] = "linux",
        ["Arch"] = "amd64",
        ["KernelVersion"] = Environment.OSVersion.Version.ToString(),
        ["BuildTime"] = "",
    };

    private static string EngineVersion => typeof(ContainerEngine).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    private static JsonObject Info(ContainerEngine engine)
    {
        var all = engine.List(all: true);
        return new JsonObject
        {
            ["ID"] = Environment.MachineName,
            ["Containers"] = all.Count,
            ["ContainersRunning"] = all.Count(c => c.Status == Runtime.ContainerStatus.Running),
            ["ContainersPaused"] = all.Count(c => c.Status == Runtime.ContainerStatus.Paused),
            ["ContainersStopped"] = all.Count(c => !c.IsActive),
            ["Images"] = engine.Images.List().Count,
            ["Driver"] = "overlay",
            ["DockerRootDir"] = engine.Root,
            ["CgroupDriver"] = "cgroupfs",
            ["CgroupVersion"] = engine.CgroupVersion == "v2" ? "2" : "1",
            ["OSType"] = "linux",
            ["Architecture"] = "x86_64",
            ["OperatingSystem"] = "Containers for .NET on " + System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["KernelVersion"] = Environment.OSVersion.Version.ToString(),
            ["NCPU"] = Environment.ProcessorCount,
            ["MemTotal"] = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
            ["Name"] = Environment.MachineName,
            ["ServerVersion"] = EngineVersion,
            ["Labels"] = new JsonArray(),
            ["Warnings"] = new JsonArray(),
        };
    }

    private static JsonArray Containers(ContainerEngine engine, bool all) => new([.. engine.List(all).Select(c => (JsonNode)new JsonObject
    {
        ["Id"] = c.Id,
        ["Names"] = new JsonArray("/" + c.Name),
        ["Image"] = c.Spec.Image ?? c.Spec.Rootfs,
        ["ImageID"] = c.Spec.ImageId ?? "",
        ["Command"] = string.Join(' ', [.. c.Spec.Entrypoint ?? [], .. c.Spec.Command]),
        ["Created"] = c.Created.ToUnixTimeSeconds(),
        ["State"] = c.Status.ToString().ToLowerInvariant(),
        ["Status"] = c.Status switch
        {
            Runtime.ContainerStatus.Running => "Up",
            Runtime.ContainerStatus.Exited => $"Exited ({c.ExitCode})",
            _ => c.Status.ToString(),
        },
        ["Ports"] = new JsonArray([.. c.Ports.Select(p => (JsonNode)new JsonObject { ["IP"] = p.HostIp, ["PrivatePort"] = p.ContainerPort, ["PublicPort"] = p.HostPort, ["Type"] = p.Protocol })]),
        ["Labels"] = Map(c.Spec.Labels),
        ["HostConfig"] = new JsonObject { ["NetworkMode"] = c.Spec.NetworkMode },
        ["NetworkSettings"] = new JsonObject
        {
            ["Networks"] = new JsonObject([.. c.Networks.Select(e => KeyValuePair.Create(e.Network, (JsonNode?)new JsonObject { ["NetworkID"] = e.NetworkId, ["IPAddress"] = e.IPAddress, ["Gateway"] = e.Gateway, ["IPPrefixLen"] = e.PrefixLength }))]),
        },
        ["Mounts"] = new JsonArray([.. c.Spec.Mounts.Select(m => (JsonNode)new JsonObject { ["Type"] = m.Type.ToString().ToLowerInvariant(), ["Name"] = m.Type == Runtime.MountType.Volume ? m.Source : null, ["Source"] = m.Source, ["Destination"] = m.Target, ["RW"] = !m.ReadOnly })]),
    })]);

    private static JsonArray Images(ContainerEngine engine) => new([.. engine.Images.List().Select(i => (JsonNode)new JsonObject
    {
        ["Id"] = i.Id.ToString(),
        ["ParentId"] = "",
        ["RepoTags"] = new JsonArray([.. i.Names.Select(n => (JsonNode)Short(n))]),
        ["RepoDigests"] = new JsonArray([.. i.RepoDigests.Select(n => (JsonNode)n)]),
        ["Created"] = i.Created?.ToUnixTimeSeconds() ?? 0,
        ["Size"] = i.Size,
        ["SharedSize"] = -1,
        ["Labels"] = Map(i.Config.Config?.Labels ?? System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty),
        ["Containers"] = -1,
    })]);

    /// <summary>docker's short form: docker.io/library/busybox:1 → busybox:1.</summary>
    private static string Short(string name) => name.StartsWith("docker.io/library/", StringComparison.Ordinal) ? name[18..] : name.StartsWith("docker.io/", StringComparison.Ordinal) ? name[10..] : name;

    private static JsonObject Network(ContainerEngine engine, Networking.NetworkInfo n) => new()
    {
        ["Name"] = n.Name,
        ["Id"] = n.Id,
        ["Created"] = n.Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture),
        ["Scope"] = "local",
        ["Driver"] = n.Driver,
        ["EnableIPv6"] = false,
        ["IPAM"] = new JsonObject { ["Driver"] = "default", ["Config"] = new JsonArray(new JsonObject { ["Subnet"] = n.Subnet, ["Gateway"] = n.Gateway }) },
        ["Internal"] = n.Internal,
        ["Attachable"] = false,
        ["Ingress"] = false,
        ["Containers"] = new JsonObject([.. engine.Networks.Containers(n.Id).Select(c => KeyValuePair.Create(c.Container.Id, (JsonNode?)new JsonObject { ["Name"] = c.Container.Name, ["IPv4Address"] = $"{c.Endpoint.IPAddress}/{c.Endpoint.PrefixLength}" }))]),
        ["Options"] = new JsonObject { ["com.docker.network.bridge.name"] = n.BridgeName },
        ["Labels"] = Map(n.Labels),
    };

    internal static JsonObject Map(IEnumerable<KeyValuePair<string, string>> labels) => new([.. labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))]);

    internal static Task Json(HttpContext ctx, JsonNode node)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(node.ToJsonString(Relaxed));
    }

    internal static Task Error(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        return Json(ctx, new JsonObject { ["message"] = message });
    }

    [GeneratedRegex(@"^/v[0-9]+\.[0-9]+(/.*)$")]
    private static partial Regex VersionPrefix();
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
