using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Containers.Runtime;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Containers.DockerApi;

/// <summary>
/// The container lifecycle of the Docker API: create, attach (a hijacked connection carrying the multiplexed
/// stdout/stderr stream), wait, start, stop, kill, inspect, remove. Containers started here are supervised by this
/// process, as a daemon's are by the daemon.
/// </summary>
internal sealed class ContainerEndpoints(ContainerEngine engine)
{
    private readonly ConcurrentDictionary<string, ImmutableList<Channel<(int Stream, byte[] Data)>>> attached = new();
    private readonly ConcurrentDictionary<string, int> exits = new();

    public async Task CreateAsync(HttpContext ctx)
    {
        JsonObject body;
        try
        {
            body = await JsonNode.ParseAsync(ctx.Request.Body).ConfigureAwait(false) as JsonObject ?? throw new JsonException("expected an object");
        }
        catch (JsonException e)
        {
            await DockerApiServer.Error(ctx, 400, "invalid container config: " + e.Message).ConfigureAwait(false);
            return;
        }

        var host = body["HostConfig"] as JsonObject ?? [];
        var image = (string?)body["Image"];
        if (string.IsNullOrEmpty(image))
        {
            await DockerApiServer.Error(ctx, 400, "config.Image: an image is required").ConfigureAwait(false);
            return;
        }

        if (engine.Images.Find(image) is null)
        {
            await DockerApiServer.Error(ctx, 404, $"No such image: {image}").ConfigureAwait(false);
            return;
        }

        var ports = new List<PortBinding>();
        foreach (var (port, bindings) in host["PortBindings"] as JsonObject ?? [])
        {
            var parts = port.Split('/');
            foreach (var b in bindings as JsonArray ?? [])
            {
                ports.Add(new PortBinding(int.Parse(parts[0], CultureInfo.InvariantCulture), int.TryParse((string?)b?["HostPort"], CultureInfo.InvariantCulture, out var hp) ? hp : 0, (string?)b?["HostIp"] is { Length: > 0 } ip ? ip : "0.0.0.0", parts.Length > 1 ? parts[1] : "tcp"));
            }
        }

        var restart = host["RestartPolicy"] as JsonObject;
        var spec = new ContainerSpec
        {
            Image = image,
            Name = ctx.Request.Query["name"] is { Count: > 0 } n ? n.ToString() : null,
            Command = [.. Strings(body["Cmd"])],
            Entrypoint = body["Entrypoint"] is JsonArray { Count: > 0 } ep ? [.. Strings(ep)] : null,
            Environment = [.. Strings(body["Env"])],
            WorkingDirectory = (string?)body["WorkingDir"] is { Length: > 0 } wd ? wd : null,
            User = (string?)body["User"] is { Length: > 0 } u ? u : null,
            Hostname = (string?)body["Hostname"] is { Length: > 0 } h ? h : null,
            Tty = (bool?)body["Tty"] ?? false,
            OpenStdin = false,
            Labels = (body["Labels"] as JsonObject ?? []).ToImmutableDictionary(kv => kv.Key, kv => (string?)kv.Value ?? ""),
            AutoRemove = (bool?)host["AutoRemove"] ?? false,
            Ports = [.. ports],
            PublishAllPorts = (bool?)host["PublishAllPorts"] ?? false,
            NetworkMode = (string?)host["NetworkMode"] is { Length: > 0 } nm && nm != "default" ? nm : "bridge",
            Mounts = [.. Strings(host["Binds"]).Select(MountSpec.ParseVolume)],
            Resources = new Runtime.Cgroups.ResourceLimits(
                MemoryBytes: (long?)host["Memory"] is > 0 and var mem ? mem : null,
                NanoCpus: (long?)host["NanoCpus"] is > 0 and var cpus ? cpus : null,
                PidsLimit: (long?)host["PidsLimit"] is > 0 and var pids ? pids : null),
            ReadOnlyRootfs = (bool?)host["ReadonlyRootfs"] ?? false,
            CapAdd = [.. Strings(host["CapAdd"])],
            CapDrop = [.. Strings(host["CapDrop"])],
            Restart = restart is not null && (string?)restart["Name"] is { Length: > 0 } rn ? new RestartPolicy(rn, (int?)restart["MaximumRetryCount"] ?? 0) : RestartPolicy.No,
        };
        try
        {
            var c = engine.Create(await engine.ResolveAsync(spec).ConfigureAwait(false));
            ctx.Response.StatusCode = 201;
            await DockerApiServer.Json(ctx, new JsonObject { ["Id"] = c.Id, ["Warnings"] = new JsonArray() }).ConfigureAwait(false);
        }
        catch (ContainerException e)
        {
            await DockerApiServer.Error(ctx, e is ContainerConflictException ? 409 : e is ContainerNotFoundException ? 404 : 400, e.Message).ConfigureAwait(false);
        }
    }

