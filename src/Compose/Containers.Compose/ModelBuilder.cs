namespace Containers.Compose;

/// <summary>Turns a validated, merged document into the typed model, checking references (networks, volumes, dependencies, cycles).</summary>
internal static partial class ModelBuilder
{
    public static ComposeProject Build(JsonObject root, string name, string projectDir, string[] files, HashSet<string> profiles, IReadOnlyDictionary<string, string> env, LoadContext ctx)
    {
        var all = root["services"] as JsonObject ?? [];
        var active = all.Where(kv => kv.Value is JsonObject s && IsActive(s, profiles)).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        var disabled = all.Select(kv => kv.Key).Where(k => !active.Contains(k)).Order(StringComparer.Ordinal).ToImmutableArray();

        var networks = ImmutableDictionary.CreateBuilder<string, NetworkConfig>();
        foreach (var (key, node) in root["networks"] as JsonObject ?? [])
        {
            var n = node as JsonObject ?? [];
            var external = IsTrue(n["external"]);
            var ipam = (n["ipam"] as JsonObject)?["config"] as JsonArray;
            var first = ipam?.FirstOrDefault() as JsonObject;
            networks[key] = new NetworkConfig(
                (string?)n["name"] ?? (external ? key : $"{name}_{key}"), external, IsTrue(n["internal"]),
                (string?)first?["subnet"], (string?)first?["gateway"], Map(n["labels"]));
        }

        var volumes = ImmutableDictionary.CreateBuilder<string, VolumeConfig>();
        foreach (var (key, node) in root["volumes"] as JsonObject ?? [])
        {
            var v = node as JsonObject ?? [];
            var external = IsTrue(v["external"]);
            volumes[key] = new VolumeConfig((string?)v["name"] ?? (external ? key : $"{name}_{key}"), external, Map(v["labels"]), (string?)v["driver"] ?? "local", Map(v["driver_opts"]));
        }

        var secrets = FileSources(root["secrets"], "secrets", ctx);
        var configs = FileSources(root["configs"], "configs", ctx);

        var services = ImmutableDictionary.CreateBuilder<string, ServiceConfig>();
        foreach (var svcName in active)
        {
            var s = (JsonObject)all[svcName]!;
            foreach (var unsupported in new[] { "links", "external_links", "gpus", "runtime", "platform" })
            {
                if (s.ContainsKey(unsupported))
                {
                    ctx.Warnings.Add($"services.{svcName}.{unsupported} is not supported by this engine yet and is ignored ({ctx.Where($"services.{svcName}.{unsupported}")})");
                }
            }

            var service = Service(svcName, s, projectDir, name, env, ctx, volumes, secrets, configs);
            if (service.NetworkMode is null && service.Networks.Count == 0)
            {
                service = service with { Networks = ImmutableSortedDictionary<string, ServiceNetwork>.Empty.Add("default", new ServiceNetwork([], null)) };
            }

            foreach (var net in service.Networks.Keys)
            {
                if (!networks.ContainsKey(net))
                {
                    if (net != "default")
                    {
                        throw new ComposeException($"{ctx.Where($"services.{svcName}.networks.{net}")}: service \"{svcName}\" refers to undefined network {net}: invalid compose project");
                    }

                    networks["default"] = new NetworkConfig($"{name}_default", false, false, null, null, ImmutableSortedDictionary<string, string>.Empty);
                }
            }

            foreach (var (dep, d) in service.DependsOn)
            {
                if (!active.Contains(dep) && d.Required)
                {
                    throw new ComposeException($"{ctx.Where($"services.{svcName}.depends_on")}: service \"{svcName}\" depends on undefined service \"{dep}\": invalid compose project");
                }
            }

            services[svcName] = service;
        }

        CheckCycles(services, ctx);
        var model = (JsonObject)root.DeepClone();
        if (model["services"] is JsonObject ms)
        {
            foreach (var d in disabled)
            {
                ms.Remove(d);
            }
        }

        return new ComposeProject
        {
            Name = name,
            WorkingDirectory = projectDir,
            ConfigFiles = [.. files],
            Services = services.ToImmutable(),
            DisabledServices = disabled,
            Networks = networks.ToImmutable(),
            Volumes = volumes.ToImmutable(),
            SecretFiles = secrets,
            ConfigFilesByName = configs,
            Warnings = [.. ctx.Warnings],
            Model = model,
        };
    }

