namespace Containers.DockerApi;

/// <summary>The container endpoints that describe containers: inspect (docker's document, per API version) and list with filters.</summary>
internal sealed partial class ContainerEndpoints
{
    public async Task InspectAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        ContainerState s;
        try
        {
            s = c.State;
        }
        catch (ContainerNotFoundException)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var inspect = Inspect(engine, s, DockerApiServer.RequestVersion(ctx));
        inspect["ExecIDs"] = streams.ExecIds(s.Id); // the exec instances this server made
        await DockerApiServer.Json(ctx, inspect).ConfigureAwait(false);
    }

    internal static JsonObject Inspect(ContainerEngine engine, ContainerState s, Version? apiVersion = null)
    {
        var spec = s.Spec;
        var args = (spec.Entrypoint ?? []).Concat(spec.Command).ToList();
        return new JsonObject
        {
            ["Id"] = s.Id,
            ["Created"] = Time(s.Created),
            ["Path"] = args.FirstOrDefault() ?? "",
            ["Args"] = new JsonArray([.. args.Skip(1).Select(x => (JsonNode)x)]),
            ["State"] = new JsonObject
            {
                ["Status"] = Status(s),
                ["Running"] = s.Status is ContainerStatus.Running or ContainerStatus.Paused,
                ["Paused"] = s.Status == ContainerStatus.Paused,
                ["Restarting"] = s.Status == ContainerStatus.Restarting,
                ["OOMKilled"] = s.OomKilled,
                ["Dead"] = false,
                ["Pid"] = s.IsActive ? s.Pid : 0,
                ["ExitCode"] = s.ExitCode,
                ["Error"] = s.Error ?? "",
                ["StartedAt"] = Time(s.StartedAt),
                ["FinishedAt"] = Time(s.FinishedAt),
                ["Health"] = s.Health is { } h ? new JsonObject
                {
                    ["Status"] = h.Status,
                    ["FailingStreak"] = h.FailingStreak,
                    ["Log"] = new JsonArray([.. h.Log.Select(l => (JsonNode)new JsonObject { ["Start"] = Time(l.Start), ["End"] = Time(l.End), ["ExitCode"] = l.ExitCode, ["Output"] = l.Output })]),
                } : null,
            },
            ["Image"] = spec.ImageId ?? "",
            ["ExecIDs"] = null,
            ["ResolvConfPath"] = "",
            ["HostnamePath"] = "",
            ["HostsPath"] = "",
            ["LogPath"] = Path.Combine(engine.Root, "containers", s.Id, s.Id + "-json.log"),
            ["Name"] = "/" + s.Name,
            ["RestartCount"] = s.RestartCount,
            ["Driver"] = "overlay",
            ["Platform"] = "linux",
            ["MountLabel"] = "",
            ["ProcessLabel"] = "",
            ["AppArmorProfile"] = "",
            ["HostConfig"] = new JsonObject
            {
                ["Binds"] = new JsonArray([.. spec.Mounts.Where(m => m.Type != MountType.Tmpfs).Select(m => (JsonNode)$"{m.Source}:{m.Target}{(m.ReadOnly ? ":ro" : "")}")]),
                ["NetworkMode"] = spec.Networks.IsDefaultOrEmpty ? spec.NetworkMode : spec.Networks[0].Network,
                ["PortBindings"] = PortMap(spec.Ports.Select(p => (p, (int?)p.HostPort))),
                ["RestartPolicy"] = new JsonObject { ["Name"] = spec.Restart.Name, ["MaximumRetryCount"] = spec.Restart.MaximumRetryCount },
                ["AutoRemove"] = spec.AutoRemove,
                ["CapAdd"] = new JsonArray([.. spec.CapAdd.Select(x => (JsonNode)x)]),
                ["CapDrop"] = new JsonArray([.. spec.CapDrop.Select(x => (JsonNode)x)]),
                ["ReadonlyRootfs"] = spec.ReadOnlyRootfs,
                ["Memory"] = spec.Resources.MemoryBytes ?? 0,
                ["MemorySwap"] = spec.Resources.MemorySwapBytes ?? 0,
                ["NanoCpus"] = spec.Resources.NanoCpus ?? 0,
                ["CpuShares"] = spec.Resources.CpuShares ?? 0,
                ["PidsLimit"] = spec.Resources.PidsLimit,
                ["CgroupParent"] = spec.CgroupParent ?? "",
                ["PublishAllPorts"] = spec.PublishAllPorts,
                ["Privileged"] = false,
                ["LogConfig"] = new JsonObject { ["Type"] = "json-file", ["Config"] = new JsonObject() },
                ["GroupAdd"] = spec.GroupAdd.IsDefaultOrEmpty ? null : new JsonArray([.. spec.GroupAdd.Select(g => (JsonNode)g)]),
                ["Ulimits"] = new JsonArray([.. spec.Ulimits.Select(u => (JsonNode)new JsonObject { ["Name"] = u.Name, ["Soft"] = u.Soft, ["Hard"] = u.Hard })]),
                ["SecurityOpt"] = spec.NoNewPrivileges ? new JsonArray("no-new-privileges") : null,
                ["Tmpfs"] = spec.Mounts.Any(m => m.Type == MountType.Tmpfs) ? new JsonObject([.. spec.Mounts.Where(m => m.Type == MountType.Tmpfs).Select(m => KeyValuePair.Create(m.Target, (JsonNode?)(m.ReadOnly ? "ro" : "")))]) : null,
                ["MaskedPaths"] = new JsonArray([.. Containers.Shim.ShimDefaults.MaskedPaths.Select(x => (JsonNode)x)]),
                ["ReadonlyPaths"] = new JsonArray([.. Containers.Shim.ShimDefaults.ReadOnlyPaths.Select(x => (JsonNode)x)]),
                // what dockerd answers for what is not set (and what we do not set: these are docker's defaults here)
                ["ContainerIDFile"] = "", ["VolumeDriver"] = "", ["VolumesFrom"] = null, ["ConsoleSize"] = new JsonArray(0, 0),
                ["Annotations"] = null, ["CgroupnsMode"] = "private", ["Dns"] = new JsonArray(), ["DnsOptions"] = new JsonArray(),
                ["DnsSearch"] = new JsonArray(), ["ExtraHosts"] = null, ["IpcMode"] = "private", ["Cgroup"] = "", ["Links"] = null,
                ["OomScoreAdj"] = 0, ["PidMode"] = "", ["UTSMode"] = "", ["UsernsMode"] = "", ["ShmSize"] = Containers.Shim.ShimDefaults.ShmSizeBytes,
                ["Runtime"] = "runc", ["Isolation"] = "", ["Init"] = null, ["Mounts"] = null, ["Sysctls"] = null, ["StorageOpt"] = null,
                ["BlkioWeight"] = 0, ["BlkioWeightDevice"] = new JsonArray(), ["BlkioDeviceReadBps"] = new JsonArray(),
                ["BlkioDeviceWriteBps"] = new JsonArray(), ["BlkioDeviceReadIOps"] = new JsonArray(), ["BlkioDeviceWriteIOps"] = new JsonArray(),
                ["CpuPeriod"] = 0, ["CpuQuota"] = 0, ["CpuRealtimePeriod"] = 0, ["CpuRealtimeRuntime"] = 0, ["CpusetCpus"] = "",
                ["CpusetMems"] = "", ["Devices"] = new JsonArray(), ["DeviceCgroupRules"] = null, ["DeviceRequests"] = null,
                ["MemoryReservation"] = 0, ["MemorySwappiness"] = null, ["OomKillDisable"] = null, ["CpuCount"] = 0, ["CpuPercent"] = 0,
                ["IOMaximumIOps"] = 0, ["IOMaximumBandwidth"] = 0,
            },
            ["GraphDriver"] = new JsonObject { ["Name"] = "overlay", ["Data"] = new JsonObject { ["UpperDir"] = Path.Combine(engine.Root, "containers", s.Id, "upper") } },
            ["Mounts"] = Mounts(spec),
            ["Config"] = new JsonObject
            {
                ["Hostname"] = spec.Hostname ?? s.Id[..12],
                ["Domainname"] = "",
                ["User"] = spec.User ?? "",
                ["AttachStdin"] = spec.OpenStdin,
                ["AttachStdout"] = true,
                ["AttachStderr"] = true,
                ["ExposedPorts"] = new JsonObject([.. spec.ExposedPorts.Concat(spec.Ports.Select(p => $"{p.ContainerPort}/{p.Protocol}")).Select(p => p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp").Distinct().Select(p => KeyValuePair.Create(p, (JsonNode?)new JsonObject()))]),
                ["Tty"] = spec.Tty,
                ["OpenStdin"] = spec.OpenStdin,
                ["StdinOnce"] = spec.StdinOnce,
                ["Env"] = new JsonArray([.. spec.Environment.Select(x => (JsonNode)x)]),
                ["Cmd"] = new JsonArray([.. spec.Command.Select(x => (JsonNode)x)]),
                ["Entrypoint"] = spec.Entrypoint is { } ep ? new JsonArray([.. ep.Select(x => (JsonNode)x)]) : null,
                ["Image"] = spec.Image ?? spec.Rootfs,
                ["Volumes"] = null,
                ["OnBuild"] = null,
                ["WorkingDir"] = spec.WorkingDirectory ?? "",
                ["Labels"] = DockerApiServer.Map(spec.Labels),
                ["StopSignal"] = spec.StopSignal ?? "SIGTERM",
                ["StopTimeout"] = (int)spec.StopTimeout.TotalSeconds,
                ["Healthcheck"] = spec.HealthCheck is { } hc ? new JsonObject
                {
                    ["Test"] = new JsonArray([.. hc.Test.Select(x => (JsonNode)x)]),
                    ["Interval"] = hc.Interval.Ticks * 100,
                    ["Timeout"] = hc.Timeout.Ticks * 100,
                    ["StartPeriod"] = hc.StartPeriod.Ticks * 100,
                    ["Retries"] = hc.Retries,
                } : null,
            },
            ["NetworkSettings"] = NetworkSettings(s, apiVersion ?? Version.Parse(DockerApiServer.ApiVersion)),
        };
    }

    internal static string Status(ContainerState s) => s.Status switch
    {
        ContainerStatus.Created => "created",
        ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        ContainerStatus.Restarting => "restarting",
        _ => "exited",
    };

    private static JsonArray Mounts(ContainerSpec spec) => new([.. spec.Mounts.Select(m => (JsonNode)new JsonObject
    {
        ["Type"] = m.Type.ToString().ToLowerInvariant(),
        ["Name"] = m.Type == MountType.Volume ? m.Source : null,
        ["Source"] = m.Source,
        ["Destination"] = m.Target,
        ["Driver"] = m.Type == MountType.Volume ? "local" : null,
        ["Mode"] = m.ReadOnly ? "ro" : "",
        ["RW"] = !m.ReadOnly,
        ["Propagation"] = "",
    })]);

    /// <summary>{"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}]}; an exposed port without a binding maps to null.</summary>
    private static JsonObject PortMap(IEnumerable<(PortBinding Port, int? HostPort)> ports, IEnumerable<string>? exposed = null)
    {
        var map = new JsonObject();
        foreach (var (p, hostPort) in ports)
        {
            var key = $"{p.ContainerPort}/{p.Protocol}";
            if (map[key] is not JsonArray list)
            {
                map[key] = list = [];
            }

            list.Add((JsonNode)new JsonObject { ["HostIp"] = p.HostIp == "0.0.0.0" && hostPort is null ? "" : p.HostIp, ["HostPort"] = hostPort is null or 0 ? "" : hostPort.Value.ToString(CultureInfo.InvariantCulture) });
        }

        foreach (var e in exposed ?? [])
        {
            var key = e.Contains('/', StringComparison.Ordinal) ? e : e + "/tcp";
            if (!map.ContainsKey(key))
            {
                map[key] = null;
            }
        }

        return map;
    }

    private static JsonObject NetworkSettings(ContainerState s, Version apiVersion)
    {
        // Before API 1.44, dockerd listed the container's short ID among the aliases of each user-defined network's
        // endpoint (since 1.44 it is in DNSNames). docker-compose 1.29 reads it there: without it, it connects the
        // container to its network a second time and fails with "endpoint ... already exists".
        var shortId = apiVersion < new Version(1, 44) ? s.Id[..12] : null;
        JsonArray Aliases(string network, IEnumerable<string> aliases) =>
            new([.. aliases.Concat(shortId is not null && network is not ("bridge" or "host" or "none") && !aliases.Contains(shortId) ? [shortId] : []).Select(a => (JsonNode)a)]);
        var first = s.Networks.FirstOrDefault();
        var networks = new JsonObject();
        foreach (var e in s.Networks)
        {
            networks[e.Network] = new JsonObject
            {
                ["IPAMConfig"] = null,
                ["Aliases"] = Aliases(e.Network, e.Aliases),
                ["NetworkID"] = e.NetworkId,
                ["EndpointID"] = e.HostInterface,
                ["Gateway"] = e.Gateway,
                ["IPAddress"] = e.IPAddress,
                ["IPPrefixLen"] = e.PrefixLength,
                ["MacAddress"] = Mac(e.IPAddress),
                ["DNSNames"] = new JsonArray([s.Name, s.Id[..12], .. e.Aliases.Select(a => (JsonNode)a)]),
                ["Interface"] = e.Interface, // not docker's: the interface's name in the container (eth0, eth1)
            };
        }

        if (s.Spec.NetworkMode is not ("host" or "none"))
        {
            // a network the container is configured for but not attached to now (it is stopped): docker lists it without addresses
            foreach (var n in s.Spec.EffectiveNetworks().Where(n => !networks.ContainsKey(n.Network)))
            {
                networks[n.Network] = new JsonObject
                {
                    ["IPAMConfig"] = null,
                    ["Aliases"] = Aliases(n.Network, n.Aliases),
                    ["NetworkID"] = "",
                    ["EndpointID"] = "",
                    ["Gateway"] = "",
                    ["IPAddress"] = "",
                    ["IPPrefixLen"] = 0,
                    ["MacAddress"] = "",
                    ["DNSNames"] = null,
                };
            }
        }

        if (s.Networks.IsDefaultOrEmpty && s.Spec.NetworkMode is "host" or "none")
        {
            networks[s.Spec.NetworkMode] = new JsonObject { ["NetworkID"] = s.Spec.NetworkMode, ["IPAddress"] = "", ["Gateway"] = "" };
        }

        var active = s.IsActive;
        return new JsonObject
        {
            ["Bridge"] = "",
            ["SandboxID"] = "",
            ["HairpinMode"] = false,
            ["Ports"] = active ? PortMap(s.Ports.Select(p => (p, (int?)p.HostPort)), s.Spec.ExposedPorts) : new JsonObject(),
            ["SandboxKey"] = active && s.Pid > 0 ? $"/proc/{s.Pid}/ns/net" : "",
            ["IPAddress"] = s.IPAddress ?? first?.IPAddress ?? "",
            ["IPPrefixLen"] = first?.PrefixLength ?? 0,
            ["Gateway"] = s.Gateway ?? first?.Gateway ?? "",
            ["MacAddress"] = (s.IPAddress ?? first?.IPAddress) is { } ip ? Mac(ip) : "",
            ["Networks"] = networks,
        };
    }

    /// <summary>The MAC our bridges give a container address (02:42 and the four address bytes).</summary>
    private static string Mac(string ip) => System.Net.IPAddress.TryParse(ip, out var a) ? "02:42:" + string.Join(':', a.GetAddressBytes().Select(b => b.ToString("x2", CultureInfo.InvariantCulture))) : "";

    /// <summary>GET /containers/json with all, limit, size and filters (id, name, label, status, ancestor, network, exited, before, since, volume, publish, expose, health).</summary>
    public Task ListAsync(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        var all = DockerApiServer.Flag(q, "all");
        IReadOnlyDictionary<string, IReadOnlyList<string>> filters;
        try
        {
            filters = DockerApiServer.Filters(q["filters"]);
        }
        catch (FormatException e)
        {
            return DockerApiServer.Error(ctx, 400, e.Message);
        }

        var list = engine.List(all: true).ToList();
        IEnumerable<ContainerState> result = list.Where(c => all || c.IsActive || filters.ContainsKey("status") || filters.ContainsKey("exited"));
        foreach (var (key, values) in filters)
        {
            result = key switch
            {
                "id" => result.Where(c => values.Any(v => c.Id.StartsWith(v, StringComparison.Ordinal))),
                "name" => result.Where(c => values.Any(v => System.Text.RegularExpressions.Regex.IsMatch("/" + c.Name, v.StartsWith('/') || v.StartsWith('^') ? v : v, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1)))),
                "label" => result.Where(c => values.All(v => v.Split('=', 2) is var kv && c.Spec.Labels.TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1]))),
                "status" => result.Where(c => values.Contains(Status(c))),
                "exited" => result.Where(c => c.Status == ContainerStatus.Exited && values.Contains(c.ExitCode.ToString(CultureInfo.InvariantCulture))),
                "ancestor" => result.Where(c => values.Any(v => c.Spec.Image == v || c.Spec.Image?.StartsWith(v + ":", StringComparison.Ordinal) == true || (c.Spec.ImageId is { } iid && (iid == v || iid.StartsWith(v, StringComparison.Ordinal) || iid == "sha256:" + v)))),
                "network" => result.Where(c => values.Any(v => c.Networks.Any(n => n.Network == v || n.NetworkId.StartsWith(v, StringComparison.Ordinal)) || c.Spec.NetworkMode == v)),
                "volume" => result.Where(c => values.Any(v => c.Spec.Mounts.Any(m => m.Source == v || m.Target == v))),
                "publish" => result.Where(c => values.Any(v => c.Ports.Any(p => v.Split('/')[0] == p.HostPort.ToString(CultureInfo.InvariantCulture)))),
                "expose" => result.Where(c => values.Any(v => c.Spec.ExposedPorts.Contains(v) || c.Spec.Ports.Any(p => v.Split('/')[0] == p.ContainerPort.ToString(CultureInfo.InvariantCulture)))),
                "health" => result.Where(c => values.Contains(c.Health?.Status ?? "none")),
                "before" => list.FirstOrDefault(x => x.Name == values[0] || x.Id.StartsWith(values[0], StringComparison.Ordinal)) is { } before ? result.Where(c => c.Created < before.Created) : result,
                "since" => list.FirstOrDefault(x => x.Name == values[0] || x.Id.StartsWith(values[0], StringComparison.Ordinal)) is { } since ? result.Where(c => c.Created > since.Created) : result,
                _ => result,
            };
        }

        if (int.TryParse(q["limit"], CultureInfo.InvariantCulture, out var limit) && limit > 0)
        {
            result = result.Take(limit);
        }

        return DockerApiServer.Json(ctx, new JsonArray([.. result.Select(c => (JsonNode)Summary(c))]));
    }

    private static JsonObject Summary(ContainerState c) => new()
    {
        ["Id"] = c.Id,
        ["Names"] = new JsonArray("/" + c.Name),
        ["Image"] = c.Spec.Image ?? c.Spec.Rootfs,
        ["ImageID"] = c.Spec.ImageId ?? "",
        ["Command"] = string.Join(' ', [.. c.Spec.Entrypoint ?? [], .. c.Spec.Command]),
        ["Created"] = c.Created.ToUnixTimeSeconds(),
        ["State"] = Status(c),
        ["Status"] = c.Status switch
        {
            ContainerStatus.Running => "Up " + Ago(c.StartedAt) + (c.Health is { } h ? $" ({(h.Status == "starting" ? "health: starting" : h.Status)})" : ""),
            ContainerStatus.Paused => "Up " + Ago(c.StartedAt) + " (Paused)",
            ContainerStatus.Restarting => "Restarting",
            ContainerStatus.Created => "Created",
            _ => $"Exited ({c.ExitCode}) {Ago(c.FinishedAt)} ago",
        },
        ["Ports"] = new JsonArray([.. (c.IsActive ? c.Ports : []).Select(p => (JsonNode)new JsonObject { ["IP"] = p.HostIp, ["PrivatePort"] = p.ContainerPort, ["PublicPort"] = p.HostPort, ["Type"] = p.Protocol })]),
        ["Labels"] = DockerApiServer.Map(c.Spec.Labels),
        ["HostConfig"] = new JsonObject { ["NetworkMode"] = c.Spec.Networks.IsDefaultOrEmpty ? c.Spec.NetworkMode : c.Spec.Networks[0].Network },
        ["NetworkSettings"] = new JsonObject
        {
            ["Networks"] = new JsonObject([.. c.Networks.Select(e => KeyValuePair.Create(e.Network, (JsonNode?)new JsonObject { ["NetworkID"] = e.NetworkId, ["IPAddress"] = e.IPAddress, ["Gateway"] = e.Gateway, ["IPPrefixLen"] = e.PrefixLength, ["MacAddress"] = Mac(e.IPAddress) }))]),
        },
        ["Mounts"] = Mounts(c.Spec),
    };

    private static string Ago(DateTimeOffset? t)
    {
        var d = DateTimeOffset.UtcNow - (t ?? DateTimeOffset.UtcNow);
        return d.TotalSeconds < 1 ? "Less than a second" : d.TotalSeconds < 60 ? $"{(int)d.TotalSeconds} seconds" : d.TotalMinutes < 60 ? $"{(int)d.TotalMinutes} minutes" : d.TotalHours < 48 ? $"{(int)d.TotalHours} hours" : $"{(int)d.TotalDays} days";
    }
}
