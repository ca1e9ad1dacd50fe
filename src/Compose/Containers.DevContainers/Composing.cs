using Containers.Compose;

namespace Containers.DevContainers;

/// <summary>
/// Compose dev containers: the project of <c>dockerComposeFile</c> (named <c>BASENAME_devcontainer</c> unless the
/// files name it), with an override file that the reference implementation would write too (the dev container's
/// labels, features image, environment, mounts, the keep-alive command with overrideCommand, forwarded ports), brought
/// up with <c>runServices</c> (all services when absent).
/// </summary>
internal static partial class Composing
{
    private const string OverrideName = "docker-compose.devcontainer.json";

    /// <summary>The folder of a configuration's generated files (the compose override), under the engine's store.</summary>
    public static string StateFolder(DevContainerConfig config, ContainerEngine eng) => Path.Combine(eng.Root, "devcontainers", config.DevContainerId[..20]);

    /// <summary>Loads the project (with the override written for it, when there is one and <paramref name="withOverride"/>).</summary>
    public static ComposeProject Load(DevContainerConfig config, ContainerEngine eng, string? projectName, bool withOverride = true)
    {
        var files = config.DockerComposeFiles;
        foreach (var f in files.Where(f => !File.Exists(f)))
        {
            throw new DevContainerException($"{config.ConfigFile}: dockerComposeFile: no file {f}");
        }

        var overrideFile = Path.Combine(StateFolder(config, eng), OverrideName);
        try
        {
            if (projectName is null)
            {
                // the files' own name (a top-level name:), else the reference's WORKSPACE_devcontainer
                var named = files.Any(f => TopLevelName().IsMatch(File.ReadAllText(f)));
                projectName = named
                    ? ComposeLoader.Load(new ComposeOptions { Files = files, WorkingDirectory = Path.GetDirectoryName(files[0]) }).Name
                    : ComposeLoader.Normalize(Path.GetFileName(config.LocalWorkspaceFolder.TrimEnd('/')) + "_devcontainer");
            }

            return ComposeLoader.Load(new ComposeOptions
            {
                Files = withOverride && File.Exists(overrideFile) ? [.. files, overrideFile] : files,
                WorkingDirectory = Path.GetDirectoryName(files[0]),
                ProjectName = projectName,
            });
        }
        catch (ComposeException e)
        {
            throw new DevContainerException($"{config.ConfigFile}: dockerComposeFile: {e.Message}", e);
        }
    }

    private static ServiceConfig Service(DevContainerConfig config, ComposeProject project) =>
        config.Service is not { } name ? throw new DevContainerException($"{config.ConfigFile}: 'service' is required with dockerComposeFile")
        : project.Services.GetValueOrDefault(name) ?? throw new DevContainerException($"{config.ConfigFile}: service '{name}' is not in the compose files (services: {string.Join(", ", project.Services.Keys.Order(StringComparer.Ordinal))})");

    /// <summary>The service's image (built or pulled), with the features installed.</summary>
    public static async Task<(string Image, DevContainerMetadata Metadata)> ImageAsync(DevContainerConfig config, ContainerEngine eng, ComposeProject project, DevContainerOptions options, CancellationToken ct)
    {
        var svc = Service(config, project);
        try
        {
            await new ComposeEngine(eng).EnsureImageAsync(project, svc, options.NoCache, new Inline(l => options.Log?.Invoke(l)), ct).ConfigureAwait(false);
        }
        catch (ContainerException e) when (e is not DevContainerException)
        {
            throw new DevContainerException($"{config.ConfigFile}: the image of service '{svc.Name}': {e.Message}", e);
        }

        return await DevContainerBuilder.WithFeaturesAsync(config, eng, ComposeEngine.ImageName(project, svc), DevContainerBuilder.ImageBase(config) + "-" + svc.Name, options, ct).ConfigureAwait(false);
    }