    private static bool IsActive(JsonObject s, HashSet<string> profiles) =>
        s["profiles"] is not JsonArray p || p.Count == 0 || profiles.Contains("*") || p.Any(x => profiles.Contains(x?.ToString() ?? ""));

    private static void CheckCycles(ImmutableDictionary<string, ServiceConfig>.Builder services, LoadContext ctx)
    {
        var state = new Dictionary<string, int>();
        void Visit(string n, List<string> path)
        {
            if (state.GetValueOrDefault(n) == 2 || !services.TryGetValue(n, out var s))
            {
                return;
            }

            if (state.GetValueOrDefault(n) == 1)
            {
                var cycle = path[path.IndexOf(n)..].Append(n);
                throw new ComposeException($"{ctx.Where($"services.{n}.depends_on")}: dependency cycle detected: {string.Join(" -> ", cycle)}");
            }

            state[n] = 1;
            path.Add(n);
            foreach (var d in s.DependsOn.Keys)
            {
                Visit(d, path);
            }

            path.RemoveAt(path.Count - 1);
            state[n] = 2;
        }

        foreach (var n in services.Keys.Order(StringComparer.Ordinal))
        {
            Visit(n, []);
        }
    }

    private static ImmutableDictionary<string, string> FileSources(JsonNode? section, string kind, LoadContext ctx)
    {
        var result = ImmutableDictionary.CreateBuilder<string, string>();
        foreach (var (key, node) in section as JsonObject ?? [])
        {
            if (node is JsonObject o && (string?)o["file"] is { } file)
            {
                result[key] = file;
            }
            else if (node is JsonObject e && (string?)e["environment"] is { } variable)
            {
                var value = ctx.Lookup(variable) ?? throw new ComposeException($"{ctx.Where($"{kind}.{key}")}: {kind}.{key}: environment variable {variable} is not set");
                var tmp = Path.Combine(Path.GetTempPath(), $"compose-{kind}-{Guid.NewGuid():N}");
                File.WriteAllText(tmp, value);
                result[key] = tmp;
            }
            else if (node is JsonObject x && IsTrue(x["external"]))
            {
                throw new ComposeException($"{ctx.Where($"{kind}.{key}")}: {kind}.{key}: external {kind} need a swarm; use file:");
            }
        }

        return result.ToImmutable();
    }

    private static ServiceConfig Service(string svc, JsonObject s, string projectDir, string project, IReadOnlyDictionary<string, string> env, LoadContext ctx,
        ImmutableDictionary<string, VolumeConfig>.Builder volumes, ImmutableDictionary<string, string> secrets, ImmutableDictionary<string, string> configs)
    {
        string P(string field) => $"services.{svc}.{field}";
        ComposeException Error(string field, string message) => new($"{ctx.Where(P(field))}: {P(field)}: {message}");

        if (s["image"] is null && s["build"] is null)
        {
            throw new ComposeException($"{ctx.Where($"services.{svc}")}: service \"{svc}\" has neither an image nor a build context specified: invalid compose project");
        }

        // environment: env_file entries first, then environment (a bare name takes the shell's value)
        var environment = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var (ef, i) in (s["env_file"] as JsonArray ?? []).Select((e, i) => ((JsonObject)e!, i)))
        {
            var path = (string)ef["path"]!;
            if (!File.Exists(path))
            {
                if (IsTrue(ef["required"] ?? true))
                {
                    throw Error($"env_file[{i}]", $"env file {path} not found");
                }

                continue;
            }

            foreach (var (k, v) in EnvFile.Parse(path, ctx.Lookup))
            {
                if (v is not null)
                {
                    environment[k] = v;
                }
            }
        }

        foreach (var (k, v) in s["environment"] as JsonObject ?? [])
        {
            if (v is null)
            {
                if (ctx.Lookup(k) is { } fromShell)
                {
                    environment[k] = fromShell;
                }
            }
            else
            {
                environment[k] = Scalar(v);
            }
        }