    public async Task StartAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        if (c.State.IsActive)
        {
            ctx.Response.StatusCode = 304;
            return;
        }

        try
        {
            await c.StartAsync((stream, bytes) =>
            {
                var copy = bytes.ToArray();
                foreach (var ch in attached.GetValueOrDefault(c.Id) ?? [])
                {
                    ch.Writer.TryWrite((stream == "stderr" ? 2 : 1, copy));
                }
            }).ConfigureAwait(false);
            _ = c.WaitAsync().ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    exits[c.Id] = t.Result.ExitCode; // a --rm container's record is gone by the time its waiters look
                }

                if (attached.TryRemove(c.Id, out var channels))
                {
                    foreach (var ch in channels)
                    {
                        ch.Writer.TryComplete();
                    }
                }
            }, TaskScheduler.Default);
            ctx.Response.StatusCode = 204;
        }
        catch (ContainerException e)
        {
            await DockerApiServer.Error(ctx, 500, e.Message).ConfigureAwait(false);
        }
    }

    public async Task AttachAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var channel = Channel.CreateUnbounded<(int Stream, byte[] Data)>();
        attached.AddOrUpdate(c.Id, _ => [channel], (_, list) => list.Add(channel));
        var tty = c.State.Spec.Tty;
        ctx.Response.Headers.ContentType = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        Stream output;
        var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is { IsUpgradableRequest: true })
        {
            ctx.Response.Headers.Connection = "Upgrade";
            ctx.Response.Headers.Upgrade = "tcp";
            output = await upgrade.UpgradeAsync().ConfigureAwait(false);
        }
        else
        {
            await ctx.Response.StartAsync().ConfigureAwait(false);
            output = ctx.Response.Body;
        }

        // after the upgrade the request is "aborted" for Kestrel: the stream ends with the container (or a write error)
        var header = new byte[8];
        try
        {
            await foreach (var (stream, data) in channel.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (!tty)
                {
                    header[0] = (byte)stream;
                    BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)data.Length);
                    await output.WriteAsync(header).ConfigureAwait(false);
                }

                await output.WriteAsync(data).ConfigureAwait(false);
                await output.FlushAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // the client went away
        }
    }

    public async Task WaitAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var condition = ctx.Request.Query["condition"].ToString() is { Length: > 0 } cond ? cond : "not-running";
        var sawRun = false;
        var lastExit = 0;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync().ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync().ConfigureAwait(false); // headers on the wire now: docker run starts the container only after them
        int code;
        while (true)
        {
            ContainerState? s;
            try
            {
                s = c.State;
            }
            catch (ContainerNotFoundException)
            {
                s = null;
            }

            if (s is null)
            {
                // removed (--rm): the code its run ended with, recorded when its supervisor finished
                for (var i = 0; i < 100 && !exits.ContainsKey(c.Id); i++)
                {
                    await Task.Delay(10, ctx.RequestAborted).ConfigureAwait(false);
                }

                code = exits.TryRemove(c.Id, out var recorded) ? recorded : lastExit;
                break;
            }

            lastExit = s.ExitCode;
            sawRun |= s.IsActive;
            var done = condition switch
            {
                "next-exit" => sawRun && !s.IsActive,
                "removed" => false,
                _ => !s.IsActive && s.Status != ContainerStatus.Created,
            };
            if (done)
            {
                code = s.ExitCode;
                break;
            }

            await Task.Delay(20, ctx.RequestAborted).ConfigureAwait(false);
        }

        await ctx.Response.WriteAsync(new JsonObject { ["StatusCode"] = code, ["Error"] = null }.ToJsonString() + "\n").ConfigureAwait(false);
    }

    public async Task StopAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var t = ctx.Request.Query["t"].ToString() is { Length: > 0 } ts && int.TryParse(ts, CultureInfo.InvariantCulture, out var secs) ? TimeSpan.FromSeconds(secs) : (TimeSpan?)null;
        if (!c.State.IsActive)
        {
            ctx.Response.StatusCode = 304;
            return;
        }

        await c.StopAsync(t).ConfigureAwait(false);
        ctx.Response.StatusCode = 204;
    }

    public async Task KillAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        try
        {
            await c.KillAsync(ctx.Request.Query["signal"].ToString() is { Length: > 0 } sig ? sig : "SIGKILL").ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }
        catch (ContainerException e)
        {
            await DockerApiServer.Error(ctx, 409, e.Message).ConfigureAwait(false);
        }
    }

    public async Task RemoveAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        try
        {
            await c.RemoveAsync(force: ctx.Request.Query["force"] is var f && (f == "1" || f == "true")).ConfigureAwait(false);
            ctx.Response.StatusCode = 204;
        }
        catch (ContainerException e)
        {
            await DockerApiServer.Error(ctx, 409, e.Message).ConfigureAwait(false);
        }
    }

    public async Task InspectAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var s = c.State;
        await DockerApiServer.Json(ctx, new JsonObject
        {
            ["Id"] = s.Id,
            ["Name"] = "/" + s.Name,
            ["Created"] = s.Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture),
            ["Image"] = s.Spec.ImageId ?? "",
            ["State"] = new JsonObject
            {
                ["Status"] = s.Status.ToString().ToLowerInvariant(),
                ["Running"] = s.Status == ContainerStatus.Running,
                ["Paused"] = s.Status == ContainerStatus.Paused,
                ["Restarting"] = s.Status == ContainerStatus.Restarting,
                ["OOMKilled"] = s.OomKilled,
                ["Dead"] = false,
                ["Pid"] = s.Pid,
                ["ExitCode"] = s.ExitCode,
                ["Error"] = s.Error ?? "",
                ["StartedAt"] = (s.StartedAt ?? DateTimeOffset.UnixEpoch).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture),
                ["FinishedAt"] = (s.FinishedAt ?? DateTimeOffset.UnixEpoch).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture),
            },
            ["Config"] = new JsonObject
            {
                ["Image"] = s.Spec.Image,
                ["Cmd"] = new JsonArray([.. s.Spec.Command.Select(x => (JsonNode)x)]),
                ["Env"] = new JsonArray([.. s.Spec.Environment.Select(x => (JsonNode)x)]),
                ["Tty"] = s.Spec.Tty,
                ["Labels"] = DockerApiServer.Map(s.Spec.Labels),
            },
            ["HostConfig"] = new JsonObject { ["AutoRemove"] = s.Spec.AutoRemove, ["NetworkMode"] = s.Spec.NetworkMode },
            ["NetworkSettings"] = new JsonObject { ["IPAddress"] = s.IPAddress ?? "", ["Gateway"] = s.Gateway ?? "" },
        }).ConfigureAwait(false);
    }

    private Container? Find(string id)
    {
        try
        {
            return engine.Get(id);
        }
        catch (ContainerNotFoundException)
        {
            return null;
        }
    }

    private static Task NotFound(HttpContext ctx, string id) => DockerApiServer.Error(ctx, 404, $"No such container: {id}");

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(x => (string?)x ?? ""),
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        _ => [],
    };
}
