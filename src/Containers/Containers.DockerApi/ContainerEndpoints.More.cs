using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Containers.Networking;
using Containers.Runtime;
using Containers.Runtime.Cgroups;
using Microsoft.AspNetCore.Http;

namespace Containers.DockerApi;

/// <summary>The rest of the container endpoints: the spec a create body makes, inspect, list with filters, logs, top,
/// stats, archive (docker cp), rename, pause, unpause, restart, update, prune.</summary>
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

        await DockerApiServer.Json(ctx, Inspect(engine, s, DockerApiServer.RequestVersion(ctx))).ConfigureAwait(false);
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

    /// <summary>GET /containers/{id}/logs: the json log as Docker's multiplexed stream (raw with a TTY), with follow, tail, since, until, timestamps.</summary>
    public async Task LogsAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var q = ctx.Request.Query;
        bool Flag(string k) => DockerApiServer.Flag(q, k);
        var wantOut = Flag("stdout");
        var wantErr = Flag("stderr");
        if (!wantOut && !wantErr)
        {
            await DockerApiServer.Error(ctx, 400, "Bad parameters: you must choose at least one stream").ConfigureAwait(false);
            return;
        }

        var tty = c.State.Spec.Tty;
        int? tail = q["tail"].ToString() is { Length: > 0 } t && t != "all" ? int.TryParse(t, CultureInfo.InvariantCulture, out var n) ? n : null : null;
        var since = Seconds(q["since"]);
        var until = Seconds(q["until"]);
        ctx.Response.ContentType = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        await ctx.Response.StartAsync().ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync().ConfigureAwait(false);
        var frames = new FrameWriter(ctx.Response.Body, tty);
        try
        {
            await foreach (var e in c.GetLogsAsync(Flag("follow"), tail, ctx.RequestAborted).ConfigureAwait(false))
            {
                if (since is { } from && e.Time < from)
                {
                    continue;
                }

                if (until is { } to && e.Time > to)
                {
                    break;
                }

                await StreamEndpoints.WriteEntryAsync(frames, e, wantOut, wantErr, Flag("timestamps"), ctx.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static DateTimeOffset? Seconds(string? value) =>
        decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s != 0 ? DateTimeOffset.UnixEpoch.AddTicks((long)(s * TimeSpan.TicksPerSecond)) : null;

    /// <summary>GET /containers/{id}/top: the container's processes, as ps -ef would show them.</summary>
    public async Task TopAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        if (!c.State.IsActive)
        {
            await DockerApiServer.Error(ctx, 409, $"container {c.Id} is not running").ConfigureAwait(false);
            return;
        }

        var ticks = 100.0;
        var boot = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture));
        var rows = new JsonArray();
        foreach (var pid in c.GetProcesses().Order())
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var close = stat.LastIndexOf(')');
                var f = stat[(close + 2)..].Split(' ');
                var uid = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
                var cmd = File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' ');
                var cpu = TimeSpan.FromSeconds((long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / ticks);
                var started = boot + TimeSpan.FromSeconds(long.Parse(f[19], CultureInfo.InvariantCulture) / ticks);
                rows.Add((JsonNode)new JsonArray(
                    uid == "0" ? "root" : uid,
                    pid.ToString(CultureInfo.InvariantCulture),
                    f[1],
                    "0",
                    started.ToLocalTime().ToString("HH:mm", CultureInfo.InvariantCulture),
                    "?",
                    $"{(int)cpu.TotalHours:00}:{cpu.Minutes:00}:{cpu.Seconds:00}",
                    cmd.Length > 0 ? cmd : "[" + stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close] + "]"));
            }
            catch (Exception e) when (e is IOException or FormatException or InvalidOperationException or IndexOutOfRangeException)
            {
                // it exited meanwhile
            }
        }

        await DockerApiServer.Json(ctx, new JsonObject { ["Titles"] = new JsonArray("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"), ["Processes"] = rows }).ConfigureAwait(false);
    }

    /// <summary>GET /containers/{id}/stats: Docker's stats object, once (stream=false, with a 500 ms earlier sample as precpu unless one-shot) or every second.</summary>
    public async Task StatsAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var q = ctx.Request.Query;
        var stream = DockerApiServer.Flag(q, "stream", absent: true);
        var oneShot = DockerApiServer.Flag(q, "one-shot");
        ctx.Response.ContentType = "application/json";
        (CgroupStats? Stats, long System, DateTimeOffset At) Sample()
        {
            CgroupStats? stats = null;
            try
            {
                stats = c.State.IsActive ? c.GetStatsAsync().GetAwaiter().GetResult() : null;
            }
            catch (ContainerException)
            {
            }

            return (stats, SystemCpuNanoseconds(), DateTimeOffset.UtcNow);
        }

        var previous = Sample();
        if (!stream && !oneShot)
        {
            await Task.Delay(500, ctx.RequestAborted).ConfigureAwait(false);
        }

        try
        {
            while (true)
            {
                var now = Sample();
                await ctx.Response.WriteAsync(StatsJson(c, now, previous).ToJsonString() + "\n", ctx.RequestAborted).ConfigureAwait(false);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
                if (!stream || now.Stats is null)
                {
                    break;
                }

                previous = now;
                await Task.Delay(1000, ctx.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static JsonObject StatsJson(Container c, (CgroupStats? Stats, long System, DateTimeOffset At) now, (CgroupStats? Stats, long System, DateTimeOffset At) pre)
    {
        JsonObject Cpu((CgroupStats? Stats, long System, DateTimeOffset At) x) => new()
        {
            ["cpu_usage"] = new JsonObject { ["total_usage"] = x.Stats?.CpuUsageNanoseconds ?? 0, ["usage_in_kernelmode"] = 0, ["usage_in_usermode"] = x.Stats?.CpuUsageNanoseconds ?? 0 },
            ["system_cpu_usage"] = x.System,
            ["online_cpus"] = Environment.ProcessorCount,
            ["throttling_data"] = new JsonObject { ["periods"] = 0, ["throttled_periods"] = 0, ["throttled_time"] = 0 },
        };
        var s = now.Stats;
        return new JsonObject
        {
            ["name"] = "/" + c.Name,
            ["id"] = c.Id,
            ["read"] = Time(now.At),
            ["preread"] = Time(pre.At),
            ["pids_stats"] = s is null ? new JsonObject() : new JsonObject { ["current"] = s.Pids, ["limit"] = s.PidsLimit },
            ["cpu_stats"] = Cpu(now),
            ["precpu_stats"] = Cpu(pre),
            ["memory_stats"] = s is null ? new JsonObject() : new JsonObject { ["usage"] = s.MemoryUsageBytes, ["max_usage"] = s.MemoryPeakBytes, ["limit"] = s.MemoryLimitBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, ["stats"] = new JsonObject() },
            ["blkio_stats"] = new JsonObject(),
            ["networks"] = new JsonObject(),
        };
    }

    /// <summary>/proc/stat's total of all CPUs in nanoseconds (Docker's system_cpu_usage).</summary>
    private static long SystemCpuNanoseconds()
    {
        var line = File.ReadLines("/proc/stat").First();
        var total = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(7).Sum(v => long.Parse(v, CultureInfo.InvariantCulture));
        return total * (1_000_000_000 / 100);
    }

    /// <summary>HEAD and GET /containers/{id}/archive?path=: the stat header, and for GET a tar of the path.</summary>
    public async Task ArchiveGetAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var path = ctx.Request.Query["path"].ToString();
        if (path.Length == 0)
        {
            await DockerApiServer.Error(ctx, 400, "path: a path is required").ConfigureAwait(false);
            return;
        }

        ContainerPathStat stat;
        try
        {
            stat = c.StatPath(path);
        }
        catch (FileNotFoundException e)
        {
            await DockerApiServer.Error(ctx, 404, e.Message).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is IOException or ContainerException or UnauthorizedAccessException)
        {
            await DockerApiServer.Error(ctx, 500, e.Message).ConfigureAwait(false);
            return;
        }

        ctx.Response.Headers["X-Docker-Container-Path-Stat"] = PathStatHeader(stat);
        if (HttpMethods.IsHead(ctx.Request.Method))
        {
            return;
        }

        ctx.Response.ContentType = "application/x-tar";
        await c.CopyFromAsync(path, ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }

    private static string PathStatHeader(ContainerPathStat s)
    {
        // Go's os.FileMode: permission bits plus type flags in the high bits
        var mode = (uint)(s.Mode & 0x1FF);
        if (s.IsDirectory)
        {
            mode |= 1u << 31;
        }

        if (s.IsSymlink)
        {
            mode |= 1u << 27;
        }

        var json = new JsonObject { ["name"] = s.Name, ["size"] = s.Size, ["mode"] = mode, ["mtime"] = Time(s.Modified), ["linkTarget"] = s.LinkTarget }.ToJsonString();
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>PUT /containers/{id}/archive?path=DIR: extracts the request's tar into DIR.</summary>
    public async Task ArchivePutAsync(HttpContext ctx, string id)
    {
        if (Find(id) is not { } c)
        {
            await NotFound(ctx, id).ConfigureAwait(false);
            return;
        }

        var path = ctx.Request.Query["path"].ToString();
        try
        {
            var spooled = new MemoryStream(); // TarReader needs a seekable or fully sequential stream; request bodies are the latter but slow to peek
            await ctx.Request.Body.CopyToAsync(spooled, ctx.RequestAborted).ConfigureAwait(false);
            spooled.Position = 0;
            await c.CopyToAsync(path, spooled, ctx.RequestAborted).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }
        catch (FileNotFoundException e)
        {
            await DockerApiServer.Error(ctx, 404, e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            await DockerApiServer.Error(ctx, 400, "the request body is not a tar archive: " + e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ContainerException or UnauthorizedAccessException)
        {
            await DockerApiServer.Error(ctx, 500, e.Message).ConfigureAwait(false);
        }
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