        var ports = new List<PortBinding>();
        foreach (var (p, i) in (s["ports"] as JsonArray ?? []).Select((p, i) => (p, i)))
        {
            try
            {
                ports.Add(p switch
                {
                    JsonObject o => new PortBinding(
                        (int)(Int(o["target"]) ?? throw Error($"ports[{i}]", "target is required")),
                        o["published"] is { } pub ? (int.TryParse(Scalar(pub), CultureInfo.InvariantCulture, out var hp) ? hp : throw Error($"ports[{i}]", $"invalid published port '{Scalar(pub)}' (ranges are not supported)")) : 0,
                        (string?)o["host_ip"] ?? "0.0.0.0",
                        (string?)o["protocol"] ?? "tcp"),
                    _ => PortBinding.Parse(Scalar(p!)),
                });
            }
            catch (InvalidContainerSpecException e)
            {
                throw Error($"ports[{i}]", e.Message);
            }
        }

        var mounts = new List<MountSpec>();
        foreach (var (v, i) in (s["volumes"] as JsonArray ?? []).Select((v, i) => (v, i)))
        {
            mounts.Add(Volume(v!, i, svc, project, volumes, Error));
        }

        foreach (var (t, i) in Strings(s["tmpfs"]).Select((t, i) => (t, i)))
        {
            try
            {
                mounts.Add(MountSpec.ParseTmpfs(t));
            }
            catch (InvalidContainerSpecException e)
            {
                throw Error($"tmpfs[{i}]", e.Message);
            }
        }

        foreach (var (kind, sources, dir) in new[] { ("secrets", secrets, "/run/secrets/"), ("configs", configs, "/") })
        {
            foreach (var (item, i) in (s[kind] as JsonArray ?? []).Select((x, i) => (x, i)))
            {
                var source = item is JsonObject o ? (string?)o["source"] : item?.ToString();
                var target = item is JsonObject o2 ? (string?)o2["target"] : null;
                if (source is null || !sources.TryGetValue(source, out var file))
                {
                    throw Error($"{kind}[{i}]", $"service \"{svc}\" refers to undefined {kind[..^1]} {source}: invalid compose project");
                }

                mounts.Add(new MountSpec(MountType.Bind, file, target is not null && target.StartsWith('/') ? target : dir + (target ?? source), ReadOnly: true));
            }
        }

        var networks = ImmutableSortedDictionary.CreateBuilder<string, ServiceNetwork>(StringComparer.Ordinal);
        foreach (var (n, cfg) in s["networks"] as JsonObject ?? [])
        {
            var o = cfg as JsonObject;
            networks[n] = new ServiceNetwork([.. Strings(o?["aliases"])], (string?)o?["ipv4_address"]);
        }

        string? networkMode = (string?)s["network_mode"];
        if (networkMode is not null)
        {
            if (networkMode is not ("host" or "none" or "bridge") && !networkMode.StartsWith("service:", StringComparison.Ordinal) && !networkMode.StartsWith("container:", StringComparison.Ordinal))
            {
                throw Error("network_mode", $"network_mode '{networkMode}' is not supported (host, none, bridge, service:NAME, container:NAME)");
            }

            if (networks.Count > 0)
            {
                throw Error("network_mode", "network_mode and networks cannot be combined");
            }
        }

        var dependsOn = ImmutableSortedDictionary.CreateBuilder<string, Dependency>(StringComparer.Ordinal);
        foreach (var (d, cfg) in s["depends_on"] as JsonObject ?? [])
        {
            var o = cfg as JsonObject;
            var condition = (string?)o?["condition"] ?? "service_started";
            dependsOn[d] = new Dependency(condition, o?["required"] is not { } r || IsTrue(r), IsTrue(o?["restart"]));
        }

        // what shares another service's namespaces or mounts starts after it, as compose orders them
        string? Shared(string key)
        {
            var mode = (string?)s[key];
            return mode is not null && mode.StartsWith("service:", StringComparison.Ordinal) ? mode["service:".Length..] : null;
        }

        var volumesFrom = Strings(s["volumes_from"]).ToList();
        foreach (var other in new[] { Shared("network_mode"), Shared("pid"), Shared("ipc") }
            .Concat(volumesFrom.Where(v => !v.StartsWith("container:", StringComparison.Ordinal)).Select(v => v.Split(':')[0])))
        {
            if (other is not null && !dependsOn.ContainsKey(other))
            {
                dependsOn[other] = new Dependency("service_started", true, false);
            }
        }

