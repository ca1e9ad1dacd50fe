using Containers.Networking;
using Containers.Runtime.Cgroups;

namespace Containers.DockerApi;

/// <summary>The rest of the container endpoints: the spec a create body makes, rename, pause, unpause, restart, update,
/// prune (inspect and list, logs, top and stats, and the archive are in their own files).</summary>
internal sealed partial class ContainerEndpoints
{
    internal static string Time(DateTimeOffset? t) => (t ?? DateTimeOffset.UnixEpoch).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    /// <summary>The container spec of a create body (docker's Config with HostConfig and NetworkingConfig).</summary>
    private static ContainerSpec Spec(JsonObject body, JsonObject host, string image, string? name)
    {
        const string H = "HostConfig.";
        var ports = new List<PortBinding>();
        foreach (var (port, bindings) in Body.Obj(host, "PortBindings", H) ?? [])
        {
            var parts = port.Split('/');
            if (!int.TryParse(parts[0], CultureInfo.InvariantCulture, out var containerPort))
            {
                throw new FormatException($"HostConfig.PortBindings: invalid port '{port}'");
            }

            foreach (var b in bindings as JsonArray ?? [])
            {
                var hostPort = b is JsonObject bo ? Body.Str(bo, "HostPort", H + "PortBindings." + port + ".") : null;
                var hostIp = b is JsonObject bi ? Body.Str(bi, "HostIp", H + "PortBindings." + port + ".") : null;
                ports.Add(new PortBinding(
                    containerPort,
                    string.IsNullOrEmpty(hostPort) ? 0 : int.TryParse(hostPort.Split('-')[0], CultureInfo.InvariantCulture, out var hp) ? hp : throw new FormatException($"HostConfig.PortBindings.{port}.HostPort: invalid port '{hostPort}'"),
                    string.IsNullOrEmpty(hostIp) ? "0.0.0.0" : hostIp,
                    parts.Length > 1 ? parts[1] : "tcp"));
            }
        }

        var mounts = new List<MountSpec>(Body.Strs(host, "Binds", H).Select(MountSpec.ParseVolume));
        foreach (var (i, m) in (host["Mounts"] as JsonArray ?? []).Select((m, i) => (i, m as JsonObject ?? throw new FormatException($"HostConfig.Mounts[{i}]: expected an object"))))
        {
            var where = $"HostConfig.Mounts[{i}].";
            var type = Body.Str(m, "Type", where) ?? "volume";
            var target = Body.Str(m, "Target", where) ?? throw new FormatException(where + "Target: required");
            mounts.Add(type switch
            {
                "bind" => new MountSpec(MountType.Bind, Body.Str(m, "Source", where) ?? throw new FormatException(where + "Source: required for a bind mount"), target, Body.Bool(m, "ReadOnly", where) ?? false),
                "volume" => new MountSpec(MountType.Volume, Body.Str(m, "Source", where) ?? "", target, Body.Bool(m, "ReadOnly", where) ?? false),
                "tmpfs" => new MountSpec(MountType.Tmpfs, "", target, false, null),
                _ => throw new FormatException($"{where}Type: mount type '{type}' is not supported (bind, volume, tmpfs)"),
            });
        }

        foreach (var (target, opts) in Body.Map(host, "Tmpfs", H))
        {
            mounts.Add(new MountSpec(MountType.Tmpfs, "", target, false, opts.Length == 0 ? null : opts));
        }

        var networks = new List<NetworkAttachment>();
        var networkMode = Body.Str(host, "NetworkMode", H) is { Length: > 0 } nm && nm != "default" ? nm : "bridge";
        if (Body.Obj(body, "NetworkingConfig", "") is { } nc && Body.Obj(nc, "EndpointsConfig", "NetworkingConfig.") is { } endpoints)
        {
            foreach (var (net, cfg) in endpoints)
            {
                var where = $"NetworkingConfig.EndpointsConfig.{net}.";
                var c = cfg as JsonObject ?? [];
                if (net is "bridge" or "host" or "none" or "default")
                {
                    continue;
                }

                networks.Add(new NetworkAttachment(net)
                {
                    Aliases = [.. Body.Strs(c, "Aliases", where)],
                    IPv4Address = Body.Obj(c, "IPAMConfig", where) is { } ipam ? Body.Str(ipam, "IPv4Address", where + "IPAMConfig.") is { Length: > 0 } ip ? ip : null : null,
                });
            }
        }

        if (networkMode is not ("bridge" or "host" or "none") && !networkMode.StartsWith("container:", StringComparison.Ordinal) && networks.All(n => n.Network != networkMode))
        {
            networks.Insert(0, new NetworkAttachment(networkMode));
        }

        HealthCheck? health = null;
        if (Body.Obj(body, "Healthcheck", "") is { } hc)
        {
            const string W = "Healthcheck.";
            health = new HealthCheck
            {
                Test = [.. Body.Strs(hc, "Test", W)],
                Interval = Body.Long(hc, "Interval", W) is > 0 and var iv ? TimeSpan.FromTicks(iv / 100) : TimeSpan.FromSeconds(30),
                Timeout = Body.Long(hc, "Timeout", W) is > 0 and var to ? TimeSpan.FromTicks(to / 100) : TimeSpan.FromSeconds(30),
                StartPeriod = Body.Long(hc, "StartPeriod", W) is > 0 and var sp ? TimeSpan.FromTicks(sp / 100) : TimeSpan.Zero,
                Retries = Body.Long(hc, "Retries", W) is > 0 and var r ? (int)r : 3,
            };
        }

        var restart = Body.Obj(host, "RestartPolicy", H);
        var nanoCpus = Body.Long(host, "NanoCpus", H) is > 0 and var nc2 ? nc2
            : Body.Long(host, "CpuQuota", H) is > 0 and var quota ? quota * 1_000_000_000 / (Body.Long(host, "CpuPeriod", H) is > 0 and var period ? period : 100_000) : (long?)null;
        return new ContainerSpec
        {
            Image = image,
            Name = name,
            Command = [.. Body.Strs(body, "Cmd", "")],
            Entrypoint = body["Entrypoint"] is JsonArray { Count: > 0 } || body["Entrypoint"] is JsonValue ? [.. Body.Strs(body, "Entrypoint", "")] : null,
            Environment = [.. Body.Strs(body, "Env", "")],
            WorkingDirectory = Body.Str(body, "WorkingDir", "") is { Length: > 0 } wd ? wd : null,
            User = Body.Str(body, "User", "") is { Length: > 0 } u ? u : null,
            Hostname = Body.Str(body, "Hostname", "") is { Length: > 0 } h ? h : null,
            Tty = Body.Bool(body, "Tty", "") ?? false,
            OpenStdin = Body.Bool(body, "OpenStdin", "") ?? false,
            StdinOnce = Body.Bool(body, "StdinOnce", "") ?? false,
            Labels = Body.Map(body, "Labels", "").ToImmutableDictionary(),
            ExposedPorts = [.. (Body.Obj(body, "ExposedPorts", "") ?? []).Select(kv => kv.Key)],
            HealthCheck = health,
            StopSignal = Body.Str(body, "StopSignal", "") is { Length: > 0 } ss ? ss : null,
            StopTimeout = Body.Long(body, "StopTimeout", "") is { } st ? TimeSpan.FromSeconds(st) : TimeSpan.FromSeconds(10),
            AutoRemove = Body.Bool(host, "AutoRemove", H) ?? false,
            Ports = [.. ports],
            PublishAllPorts = Body.Bool(host, "PublishAllPorts", H) ?? false,
            NetworkMode = networks.Count > 0 && networkMode is not ("host" or "none") ? "bridge" : networkMode,
            Networks = [.. networks],
            Mounts = [.. mounts],
            Resources = new ResourceLimits(
                MemoryBytes: Body.Long(host, "Memory", H) is > 0 and var mem ? mem : null,
                MemorySwapBytes: Body.Long(host, "MemorySwap", H) is > 0 and var swap ? swap : null,
                NanoCpus: nanoCpus,
                CpuShares: Body.Long(host, "CpuShares", H) is > 0 and var shares ? shares : null,
                PidsLimit: Body.Long(host, "PidsLimit", H) is > 0 and var pids ? pids : null),
            ReadOnlyRootfs = Body.Bool(host, "ReadonlyRootfs", H) ?? false,
            CapAdd = [.. Body.Strs(host, "CapAdd", H)],
            CapDrop = [.. Body.Strs(host, "CapDrop", H)],
            GroupAdd = [.. Body.Strs(host, "GroupAdd", H)],
            Ulimits = [.. (host["Ulimits"] as JsonArray ?? []).OfType<JsonObject>().Select(u => new Ulimit(Body.Str(u, "Name", H + "Ulimits.") ?? "", (ulong)(Body.Long(u, "Soft", H + "Ulimits.") ?? 0), (ulong)(Body.Long(u, "Hard", H + "Ulimits.") ?? 0)))],
            CgroupParent = Body.Str(host, "CgroupParent", H) is { Length: > 0 } cp ? cp : null,
            Restart = restart is not null && Body.Str(restart, "Name", H + "RestartPolicy.") is { Length: > 0 } rn ? new RestartPolicy(rn, (int)(Body.Long(restart, "MaximumRetryCount", H + "RestartPolicy.") ?? 0)) : RestartPolicy.No,
        };
    }

