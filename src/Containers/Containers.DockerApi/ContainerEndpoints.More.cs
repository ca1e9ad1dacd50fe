using Containers.DockerApi.Models;
using Containers.Networking;
using Containers.Runtime.Cgroups;

namespace Containers.DockerApi;

/// <summary>The rest of the container endpoints: the spec a create body makes, rename, pause, unpause, restart, update,
/// prune (inspect and list, logs, top and stats, and the archive are in their own files).</summary>
internal sealed partial class ContainerEndpoints
{
    internal static string Time(DateTimeOffset? t) => (t ?? DateTimeOffset.UnixEpoch).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    /// <summary>The container spec of a create body (docker's Config with HostConfig and NetworkingConfig).</summary>
    private static ContainerSpec Spec(ContainerCreateRequest body, HostConfig host, string image, string? name)
    {
        var ports = new List<PortBinding>();
        foreach (var (port, bindings) in host.PortBindings ?? [])
        {
            var parts = port.Split('/');
            if (!int.TryParse(parts[0], CultureInfo.InvariantCulture, out var containerPort))
            {
                throw new FormatException($"HostConfig.PortBindings: invalid port '{port}'");
            }

            foreach (var b in bindings ?? [])
            {
                var (hostPort, hostIp) = (b?.HostPort, b?.HostIp);
                ports.Add(new PortBinding(
                    containerPort,
                    string.IsNullOrEmpty(hostPort) ? 0 : int.TryParse(hostPort.Split('-')[0], CultureInfo.InvariantCulture, out var hp) ? hp : throw new FormatException($"HostConfig.PortBindings.{port}.HostPort: invalid port '{hostPort}'"),
                    string.IsNullOrEmpty(hostIp) ? "0.0.0.0" : hostIp,
                    parts.Length > 1 ? parts[1] : "tcp"));
            }
        }

        var mounts = new List<MountSpec>((host.Binds ?? []).Select(MountSpec.ParseVolume));
        foreach (var (i, m) in (host.Mounts ?? []).Select((m, i) => (i, m ?? throw new FormatException($"HostConfig.Mounts[{i}]: expected an object"))))
        {
            var where = $"HostConfig.Mounts[{i}].";
            var type = m.Type is { Length: > 0 } t ? t : "volume";
            var target = m.Target is { Length: > 0 } tg ? tg : throw new FormatException(where + "Target: required");
            mounts.Add(type switch
            {
                "bind" => new MountSpec(MountType.Bind, m.Source is { Length: > 0 } src ? src : throw new FormatException(where + "Source: required for a bind mount"), target, m.ReadOnly),
                "volume" => new MountSpec(MountType.Volume, m.Source ?? "", target, m.ReadOnly),
                "tmpfs" => new MountSpec(MountType.Tmpfs, "", target, false, null),
                _ => throw new FormatException($"{where}Type: mount type '{type}' is not supported (bind, volume, tmpfs)"),
            });
        }

        foreach (var (target, opts) in host.Tmpfs ?? [])
        {
            mounts.Add(new MountSpec(MountType.Tmpfs, "", target, false, string.IsNullOrEmpty(opts) ? null : opts));
        }

        var networks = new List<NetworkAttachment>();
        var networkMode = host.NetworkMode is { Length: > 0 } nm && nm != "default" ? nm : "bridge";
        foreach (var (net, endpoint) in body.NetworkingConfig?.EndpointsConfig ?? [])
        {
            if (net is "bridge" or "host" or "none" or "default")
            {
                continue;
            }

            networks.Add(new NetworkAttachment(net)
            {
                Aliases = [.. endpoint?.Aliases ?? []],
                IPv4Address = endpoint?.IPAMConfig?.IPv4Address is { Length: > 0 } ip ? ip : null,
            });
        }

        if (networkMode is not ("bridge" or "host" or "none") && !networkMode.StartsWith("container:", StringComparison.Ordinal) && networks.All(n => n.Network != networkMode))
        {
            networks.Insert(0, new NetworkAttachment(networkMode));
        }

        var health = body.Healthcheck is { } hc ? new HealthCheck
        {
            Test = [.. hc.Test ?? []],
            Interval = hc.Interval > 0 ? TimeSpan.FromTicks(hc.Interval / 100) : TimeSpan.FromSeconds(30),
            Timeout = hc.Timeout > 0 ? TimeSpan.FromTicks(hc.Timeout / 100) : TimeSpan.FromSeconds(30),
            StartPeriod = hc.StartPeriod > 0 ? TimeSpan.FromTicks(hc.StartPeriod / 100) : TimeSpan.Zero,
            Retries = hc.Retries > 0 ? hc.Retries : 3,
        } : null;
        var nanoCpus = host.NanoCpus > 0 ? host.NanoCpus
            : host.CpuQuota > 0 ? host.CpuQuota * 1_000_000_000 / (host.CpuPeriod > 0 ? host.CpuPeriod : 100_000) : (long?)null;
        return new ContainerSpec
        {
            Image = image,
            Name = name,
            Command = [.. body.Cmd ?? []],
            Entrypoint = body.Entrypoint is { Count: > 0 } ep ? [.. ep] : null,
            Environment = [.. body.Env ?? []],
            WorkingDirectory = body.WorkingDir is { Length: > 0 } wd ? wd : null,
            User = body.User is { Length: > 0 } u ? u : null,
            Hostname = body.Hostname is { Length: > 0 } h ? h : null,
            Tty = body.Tty,
            OpenStdin = body.OpenStdin,
            StdinOnce = body.StdinOnce,
            Labels = (body.Labels ?? []).ToImmutableDictionary(),
            ExposedPorts = [.. (body.ExposedPorts ?? []).Keys],
            HealthCheck = health,
            StopSignal = body.StopSignal is { Length: > 0 } ss ? ss : null,
            StopTimeout = body.StopTimeout is { } st ? TimeSpan.FromSeconds(st) : TimeSpan.FromSeconds(10),
            AutoRemove = host.AutoRemove,
            Ports = [.. ports],
            PublishAllPorts = host.PublishAllPorts,
            NetworkMode = networks.Count > 0 && networkMode is not ("host" or "none") ? "bridge" : networkMode,
            Networks = [.. networks],
            Mounts = [.. mounts],
            Resources = Limits(host.Memory, host.MemorySwap, nanoCpus, host.CpuShares, host.PidsLimit),
            ReadOnlyRootfs = host.ReadonlyRootfs,
            CapAdd = [.. host.CapAdd ?? []],
            CapDrop = [.. host.CapDrop ?? []],
            GroupAdd = [.. host.GroupAdd ?? []],
            Ulimits = [.. (host.Ulimits ?? []).Where(u => u is not null).Select(u => new Ulimit(u.Name ?? "", unchecked((ulong)u.Soft), unchecked((ulong)u.Hard)))],
            CgroupParent = host.CgroupParent is { Length: > 0 } cp ? cp : null,
            Privileged = host.Privileged,
            Init = host.Init ?? false,
            Devices = [.. (host.Devices ?? []).Select((d, i) => d is { PathOnHost: { Length: > 0 } p }
                ? new Containers.Runtime.DeviceMapping(p, d.PathInContainer ?? "", d.CgroupPermissions is { Length: > 0 } perms ? perms : "rwm")
                : throw new FormatException($"HostConfig.Devices[{i}].PathOnHost: required"))],
            DeviceCgroupRules = [.. host.DeviceCgroupRules ?? []],
            PidMode = host.PidMode ?? "",
            UsernsMode = host.UsernsMode ?? "",
            IpcMode = host.IpcMode is null or "private" ? "" : host.IpcMode,
            VolumesFrom = [.. host.VolumesFrom ?? []],
            Restart = Restart(host.RestartPolicy) ?? RestartPolicy.No,
        } is var spec ? Containers.Security.SecurityOptions.Apply(spec, host.SecurityOpt ?? []) : null!;
    }