        var devices = new List<DeviceMapping>();
        foreach (var (i, d) in (s["devices"] as JsonArray ?? []).Select((d, i) => (i, d)))
        {
            try
            {
                var device = d is JsonObject o
                    ? new DeviceMapping((string?)o["source"] ?? "", (string?)o["target"] ?? "", (string?)o["permissions"] ?? "rwm")
                    : DeviceMapping.Parse(Scalar(d!));
                device.Validate();
                devices.Add(device);
            }
            catch (InvalidContainerSpecException e)
            {
                throw Error($"devices[{i}]", e.Message);
            }
        }

        foreach (var key in new[] { "pid", "ipc" })
        {
            if ((string?)s[key] is { } mode && !(mode is "host" or "" || (key == "ipc" && mode is "private" or "shareable" or "none")
                || mode.StartsWith("service:", StringComparison.Ordinal) || mode.StartsWith("container:", StringComparison.Ordinal)))
            {
                throw Error(key, $"{key} '{mode}' is not supported (host{(key == "ipc" ? ", private, shareable, none" : "")}, service:NAME, container:NAME)");
            }
        }

        var deploy = s["deploy"] as JsonObject;
        var limits = (deploy?["resources"] as JsonObject)?["limits"] as JsonObject;
        long? memory = Bytes(limits?["memory"] ?? s["mem_limit"], "deploy.resources.limits.memory", Error);
        double? cpus = (limits?["cpus"] ?? s["cpus"]) is { } c ? double.Parse(Scalar(c), CultureInfo.InvariantCulture) : null;
        long? pids = Int(limits?["pids"] ?? s["pids_limit"]);
        var replicas = (int)(Int(deploy?["replicas"]) ?? Int(s["scale"]) ?? 1);

        var restart = RestartPolicy.No;
        if ((string?)s["restart"] is { } rs)
        {
            try
            {
                restart = RestartPolicy.Parse(rs);
            }
            catch (InvalidContainerSpecException e)
            {
                throw Error("restart", e.Message);
            }
        }
        else if ((deploy?["restart_policy"] as JsonObject) is { } rp)
        {
            restart = ((string?)rp["condition"] ?? "any") switch
            {
                "none" => RestartPolicy.No,
                "on-failure" => new RestartPolicy("on-failure", (int)(Int(rp["max_attempts"]) ?? 0)),
                _ => new RestartPolicy("always"),
            };
        }

        var ulimits = new List<Ulimit>();
        foreach (var (u, cfg) in s["ulimits"] as JsonObject ?? [])
        {
            ulimits.Add(cfg is JsonObject o
                ? new Ulimit(u, (ulong)(Int(o["soft"]) ?? 0), (ulong)(Int(o["hard"]) ?? 0))
                : new Ulimit(u, (ulong)(Int(cfg) ?? 0), (ulong)(Int(cfg) ?? 0)));
        }

        BuildConfig? build = null;
        if (s["build"] is JsonObject b)
        {
            build = new BuildConfig((string)b["context"]!, (string?)b["dockerfile"], (string?)b["dockerfile_inline"], Map(b["args"]), (string?)b["target"]);
        }

