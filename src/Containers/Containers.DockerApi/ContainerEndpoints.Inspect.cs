using Containers.DockerApi.Models;

namespace Containers.DockerApi;

/// <summary>The container endpoints that describe containers: inspect (docker's document, per API version) and list with filters.</summary>
internal sealed partial class ContainerEndpoints
{
    public async Task InspectAsync(HttpContext ctx, string id)
    {
        ContainerState s;
        try
        {
            s = Get(id).State;
        }
        catch (ContainerNotFoundException)
        {
            throw new ContainerNotFoundException($"No such container: {id}"); // removed meanwhile
        }

        var inspect = Inspect(engine, s, DockerApiServer.RequestVersion(ctx), streams.ExecIds(s.Id)); // the exec instances this server made
        await DockerApiServer.Json(ctx, inspect, j => j.ContainerInspectResponse).ConfigureAwait(false);
    }

    internal static ContainerInspectResponse Inspect(ContainerEngine engine, ContainerState s, Version? apiVersion = null, List<string>? execIds = null)
    {
        var spec = s.Spec;
        var args = spec.ProcessArgv();
        return new ContainerInspectResponse
        {
            Id = s.Id,
            Created = Time(s.Created),
            Path = args.FirstOrDefault() ?? "",
            Args = [.. args.Skip(1)],
            State = new Models.ContainerState
            {
                Status = Status(s),
                Running = s.Status is ContainerStatus.Running or ContainerStatus.Paused,
                Paused = s.Status == ContainerStatus.Paused,
                Restarting = s.Status == ContainerStatus.Restarting,
                OOMKilled = s.OomKilled,
                Dead = false,
                Pid = s.IsActive ? s.Pid : 0,
                ExitCode = s.ExitCode,
                Error = s.Error ?? "",
                StartedAt = Time(s.StartedAt),
                FinishedAt = Time(s.FinishedAt),
                Health = s.Health is { } h ? new Health
                {
                    Status = h.Status,
                    FailingStreak = h.FailingStreak,
                    Log = [.. h.Log.Select(l => new HealthcheckResult { Start = Time(l.Start), End = Time(l.End), ExitCode = l.ExitCode, Output = l.Output })],
                } : null,
            },
            Image = spec.ImageId ?? "",
            ExecIDs = execIds,
            LogPath = Path.Combine(engine.Root, "containers", s.Id, s.Id + "-json.log"),
            Name = "/" + s.Name,
            RestartCount = s.RestartCount,
            Driver = "overlay",
            Platform = "linux",
            HostConfig = HostConfigOf(spec),
            GraphDriver = new DriverData { Name = "overlay", Data = new() { ["UpperDir"] = Path.Combine(engine.Root, "containers", s.Id, "upper") } },
            Mounts = Mounts(spec),
            Config = new ContainerConfig
            {
                Hostname = spec.Hostname ?? s.Id[..12],
                User = spec.User ?? "",
                AttachStdin = spec.OpenStdin,
                AttachStdout = true,
                AttachStderr = true,
                ExposedPorts = spec.ExposedPorts.Concat(spec.Ports.Select(p => $"{p.ContainerPort}/{p.Protocol}")).Select(p => p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp").Distinct().ToDictionary(p => p, _ => new Images.Oci.EmptyObject()),
                Tty = spec.Tty,
                OpenStdin = spec.OpenStdin,
                StdinOnce = spec.StdinOnce,
                Env = [.. spec.Environment],
                Cmd = [.. spec.ArgumentsAfterEntrypoint()],
                Entrypoint = spec.Entrypoint is { } ep ? [.. ep] : null,
                Image = spec.Image ?? spec.Rootfs ?? "",
                WorkingDir = spec.WorkingDirectory ?? "",
                Labels = new(spec.Labels),
                StopSignal = spec.StopSignal ?? "SIGTERM",
                StopTimeout = (int)spec.StopTimeout.TotalSeconds,
                Healthcheck = spec.HealthCheck is { } hc ? new HealthConfig
                {
                    Test = [.. hc.Test],
                    Interval = hc.Interval.Ticks * 100,
                    Timeout = hc.Timeout.Ticks * 100,
                    StartPeriod = hc.StartPeriod.Ticks * 100,
                    Retries = hc.Retries,
                } : null,
            },
            NetworkSettings = NetworkSettingsOf(s, apiVersion ?? Version.Parse(DockerApiServer.ApiVersion)),
        };
    }

    private static HostConfig HostConfigOf(ContainerSpec spec) => new()
    {
        Binds = [.. spec.Mounts.Where(m => m.Type != MountType.Tmpfs).Select(m => $"{m.Source}:{m.Target}{(m.ReadOnly ? ":ro" : "")}")],
        NetworkMode = spec.Networks.IsDefaultOrEmpty ? spec.NetworkMode : spec.Networks[0].Network,
        PortBindings = PortMap(spec.Ports.Select(p => (p, (int?)p.HostPort))),
        RestartPolicy = new Models.RestartPolicy { Name = spec.Restart.Name, MaximumRetryCount = spec.Restart.MaximumRetryCount },
        AutoRemove = spec.AutoRemove,
        CapAdd = [.. spec.CapAdd],
        CapDrop = [.. spec.CapDrop],
        ReadonlyRootfs = spec.ReadOnlyRootfs,
        Memory = spec.Resources.MemoryBytes ?? 0,
        MemorySwap = spec.Resources.MemorySwapBytes ?? 0,
        NanoCpus = spec.Resources.NanoCpus ?? 0,
        CpuShares = spec.Resources.CpuShares ?? 0,
        PidsLimit = spec.Resources.PidsLimit,
        CgroupParent = spec.CgroupParent ?? "",
        PublishAllPorts = spec.PublishAllPorts,
        LogConfig = new LogConfig { Type = "json-file" },
        GroupAdd = spec.GroupAdd.IsDefaultOrEmpty ? null : [.. spec.GroupAdd],
        Ulimits = [.. spec.Ulimits.Select(u => new Models.Ulimit { Name = u.Name, Soft = unchecked((long)u.Soft), Hard = unchecked((long)u.Hard) })],
        SecurityOpt = SecurityOpt(spec),
        Tmpfs = spec.Mounts.Any(m => m.Type == MountType.Tmpfs) ? spec.Mounts.Where(m => m.Type == MountType.Tmpfs).ToDictionary(m => m.Target, m => m.ReadOnly ? "ro" : "") : null,
        MaskedPaths = spec.Privileged ? [] : [.. ContainerDefaults.MaskedPaths],
        ReadonlyPaths = spec.Privileged ? [] : [.. ContainerDefaults.ReadOnlyPaths],
        Privileged = spec.Privileged,
        Init = spec.Init ? true : null,
        Devices = [.. spec.Devices.Select(d => new Models.DeviceMapping { PathOnHost = d.HostPath, PathInContainer = d.Target, CgroupPermissions = d.Permissions })],
        DeviceCgroupRules = spec.DeviceCgroupRules.IsDefaultOrEmpty ? null : [.. spec.DeviceCgroupRules],
        PidMode = spec.PidMode,
        UsernsMode = spec.UsernsMode,
        IpcMode = spec.IpcMode is { Length: > 0 } ipc ? ipc : "private",
        VolumesFrom = spec.VolumesFrom.IsDefaultOrEmpty ? null : [.. spec.VolumesFrom],
        ConsoleSize = [0, 0],
        ShmSize = ContainerDefaults.ShmSizeBytes,
    };

    internal static string Status(ContainerState s) => s.Status switch
    {
        ContainerStatus.Created => "created",
        ContainerStatus.Running => "running",
        ContainerStatus.Paused => "paused",
        ContainerStatus.Restarting => "restarting",
        _ => "exited",
    };

    private static List<MountPoint> Mounts(ContainerSpec spec) => [.. spec.Mounts.Select(m => new MountPoint
    {
        Type = m.Type.ToString().ToLowerInvariant(),
        Name = m.Type == MountType.Volume ? m.Source : null,
        Source = m.Source,
        Destination = m.Target,
        Driver = m.Type == MountType.Volume ? "local" : null,
        Mode = m.ReadOnly ? "ro" : "",
        RW = !m.ReadOnly,
    })];

    /// <summary>{"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}]}; an exposed port without a binding maps to null.</summary>
    private static Dictionary<string, List<Models.PortBinding>?> PortMap(IEnumerable<(PortBinding Port, int? HostPort)> ports, IEnumerable<string>? exposed = null)
    {
        var map = new Dictionary<string, List<Models.PortBinding>?>();
        foreach (var (p, hostPort) in ports)
        {
            var key = $"{p.ContainerPort}/{p.Protocol}";
            if (map.GetValueOrDefault(key) is not { } list)
            {
                map[key] = list = [];
            }

            list.Add(new Models.PortBinding { HostIp = p.HostIp == "0.0.0.0" && hostPort is null ? "" : p.HostIp, HostPort = hostPort is null or 0 ? "" : hostPort.Value.ToString(CultureInfo.InvariantCulture) });
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

    private static NetworkSettings NetworkSettingsOf(ContainerState s, Version apiVersion)
    {
        // Before API 1.45, dockerd adds the container's short ID and its hostname to the aliases of each user-defined
        // network's endpoint (moby's inspect.go; from 1.45 on they are in DNSNames only). docker-compose 1.29 reads the
        // short ID there: without it, it connects the container to its network a second time and fails with
        // "endpoint ... already exists".
        string[] extra = apiVersion < new Version(1, 45) ? [s.Id[..12], s.Spec.Hostname ?? s.Id[..12]] : [];
        List<string> Aliases(string network, IEnumerable<string> aliases) =>
            network is "bridge" or "host" or "none" ? [.. aliases] : [.. aliases.Concat(extra).Distinct(StringComparer.Ordinal)];
        var first = s.Networks.FirstOrDefault();
        var networks = new Dictionary<string, EndpointSettings>();
        foreach (var e in s.Networks)
        {
            networks[e.Network] = new EndpointSettings
            {
                Aliases = Aliases(e.Network, e.Aliases),
                NetworkID = e.NetworkId,
                EndpointID = e.HostInterface,
                Gateway = e.Gateway,
                IPAddress = e.IPAddress,
                IPPrefixLen = e.PrefixLength,
                MacAddress = Mac(e.IPAddress),
                DNSNames = [s.Name, s.Id[..12], .. e.Aliases],
                Interface = e.Interface,
            };
        }

        if (s.Spec.NetworkMode is not ("host" or "none"))
        {
            // a network the container is configured for but not attached to now (it is stopped): docker lists it without addresses
            foreach (var n in s.Spec.EffectiveNetworks().Where(n => !networks.ContainsKey(n.Network)))
            {
                networks[n.Network] = new EndpointSettings { Aliases = Aliases(n.Network, n.Aliases) };
            }
        }

        if (s.Networks.IsDefaultOrEmpty && s.Spec.NetworkMode is "host" or "none")
        {
            networks[s.Spec.NetworkMode] = new EndpointSettings { NetworkID = s.Spec.NetworkMode };
        }

        var active = s.IsActive;
        return new NetworkSettings
        {
            Ports = active ? PortMap(s.Ports.Select(p => (p, (int?)p.HostPort)), s.Spec.ExposedPorts) : [],
            SandboxKey = active && s.Pid > 0 ? $"/proc/{s.Pid}/ns/net" : "",
            IPAddress = s.IPAddress ?? first?.IPAddress ?? "",
            IPPrefixLen = first?.PrefixLength ?? 0,
            Gateway = s.Gateway ?? first?.Gateway ?? "",
            MacAddress = (s.IPAddress ?? first?.IPAddress) is { } ip ? Mac(ip) : "",
            Networks = networks,
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

        return DockerApiServer.Json(ctx, [.. result.Select(Summary)], j => j.ListContainerSummary);
    }

    private static ContainerSummary Summary(ContainerState c) => new()
    {
        Id = c.Id,
        Names = ["/" + c.Name],
        Image = c.Spec.Image ?? c.Spec.Rootfs ?? "",
        ImageID = c.Spec.ImageId ?? "",
        Command = string.Join(' ', c.Spec.ProcessArgv()),
        Created = c.Created.ToUnixTimeSeconds(),
        State = Status(c),
        Status = c.Status switch
        {
            ContainerStatus.Running => "Up " + Ago(c.StartedAt) + (c.Health is { } h ? $" ({(h.Status == "starting" ? "health: starting" : h.Status)})" : ""),
            ContainerStatus.Paused => "Up " + Ago(c.StartedAt) + " (Paused)",
            ContainerStatus.Restarting => "Restarting",
            ContainerStatus.Created => "Created",
            _ => $"Exited ({c.ExitCode}) {Ago(c.FinishedAt)} ago",
        },
        Ports = [.. (c.IsActive ? c.Ports : []).Select(p => new PortSummary { IP = p.HostIp, PrivatePort = p.ContainerPort, PublicPort = p.HostPort, Type = p.Protocol })],
        Labels = new(c.Spec.Labels),
        HostConfig = new ContainerSummaryHostConfig { NetworkMode = c.Spec.Networks.IsDefaultOrEmpty ? c.Spec.NetworkMode : c.Spec.Networks[0].Network },
        NetworkSettings = new ContainerSummaryNetworkSettings
        {
            Networks = c.Networks.ToDictionary(e => e.Network, e => new EndpointSettings { NetworkID = e.NetworkId, IPAddress = e.IPAddress, Gateway = e.Gateway, IPPrefixLen = e.PrefixLength, MacAddress = Mac(e.IPAddress) }),
        },
        Mounts = Mounts(c.Spec),
    };

    private static string Ago(DateTimeOffset? t)
    {
        var d = DateTimeOffset.UtcNow - (t ?? DateTimeOffset.UtcNow);
        return d.TotalSeconds < 1 ? "Less than a second" : d.TotalSeconds < 60 ? $"{(int)d.TotalSeconds} seconds" : d.TotalMinutes < 60 ? $"{(int)d.TotalMinutes} minutes" : d.TotalHours < 48 ? $"{(int)d.TotalHours} hours" : $"{(int)d.TotalDays} days";
    }

    /// <summary>HostConfig.SecurityOpt as docker reports it (null when none was given).</summary>
    private static List<string>? SecurityOpt(ContainerSpec spec)
    {
        var options = new List<string>();
        if (spec.NoNewPrivileges)
        {
            options.Add("no-new-privileges");
        }

        if (spec.SeccompProfile is { } profile)
        {
            options.Add("seccomp=" + profile);
        }

        return options.Count > 0 ? options : null;
    }
}