    public static async Task<DevContainer> UpAsync(DevContainerConfig config, ContainerEngine eng, bool owns, DevContainerOptions options, CancellationToken ct)
    {
        // the files as written: the service's own image, which the features go on
        var plain = Load(config, eng, null, withOverride: false);
        var svc = Service(config, plain);
        var existing = DevContainer.Find(eng, config).FirstOrDefault();
        if (existing is not null && options.RemoveExistingContainer)
        {
            options.Log?.Invoke($"Removing the existing container {existing.Id[..12]}");
            await eng.Get(existing.Id).RemoveAsync(force: true, ct).ConfigureAwait(false);
        }

        var (image, metadata) = await ImageAsync(config, eng, plain, options, ct).ConfigureAwait(false);
        var imageConfig = eng.Images.Get(image).Config.Config;
        var service = new JsonObject();
        if (image != ComposeEngine.ImageName(plain, svc))
        {
            service["image"] = image;
        }

        var labels = new JsonObject
        {
            [DevContainer.LocalFolderLabel] = config.LocalWorkspaceFolder,
            [DevContainer.ConfigFileLabel] = config.ConfigFile,
            [DevContainerMetadata.Label] = metadata.ToLabel(),
        };
        foreach (var (k, v) in options.ExtraLabels)
        {
            labels[k] = v;
        }

        service["labels"] = labels;
        var overrideCommand = metadata.OverrideCommand ?? false;
        if (overrideCommand || !metadata.Entrypoints.IsEmpty)
        {
            var entrypoint = new JsonArray("/bin/sh", "-c", DevContainer.KeepAlive(metadata.Entrypoints), "-");
            if (!overrideCommand)
            {
                foreach (var e in svc.Entrypoint ?? imageConfig?.Entrypoint ?? [])
                {
                    entrypoint.Add((JsonNode)e);
                }
            }

            service["entrypoint"] = entrypoint;
            service["command"] = overrideCommand ? new JsonArray() : new JsonArray([.. (svc.Command ?? imageConfig?.Cmd ?? []).Select(c => (JsonNode)c)]);
        }

        if (!metadata.ContainerEnv.IsEmpty)
        {
            service["environment"] = new JsonObject(metadata.ContainerEnv.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        }

        var volumes = new JsonArray();
        foreach (var m in (config.WorkspaceMount is { } wm ? [wm] : Enumerable.Empty<string>()).Concat(metadata.Mounts))
        {
            MountSpec mount;
            try
            {
                mount = MountSpec.ParseMount(m);
            }
            catch (InvalidContainerSpecException e)
            {
                throw new DevContainerException($"{config.ConfigFile}: mount '{m}': {e.Message}", e);
            }

            volumes.Add((JsonNode)new JsonObject { ["type"] = mount.Type.ToString().ToLowerInvariant(), ["source"] = mount.Source, ["target"] = mount.Target, ["read_only"] = mount.ReadOnly });
        }

        if (volumes.Count > 0)
        {
            service["volumes"] = volumes;
        }

        if (!metadata.CapAdd.IsEmpty)
        {
            service["cap_add"] = new JsonArray([.. metadata.CapAdd.Select(c => (JsonNode)c)]);
        }

        if (!metadata.SecurityOpt.IsEmpty)
        {
            service["security_opt"] = new JsonArray([.. metadata.SecurityOpt.Select(c => (JsonNode)c)]);
        }

        if (metadata.Privileged)
        {
            service["privileged"] = true;
        }

        if (metadata.Init)
        {
            service["init"] = true;
        }

        if (metadata.ContainerUser is { } user)
        {
            service["user"] = user;
        }

        // forwardPorts: the dev container's own (a number) and other services' (service:port), on 127.0.0.1
        var services = new JsonObject { [svc.Name] = service };
        foreach (var p in metadata.ForwardPorts)
        {
            var parts = p.Split(':');
            var (target, portText) = parts.Length == 2 ? (parts[0], parts[1]) : (svc.Name, parts[0]);
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535 || !plain.Services.ContainsKey(target))
            {
                throw new DevContainerException($"{config.ConfigFile}: forwardPorts: '{p}' is not a port or SERVICE:PORT of the compose services");
            }

            if (services[target] is not JsonObject t)
            {
                services[target] = t = new JsonObject();
            }

            if (t["ports"] is not JsonArray ports)
            {
                t["ports"] = ports = new JsonArray();
            }

            var host = DevContainer.HostPortFor(port);
            ports.Add((JsonNode)(host == 0 ? $"127.0.0.1::{port}" : $"127.0.0.1:{host}:{port}"));
        }

        var document = new JsonObject { ["services"] = services };
        // compose interpolates $: the override's own dollars are literal
        DevContainerConfig.Walk(document, s => s.Replace("$", "$$", StringComparison.Ordinal));
        var folder = StateFolder(config, eng);
        Directory.CreateDirectory(folder);
        await File.WriteAllTextAsync(Path.Combine(folder, OverrideName), document.ToJsonString(new JsonSerializerOptions(DevContainerMetadata.Plain) { WriteIndented = true }), ct).ConfigureAwait(false);

        var project = Load(config, eng, plain.Name);
        var run = config.RunServices.IsEmpty ? ImmutableArray<string>.Empty : [.. config.RunServices.Append(svc.Name).Distinct()];
        foreach (var r in run.Where(r => !project.Services.ContainsKey(r)))
        {
            throw new DevContainerException($"{config.ConfigFile}: runServices: '{r}' is not a service of the compose files");
        }

        options.Log?.Invoke($"Starting compose project {project.Name} ({(run.IsEmpty ? "all services" : string.Join(", ", run))})");
        var compose = new ComposeEngine(eng);
        try
        {
            await compose.UpAsync(project, new UpOptions { Services = run, CgroupParent = options.CgroupParent, ExtraLabels = options.ExtraLabels }, new Inline(l => options.Log?.Invoke(l)), ct).ConfigureAwait(false);
        }
        catch (ComposeException e)
        {
            throw new DevContainerException($"{config.ConfigFile}: compose up of {project.Name}: {e.Message}", e);
        }

        var state = compose.Ps(project.Name).FirstOrDefault(c => c.Spec.Labels.GetValueOrDefault(ComposeEngine.ServiceLabel) == svc.Name && c.IsActive)
            ?? throw new DevContainerException($"{config.ConfigFile}: service '{svc.Name}' has no running container after compose up");
        var dev = DevContainer.Of(eng, owns, config, state);
        foreach (var c in compose.Ps(project.Name))
        {
            foreach (var p in c.Spec.Ports.Where(p => p.HostIp == "127.0.0.1"))
            {
                options.Log?.Invoke($"Forwarding port {c.Spec.Labels.GetValueOrDefault(ComposeEngine.ServiceLabel)}:{p.ContainerPort} to 127.0.0.1:{eng.Get(c.Id).GetHostPort(p.ContainerPort)}");
            }
        }

        return dev;
    }

    private sealed class Inline(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^name\s*:", System.Text.RegularExpressions.RegexOptions.Multiline)]
    private static partial System.Text.RegularExpressions.Regex TopLevelName();
}