        return new ServiceConfig
        {
            Name = svc,
            Image = (string?)s["image"],
            Build = build,
            Command = Command(s["command"]),
            Entrypoint = Command(s["entrypoint"]),
            Environment = environment.ToImmutable(),
            Ports = [.. ports],
            Expose = [.. Strings(s["expose"]).Select(e => e.Contains('/', StringComparison.Ordinal) ? e : e + "/tcp")],
            Mounts = [.. mounts],
            Networks = networks.ToImmutable(),
            NetworkMode = networkMode == "bridge" ? null : networkMode,
            DependsOn = dependsOn.ToImmutable(),
            HealthCheck = Health(s["healthcheck"] as JsonObject, Error),
            Restart = restart,
            Replicas = replicas,
            Resources = new Runtime.Cgroups.ResourceLimits(MemoryBytes: memory, NanoCpus: cpus is { } cc ? (long)(cc * 1e9) : null, PidsLimit: pids),
            ContainerName = (string?)s["container_name"],
            Hostname = (string?)s["hostname"],
            User = s["user"] is { } user ? Scalar(user) : null,
            WorkingDir = (string?)s["working_dir"],
            Labels = Map(s["labels"]),
            StopSignal = (string?)s["stop_signal"],
            StopGracePeriod = (string?)s["stop_grace_period"] is { } g ? (GoDuration.TryParse(g, out var gd) ? gd : throw Error("stop_grace_period", $"invalid duration '{g}'")) : null,
            CapAdd = [.. Strings(s["cap_add"])],
            SecurityOpt = [.. Strings(s["security_opt"])],
            Privileged = IsTrue(s["privileged"]),
            Init = IsTrue(s["init"]),
            Devices = [.. devices],
            DeviceCgroupRules = [.. Strings(s["device_cgroup_rules"])],
            Pid = (string?)s["pid"],
            UsernsMode = (string?)s["userns_mode"],
            Ipc = (string?)s["ipc"],
            VolumesFrom = [.. volumesFrom],
            CapDrop = [.. Strings(s["cap_drop"])],
            ReadOnly = IsTrue(s["read_only"]),
            CgroupParent = (string?)s["cgroup_parent"],
            Ulimits = [.. ulimits],
            Profiles = [.. Strings(s["profiles"])],
            PullPolicy = (string?)s["pull_policy"] ?? "missing",
            StdinOpen = IsTrue(s["stdin_open"]),
            Tty = IsTrue(s["tty"]),
            Definition = (JsonObject)s.DeepClone(),
        };
    }

    private static MountSpec Volume(JsonNode v, int i, string svc, string project, ImmutableDictionary<string, VolumeConfig>.Builder volumes, Func<string, string, ComposeException> error)
    {
        string Named(string source) => volumes.TryGetValue(source, out var vc) ? vc.Name
            : throw error($"volumes[{i}]", $"service \"{svc}\" refers to undefined volume {source}: invalid compose project");

        if (v is JsonObject o)
        {
            var type = (string?)o["type"] ?? "volume";
            var target = (string?)o["target"] ?? throw error($"volumes[{i}]", "target is required");
            var ro = IsTrue(o["read_only"]);
            var source = (string?)o["source"];
            return type switch
            {
                "bind" => new MountSpec(MountType.Bind, source ?? throw error($"volumes[{i}]", "a bind mount needs a source"), target, ro) { CreateHostPath = IsTrue((o["bind"] as JsonObject)?["create_host_path"]) },
                "volume" => new MountSpec(MountType.Volume, source is null ? "" : Named(source), target, ro),
                "tmpfs" => new MountSpec(MountType.Tmpfs, "", target, ro, (o["tmpfs"] as JsonObject)?["size"] is { } size ? "size=" + Scalar(size) : null),
                _ => throw error($"volumes[{i}]", $"volume type '{type}' is not supported (bind, volume, tmpfs)"),
            };
        }

        var text = Scalar(v);
        var parts = text.Split(':');
        if (parts.Length == 1)
        {
            return new MountSpec(MountType.Volume, "", parts[0]);
        }

        var readOnly = parts.Length > 2 && parts[2].Split(',').Contains("ro");
        if (parts.Length > 3 || !parts[1].StartsWith('/'))
        {
            throw error($"volumes[{i}]", $"invalid volume spec '{text}': expected SOURCE:TARGET[:MODE] with an absolute TARGET");
        }

        return parts[0].StartsWith('/')
            ? new MountSpec(MountType.Bind, parts[0], parts[1], readOnly) { CreateHostPath = true } // as docker compose's short syntax
            : new MountSpec(MountType.Volume, Named(parts[0]), parts[1], readOnly);
    }

    private static HealthCheck? Health(JsonObject? h, Func<string, string, ComposeException> error)
    {
        if (h is null)
        {
            return null;
        }

        if (IsTrue(h["disable"]))
        {
            return HealthCheck.None;
        }

        TimeSpan D(string key, TimeSpan fallback) => (string?)h[key] is { } v ? (GoDuration.TryParse(v, out var d) ? d : throw error("healthcheck." + key, $"invalid duration '{v}'")) : fallback;
        ImmutableArray<string> test = h["test"] switch
        {
            JsonArray a => [.. a.Select(x => x?.ToString() ?? "")],
            JsonValue v => ["CMD-SHELL", Scalar(v)],
            _ => [],
        };
        if (test.IsEmpty)
        {
            return null;
        }

        return new HealthCheck
        {
            Test = test,
            Interval = D("interval", TimeSpan.FromSeconds(30)),
            Timeout = D("timeout", TimeSpan.FromSeconds(30)),
            StartPeriod = D("start_period", TimeSpan.Zero),
            StartInterval = D("start_interval", TimeSpan.FromSeconds(5)),
            Retries = Int(h["retries"]) is { } r ? (int)r : 3,
        };
    }

}