    /// <summary>Docker's resource fields as limits: 0 and below is "not set".</summary>
    private static ResourceLimits Limits(long memory, long swap, long? nanoCpus, long shares, long? pids) => new(
        memory > 0 ? memory : null,
        swap > 0 ? swap : null,
        nanoCpus > 0 ? nanoCpus : null,
        shares > 0 ? shares : null,
        pids > 0 ? pids : null);

    private static RestartPolicy? Restart(Models.RestartPolicy? policy) =>
        policy?.Name is { Length: > 0 } name ? new RestartPolicy(name, policy.MaximumRetryCount) : null;

    public async Task RenameAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var oldName = c.Name;
        c.Rename(ctx.Request.Query["name"].ToString()); // a name in use: 409; an invalid one: 400
        events.Publish("container", "rename", c.Id, ctx.Request.Query["name"], ("oldName", "/" + oldName));
        ctx.Response.StatusCode = 204;
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
        var c = Get(id);

        try
        {
            var body = await DockerApiServer.ReadBodyAsync(ctx.Request.Body, j => j.ContainerUpdateRequest).ConfigureAwait(false) ?? throw new FormatException("expected an object");
            c.Update(Limits(body.Memory, body.MemorySwap, body.NanoCpus, body.CpuShares, body.PidsLimit), Restart(body.RestartPolicy));
            events.Publish("container", "update", c.Id, c.Name);
            await DockerApiServer.Json(ctx, new ContainerUpdateResponse(), j => j.ContainerUpdateResponse).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            await DockerApiServer.Error(ctx, 400, "invalid update: " + e.Message).ConfigureAwait(false);
        }
    }

    /// <summary>POST /containers/prune: removes stopped containers (filters: label, until).</summary>
    public async Task PruneAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        var deleted = new List<string>();
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
                deleted.Add(s.Id);
            }
            catch (ContainerException)
            {
                // started or removed meanwhile
            }
        }

        await DockerApiServer.Json(ctx, new ContainerPruneResponse { ContainersDeleted = deleted }, j => j.ContainerPruneResponse).ConfigureAwait(false);
    }

    private async Task Act(HttpContext ctx, string id, string action, Func<Container, Task> act)
    {
        var c = Get(id);

        await act(c).ConfigureAwait(false); // errors: DockerApiServer's one map, by kind
        events.Publish("container", action, c.Id, c.Name);
        ctx.Response.StatusCode = 204;
    }
}
