using Containers.DockerApi.Models;
using Containers.Networking;

namespace Containers.DockerApi;

/// <summary>Networks (create, list, inspect, remove, connect, disconnect, prune), volumes (create, list, inspect, remove, prune) and system df.</summary>
internal sealed class NetworkVolumeEndpoints(ContainerEngine engine, EventHub events)
{
    public Task ListNetworksAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        IEnumerable<NetworkInfo> list = engine.Networks.List();
        foreach (var (key, values) in filters)
        {
            list = key switch
            {
                "name" => list.Where(n => values.Any(v => n.Name.Contains(v, StringComparison.Ordinal))),
                "id" => list.Where(n => values.Any(v => n.Id.StartsWith(v, StringComparison.Ordinal))),
                "label" => list.Where(n => values.All(v => v.Split('=', 2) is var kv && n.Labels.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1]))),
                "driver" => list.Where(n => values.Contains(n.Driver)),
                "type" => list.Where(n => values.Contains(n.IsDefault ? "builtin" : "custom")),
                _ => list,
            };
        }

        return DockerApiServer.Json(ctx, [.. list.Select(Network)], j => j.ListNetwork);
    }

    private Models.Network Network(NetworkInfo n) => new()
    {
        Name = n.Name,
        Id = n.Id,
        Created = ContainerEndpoints.Time(n.Created),
        Driver = n.Driver,
        EnableIPv4 = true,
        IPAM = new IPAM { Config = [new IPAMConfig { Subnet = n.Subnet, Gateway = n.Gateway }] },
        Internal = n.Internal,
        Containers = engine.Networks.Containers(n.Id).ToDictionary(c => c.Container.Id, c => new EndpointResource
        {
            Name = c.Container.Name,
            EndpointID = c.Endpoint.HostInterface,
            IPv4Address = $"{c.Endpoint.IPAddress}/{c.Endpoint.PrefixLength}",
        }),
        // as dockerd: the default bridge's driver options, none for a user-defined network (docker-compose 1.29 compares
        // them with its file's driver_opts and refuses a network whose options "changed")
        Options = n.IsDefault
            ? new()
            {
                ["com.docker.network.bridge.default_bridge"] = "true",
                ["com.docker.network.bridge.enable_icc"] = "true",
                ["com.docker.network.bridge.enable_ip_masquerade"] = "true",
                ["com.docker.network.bridge.host_binding_ipv4"] = "0.0.0.0",
                ["com.docker.network.bridge.name"] = n.BridgeName,
                ["com.docker.network.driver.mtu"] = "1500",
            }
            : [],
        Labels = new(n.Labels),
    };

    public async Task InspectNetworkAsync(HttpContext ctx, string id)
    {
        try
        {
            await DockerApiServer.Json(ctx, Network(engine.Networks.Get(id)), j => j.Network).ConfigureAwait(false);
        }
        catch (ContainerNotFoundException)
        {
            await DockerApiServer.Error(ctx, 404, $"network {id} not found").ConfigureAwait(false);
        }
    }

    /// <summary>POST /networks/create: Name, Driver (bridge only), Internal, Labels, IPAM.Config[0].Subnet/Gateway, CheckDuplicate.</summary>
    public async Task CreateNetworkAsync(HttpContext ctx)
    {
        try
        {
            var body = await DockerApiServer.ReadBodyAsync(ctx.Request.Body, j => j.NetworkCreateRequest).ConfigureAwait(false) ?? throw new FormatException("expected an object");
            var name = body.Name is { Length: > 0 } nm ? nm : throw new FormatException("Name: a network name is required");
            var driver = body.Driver ?? "bridge";
            if (driver is not ("bridge" or ""))
            {
                await DockerApiServer.Error(ctx, 400, $"Driver: only the bridge driver is served, not {driver}").ConfigureAwait(false);
                return;
            }

            var ipam = body.IPAM?.Config is { Count: > 0 } cfg ? cfg[0] : null;
            var created = engine.Networks.Create(name, new NetworkCreateOptions
            {
                Subnet = ipam?.Subnet is { Length: > 0 } subnet ? subnet : null,
                Gateway = ipam?.Gateway is { Length: > 0 } gateway ? gateway : null,
                Internal = body.Internal,
                Labels = (body.Labels ?? []).ToImmutableDictionary(),
            });
            events.Publish("network", "create", created.Id, created.Name, ("type", "bridge"));
            ctx.Response.StatusCode = 201;
            await DockerApiServer.Json(ctx, new NetworkCreateResponse { Id = created.Id }, j => j.NetworkCreateResponse).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            await DockerApiServer.Error(ctx, 400, "invalid network config: " + e.Message).ConfigureAwait(false);
        }
        catch (ContainerException e)
        {
            await NetworkError(ctx, e).ConfigureAwait(false);
        }
    }

    public Task RemoveNetworkAsync(HttpContext ctx, string id) => Net(ctx, id, () =>
    {
        var n = engine.Networks.Get(id);
        engine.Networks.Remove(id);
        events.Publish("network", "destroy", n.Id, n.Name);
        ctx.Response.StatusCode = 204;
    });

    /// <summary>POST /networks/{id}/connect: Container, EndpointConfig.Aliases, EndpointConfig.IPAMConfig.IPv4Address.</summary>
    public async Task ConnectAsync(HttpContext ctx, string id)
    {
        if (await ReadBodyAsync(ctx, "connect", j => j.NetworkConnectRequest).ConfigureAwait(false) is not { } body)
        {
            return;
        }

        await Net(ctx, id, () =>
        {
            var container = body.Container ?? throw new FormatException("Container: required");
            var ip = body.EndpointConfig?.IPAMConfig?.IPv4Address;
            engine.Networks.Connect(id, container, body.EndpointConfig?.Aliases ?? [], string.IsNullOrEmpty(ip) ? null : ip);
            events.Publish("network", "connect", engine.Networks.Get(id).Id, engine.Networks.Get(id).Name, ("container", engine.Get(container).Id));
            ctx.Response.StatusCode = 200;
        }).ConfigureAwait(false);
    }

    public async Task DisconnectAsync(HttpContext ctx, string id)
    {
        if (await ReadBodyAsync(ctx, "disconnect", j => j.NetworkDisconnectRequest).ConfigureAwait(false) is not { } body)
        {
            return;
        }

        await Net(ctx, id, () =>
        {
            var network = engine.Networks.Get(id); // as dockerd: a network that does not exist is a 404 whatever the body
            var container = body.Container ?? throw new FormatException("Container: required");
            engine.Networks.Disconnect(id, container, body.Force);
            events.Publish("network", "disconnect", network.Id, network.Name);
            ctx.Response.StatusCode = 200;
        }).ConfigureAwait(false);
    }

    /// <summary>The request's JSON object, or null after answering 400.</summary>
    private static async Task<T?> ReadBodyAsync<T>(HttpContext ctx, string what, Func<DockerJsonContext, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T>> type)
        where T : class
    {
        try
        {
            return await DockerApiServer.ReadBodyAsync(ctx.Request.Body, type).ConfigureAwait(false) ?? throw new FormatException("expected an object");
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
        {
            await DockerApiServer.Error(ctx, 400, $"invalid {what} request: " + e.Message).ConfigureAwait(false);
            return null;
        }
    }

    public Task PruneNetworksAsync(HttpContext ctx)
    {
        var removed = engine.Networks.Prune();
        foreach (var n in removed)
        {
            events.Publish("network", "destroy", n, n);
        }

        return DockerApiServer.Json(ctx, new NetworkPruneResponse { NetworksDeleted = [.. removed] }, j => j.NetworkPruneResponse);
    }

    private static async Task Net(HttpContext ctx, string id, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (e is ContainerException or FormatException)
        {
            await NetworkError(ctx, e).ConfigureAwait(false);
        }
    }

    /// <summary>The one map, by kind; an unclassified failure of a network request is the request's (400), as libnetwork's are in dockerd.</summary>
    private static Task NetworkError(HttpContext ctx, Exception e)
    {
        var kind = ErrorKinds.Of(e);
        return DockerApiServer.Error(ctx, ErrorKinds.HttpStatus(kind == ErrorKind.Unknown ? ErrorKind.InvalidArgument : kind), e.Message);
    }

    internal static Volume Volume(Runtime.VolumeInfo v, long? size = null, int? refs = null) => new()
    {
        Name = v.Name,
        Driver = v.Driver,
        Mountpoint = v.Mountpoint,
        CreatedAt = ContainerEndpoints.Time(v.CreatedAt),
        Labels = new(v.Labels),
        UsageData = size is null ? null : new VolumeUsageData { Size = size.Value, RefCount = refs ?? 0 },
    };

    public Task ListVolumesAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        IEnumerable<Runtime.VolumeInfo> list = engine.Volumes.List();
        var used = engine.List(all: true).SelectMany(c => c.Spec.Mounts.Where(m => m.Type == Runtime.MountType.Volume).Select(m => m.Source)).ToHashSet(StringComparer.Ordinal);
        foreach (var (key, values) in filters)
        {
            list = key switch
            {
                "name" => list.Where(v => values.Any(x => v.Name.Contains(x, StringComparison.Ordinal))),
                "label" => list.Where(v => values.All(x => x.Split('=', 2) is var kv && v.Labels.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1]))),
                "dangling" => list.Where(v => values.Contains(used.Contains(v.Name) ? "false" : "true")),
                "driver" => list.Where(v => values.Contains(v.Driver)),
                _ => list,
            };
        }

        return DockerApiServer.Json(ctx, new VolumeListResponse { Volumes = [.. list.Select(v => Volume(v))] }, j => j.VolumeListResponse);
    }

    public async Task CreateVolumeAsync(HttpContext ctx)
    {
        try
        {
            var body = await DockerApiServer.ReadBodyAsync(ctx.Request.Body, j => j.VolumeCreateRequest).ConfigureAwait(false) ?? new VolumeCreateRequest();
            var driver = body.Driver ?? "local";
            if (driver is not ("local" or ""))
            {
                await DockerApiServer.Error(ctx, 400, $"Driver: only the local driver is served, not {driver}").ConfigureAwait(false);
                return;
            }

            var v = engine.Volumes.Create(body.Name is { Length: > 0 } n ? n : null, body.Labels ?? []);
            events.Publish("volume", "create", v.Name, v.Name, ("driver", "local"));
            ctx.Response.StatusCode = 201;
            await DockerApiServer.Json(ctx, Volume(v), j => j.Volume).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or ContainerException)
        {
            await DockerApiServer.Error(ctx, 400, "invalid volume config: " + e.Message).ConfigureAwait(false);
        }
    }

    public async Task InspectVolumeAsync(HttpContext ctx, string name)
    {
        try
        {
            await DockerApiServer.Json(ctx, Volume(engine.Volumes.Get(name)), j => j.Volume).ConfigureAwait(false);
        }
        catch (ContainerNotFoundException)
        {
            await DockerApiServer.Error(ctx, 404, $"get {name}: no such volume").ConfigureAwait(false);
        }
    }

    public async Task RemoveVolumeAsync(HttpContext ctx, string name)
    {
        try
        {
            engine.Volumes.Remove(name, DockerApiServer.Flag(ctx.Request.Query, "force"));
            events.Publish("volume", "destroy", name, name);
            ctx.Response.StatusCode = 204;
        }
        catch (ContainerNotFoundException)
        {
            await DockerApiServer.Error(ctx, 404, $"get {name}: no such volume").ConfigureAwait(false); // dockerd's words; a volume in use: 409 by kind
        }
    }

    public Task PruneVolumesAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        var removed = engine.Volumes.Prune(all: filters.TryGetValue("all", out var all) && all.Any(DockerApiServer.Truthy));
        foreach (var v in removed)
        {
            events.Publish("volume", "destroy", v, v);
        }

        return DockerApiServer.Json(ctx, new VolumePruneResponse { VolumesDeleted = [.. removed] }, j => j.VolumePruneResponse);
    }

    /// <summary>GET /system/df: images, containers, volumes with their sizes (build cache: none reported).</summary>
    public Task DiskUsageAsync(HttpContext ctx)
    {
        var containers = engine.List(all: true);
        var images = engine.Images.List();
        var volumes = engine.Volumes.List();
        return DockerApiServer.Json(ctx, new SystemDataUsageResponse
        {
            LayersSize = images.SelectMany(i => i.Manifest.Layers).DistinctBy(l => l.Digest).Sum(l => l.Size),
            Images = [.. images.Select(i => ImageEndpoints.Summary(i, DockerApiServer.RequestVersion(ctx), containers.Count(c => c.Spec.ImageId == i.Id.ToString())))], // df counts the containers, at any version
            Containers = [.. containers.Select(c => new ContainerUsage
            {
                Id = c.Id,
                Names = ["/" + c.Name],
                Image = c.Spec.Image ?? "",
                ImageID = c.Spec.ImageId ?? "",
                Command = string.Join(' ', c.Spec.ProcessArgv()),
                Created = c.Created.ToUnixTimeSeconds(),
                State = ContainerEndpoints.Status(c),
                Status = ContainerEndpoints.Status(c),
                SizeRw = DirSize(Path.Combine(engine.Root, "containers", c.Id, "upper")),
                Labels = new(c.Spec.Labels),
            })],
            Volumes = [.. volumes.Select(v => Volume(v, DirSize(v.Mountpoint), containers.Count(c => c.Spec.Mounts.Any(m => m.Type == Runtime.MountType.Volume && m.Source == v.Name))))],
        }, j => j.SystemDataUsageResponse);
    }

    private static long DirSize(string dir)
    {
        try
        {
            return Directory.Exists(dir) ? new DirectoryInfo(dir).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true }).Sum(f => f.Length) : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