    public async Task RenameAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        try
        {
            c.Rename(ctx.Request.Query["name"].ToString());
            events.Publish("container", "rename", c.Id, ctx.Request.Query["name"], ("oldName", "/" + c.Name));
            ctx.Response.StatusCode = 204;
        }
        catch (ContainerConflictException e)
        {
            await DockerApiServer.Error(ctx, 409, e.Message).ConfigureAwait(false);
        }
        catch (ContainerException e)
        {
            await DockerApiServer.Error(ctx, 400, e.Message).ConfigureAwait(false);
        }
    }

    public Task PauseAsync(HttpContext ctx, string id) => Act(ctx, id, "pause", c => c.PauseAsync());

    public Task UnpauseAsync(HttpContext ctx, string id) => Act(ctx, id, "unpause", c => c.UnpauseAsync());

    public Task RestartAsync(HttpContext ctx, string id) => Act(ctx, id, "restart", async c =>
    {
        var t = ctx.Request.Query["t"].ToString() is { Length: > 0 } ts && int.TryParse(ts, CultureInfo.InvariantCulture, out var secs) ? TimeSpan.FromSeconds(secs) : (TimeSpan?)null;
        if (c.State.IsActive)
        {
            await c.StopAsync(t).ConfigureAwait(false);
        }

        await streams.StartAsync(c).ConfigureAwait(false);
    });

    /// <summary>POST /containers/{id}/update: memory, swap, CPUs, shares, pids and the restart policy.</summary>
    public async Task UpdateAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        try
        {
            var body = await DockerApiServer.ParseBodyAsync(ctx.Request.Body).ConfigureAwait(false) as JsonObject ?? throw new FormatException("expected an object");
            var restart = Body.Obj(body, "RestartPolicy", "");
            c.Update(
                new ResourceLimits(
                    Body.Long(body, "Memory", "") is > 0 and var m ? m : null,
                    Body.Long(body, "MemorySwap", "") is > 0 and var sw ? sw : null,
                    Body.Long(body, "NanoCpus", "") is > 0 and var cpu ? cpu : null,
                    Body.Long(body, "CpuShares", "") is > 0 and var sh ? sh : null,
                    Body.Long(body, "PidsLimit", "") is > 0 and var p ? p : null),
                restart is not null && Body.Str(restart, "Name", "RestartPolicy.") is { Length: > 0 } rn ? new RestartPolicy(rn, (int)(Body.Long(restart, "MaximumRetryCount", "RestartPolicy.") ?? 0)) : null);
            events.Publish("container", "update", c.Id, c.Name);
            await DockerApiServer.Json(ctx, new JsonObject { ["Warnings"] = new JsonArray() }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            await DockerApiServer.Error(ctx, 400, "invalid update: " + e.Message).ConfigureAwait(false);
        }
        catch (ContainerException e)
        {
            await DockerApiServer.Error(ctx, 500, e.Message).ConfigureAwait(false);
        }
    }

    /// <summary>POST /containers/prune: removes stopped containers (filters: label, until).</summary>
    public async Task PruneAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        var deleted = new JsonArray();
        foreach (var s in engine.List(all: true).Where(s => !s.IsActive))
        {
            if (filters.TryGetValue("label", out var labels) && !labels.All(v => v.Split('=', 2) is var kv && s.Spec.Labels.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1])))
            {
                continue;
            }

            try
            {
                await engine.Get(s.Id).RemoveAsync().ConfigureAwait(false);
                events.Publish("container", "destroy", s.Id, s.Name);
                streams.ForgetExecs(s.Id);
                deleted.Add((JsonNode)s.Id);
            }
            catch (ContainerException)
            {
                // started or removed meanwhile
            }
        }

        await DockerApiServer.Json(ctx, new JsonObject { ["ContainersDeleted"] = deleted, ["SpaceReclaimed"] = 0 }).ConfigureAwait(false);
    }

    private async Task Act(HttpContext ctx, string id, string action, Func<Container, Task> act)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        try
        {
            await act(c).ConfigureAwait(false);
            events.Publish("container", action, c.Id, c.Name);
            ctx.Response.StatusCode = 204;
        }
        catch (ContainerConflictException e)
        {
            await DockerApiServer.Error(ctx, 409, e.Message).ConfigureAwait(false);
        }
        catch (ContainerException e)
        {
            await DockerApiServer.Error(ctx, 500, e.Message).ConfigureAwait(false);
        }
    }
}
