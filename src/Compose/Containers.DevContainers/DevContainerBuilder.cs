using System.Diagnostics;
using Containers.Build;
using Containers.Images;

namespace Containers.DevContainers;

/// <summary>Describes a dev container, then brings it up (<see cref="UpAsync"/>), builds its image (<see cref="BuildAsync"/>) or reads its configuration.</summary>
public sealed class DevContainerBuilder
{
    private readonly string workspaceFolder;
    private DevContainerOptions options = new();
    private ContainerEngine? engine;

    internal DevContainerBuilder(string workspaceFolder) => this.workspaceFolder = Path.GetFullPath(workspaceFolder);

    /// <summary>Uses <paramref name="configFile"/> instead of the one found in the workspace folder.</summary>
    public DevContainerBuilder WithConfig(string configFile)
    {
        options = options with { ConfigFile = configFile };
        return this;
    }

    /// <summary>Runs on <paramref name="containerEngine"/> (default: an engine of its own on the default store, disposed with the dev container).</summary>
    public DevContainerBuilder WithEngine(ContainerEngine containerEngine)
    {
        engine = containerEngine;
        return this;
    }

    /// <summary>Sets every option at once.</summary>
    public DevContainerBuilder WithOptions(DevContainerOptions devContainerOptions)
    {
        options = devContainerOptions ?? throw new ArgumentNullException(nameof(devContainerOptions));
        return this;
    }

    /// <summary>Sends progress and the commands' output to <paramref name="log"/>, line by line.</summary>
    public DevContainerBuilder WithLog(Action<string> log)
    {
        options = options with { Log = log };
        return this;
    }

    /// <summary>Reads the configuration (variables substituted).</summary>
    /// <exception cref="DevContainerException">No configuration, or one that does not parse.</exception>
    public DevContainerConfig ReadConfiguration() => DevContainerConfig.Load(workspaceFolder, options.ConfigFile, options.LocalEnvironment);

    /// <summary>
    /// Builds the dev container's image (base image pulled or built, features installed as layers) without making a
    /// container; returns the image's name (<c>devcontainer build</c>).
    /// </summary>
    public async Task<string> BuildAsync(CancellationToken cancellationToken = default)
    {
        var config = ReadConfiguration();
        var (eng, owns) = Engine();
        try
        {
            CheckHost(config, [DevContainerMetadata.ConfigEntry(config)], eng);
            if (config.Kind == DevContainerKind.Compose)
            {
                var project = Composing.Load(config, eng, null, withOverride: false);
                var (image, _) = await Composing.ImageAsync(config, eng, project, options, cancellationToken).ConfigureAwait(false);
                return image;
            }

            return (await ImageAsync(config, eng, cancellationToken).ConfigureAwait(false)).Image;
        }
        finally
        {
            if (owns)
            {
                await eng.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Brings the dev container up, as <c>devcontainer up</c> does: initializeCommand on this machine; the
    /// hostRequirements checked; the image pulled or built and the features installed on it; the container made (or
    /// the one made before reused, and started when stopped) with the workspace mounted and forwardPorts published
    /// on 127.0.0.1; then the lifecycle commands.
    /// </summary>
    /// <exception cref="DevContainerException">The configuration, a feature, the host or a lifecycle command failed (named).</exception>
    public async Task<DevContainer> UpAsync(CancellationToken cancellationToken = default)
    {
        var config = ReadConfiguration();
        var (eng, owns) = Engine();
        try
        {
            var dev = await BringUpAsync(config, eng, owns, cancellationToken).ConfigureAwait(false);
            if (!options.SkipLifecycleCommands)
            {
                await Lifecycle.RunAsync(dev, options, cancellationToken).ConfigureAwait(false);
            }

            return dev;
        }
        catch when (owns)
        {
            await eng.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private (ContainerEngine Engine, bool Owns) Engine() => engine is not null ? (engine, false) : (new ContainerEngine(), true);

    private void Log(string line) => options.Log?.Invoke(line);

    private async Task<DevContainer> BringUpAsync(DevContainerConfig config, ContainerEngine eng, bool owns, CancellationToken ct)
    {
        // refused before anything is built or run
        CheckHost(config, [DevContainerMetadata.ConfigEntry(config)], eng);
        if (config.InitializeCommand is { } init)
        {
            await InitializeAsync(config, init, ct).ConfigureAwait(false);
        }

        if (config.Kind == DevContainerKind.Compose)
        {
            return await Composing.UpAsync(config, eng, owns, options, ct).ConfigureAwait(false);
        }

        var existing = DevContainer.Find(eng, config).FirstOrDefault();
        if (existing is not null && options.RemoveExistingContainer)
        {
            Log($"Removing the existing container {existing.Id[..12]}");
            await eng.Get(existing.Id).RemoveAsync(force: true, ct).ConfigureAwait(false);
            existing = null;
        }

        if (existing is not null)
        {
            if (!existing.IsActive)
            {
                Log($"Starting the existing container {existing.Id[..12]}");
                await eng.Get(existing.Id).StartDetachedAsync(ct).ConfigureAwait(false);
            }
            else
            {
                Log($"Reusing the running container {existing.Id[..12]}");
            }

            return DevContainer.Of(eng, owns, config, eng.List(all: true).First(c => c.Id == existing.Id));
        }

        var (image, metadata) = await ImageAsync(config, eng, ct).ConfigureAwait(false);
        CheckHost(config, metadata.Entries, eng);
        var spec = await SpecAsync(config, eng, image, metadata, ct).ConfigureAwait(false);
        Log($"Starting a container from {image}");
        var container = await eng.StartDetachedAsync(spec, ct).ConfigureAwait(false);
        var dev = DevContainer.Of(eng, owns, config, container.State);
        foreach (var (port, host) in dev.ForwardedPorts.OrderBy(p => p.Key))
        {
            var label = metadata.PortsAttributes.GetValueOrDefault(port.ToString(CultureInfo.InvariantCulture))?["label"] is { } l ? $" ({DevContainerMetadata.Str(l)})" : "";
            Log($"Forwarding port {port}{label} to 127.0.0.1:{host}");
        }

        return dev;
    }

    private void CheckHost(DevContainerConfig config, IEnumerable<JsonObject> entries, ContainerEngine eng)
    {
        var unmet = DevContainerMetadata.Of(entries).HostRequirements.Unmet(eng.Root).ToList();
        if (unmet.Count > 0)
        {
            throw new DevContainerException($"{config.ConfigFile}: hostRequirements cannot be met: the dev container needs {string.Join("; ", unmet)}");
        }
    }

    /// <summary>initializeCommand, on this machine in the workspace folder: a string through /bin/sh, an array as is, an object's entries in parallel.</summary>
    private async Task InitializeAsync(DevContainerConfig config, JsonNode command, CancellationToken ct)
    {
        async Task RunOne(string? name, JsonNode c)
        {
            var argv = Lifecycle.Argv(c, config, "initializeCommand");
            Log($"Running the initializeCommand{(name is null ? "" : $" ({name})")} on this machine: {Lifecycle.Describe(c)}");
            var psi = new ProcessStartInfo(argv[0]) { WorkingDirectory = config.LocalWorkspaceFolder, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in argv.Skip(1))
            {
                psi.ArgumentList.Add(a);
            }

            using var p = Process.Start(psi) ?? throw new DevContainerException($"initializeCommand: cannot start {argv[0]}");
            p.OutputDataReceived += (_, e) => { if (e.Data is not null) { Log(e.Data); } };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Log(e.Data); } };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            await p.WaitForExitAsync(ct).ConfigureAwait(false);
            if (p.ExitCode != 0)
            {
                throw new DevContainerException($"initializeCommand{(name is null ? "" : $" ({name})")} failed: '{Lifecycle.Describe(c)}' exited with code {p.ExitCode}");
            }
        }

        if (command is JsonObject parallel)
        {
            await Task.WhenAll(parallel.Where(kv => kv.Value is not null).Select(kv => RunOne(kv.Key, kv.Value!))).ConfigureAwait(false);
        }
        else
        {
            await RunOne(null, command).ConfigureAwait(false);
        }
    }

    /// <summary>The image of an image or Dockerfile configuration, with its features installed, and the merged metadata.</summary>
    internal async Task<(string Image, DevContainerMetadata Metadata)> ImageAsync(DevContainerConfig config, ContainerEngine eng, CancellationToken ct)
    {
        string baseImage;
        var basename = ImageBase(config);
        if (config.Kind == DevContainerKind.Dockerfile)
        {
            baseImage = $"vsc-{basename}-{DevContainer.Hash(config.ConfigFile)}";
            if (!config.BuildCacheFrom.IsEmpty)
            {
                Log("build.cacheFrom: the local layer cache serves; cacheFrom images are not pulled");
            }

            Log($"Building {baseImage} from {config.Dockerfile}");
            try
            {
                await eng.BuildAsync(new BuildOptions
                {
                    ContextDirectory = config.BuildContext,
                    DockerfilePath = config.Dockerfile,
                    BuildArgs = config.BuildArgs,
                    Target = config.BuildTarget,
                    Tags = [baseImage],
                    NoCache = options.NoCache,
                }, new BuildLog(Log), ct).ConfigureAwait(false);
            }
            catch (ContainerException e) when (e is not DevContainerException)
            {
                throw new DevContainerException($"{config.ConfigFile}: build of {config.Dockerfile} failed: {e.Message}", e);
            }
        }
        else
        {
            baseImage = config.Image ?? throw new DevContainerException($"{config.ConfigFile}: one of 'image', 'build.dockerfile' or 'dockerComposeFile' is required");
            try
            {
                await eng.Images.EnsureAsync(baseImage, PullPolicy.Missing, null, ct).ConfigureAwait(false);
            }
            catch (ContainerException e)
            {
                throw new DevContainerException($"{config.ConfigFile}: image '{baseImage}': {e.Message}", e);
            }
        }

        return await WithFeaturesAsync(config, eng, baseImage, basename, options, ct).ConfigureAwait(false);
    }

    internal static string ImageBase(DevContainerConfig config) =>
        System.Text.RegularExpressions.Regex.Replace(Path.GetFileName(config.LocalWorkspaceFolder.TrimEnd('/')).ToLowerInvariant(), "[^a-z0-9._-]", "") is { Length: > 0 } b ? b : "workspace";

    /// <summary>Installs the configuration's features on <paramref name="baseImage"/> (nothing to do without features).</summary>
    internal static async Task<(string Image, DevContainerMetadata Metadata)> WithFeaturesAsync(DevContainerConfig config, ContainerEngine eng, string baseImage, string basename, DevContainerOptions options, CancellationToken ct)
    {
        var image = eng.Images.Get(baseImage);
        var baseEntries = DevContainerMetadata.ParseLabel(image.Config.Config?.Labels?.GetValueOrDefault(DevContainerMetadata.Label), $"image {baseImage}");
        if (config.Features.IsEmpty)
        {
            return (baseImage, DevContainerMetadata.Of([.. baseEntries, DevContainerMetadata.ConfigEntry(config)]));
        }

        var work = Path.Combine(Path.GetTempPath(), "devcontainer-features-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var features = await Features.ResolveAsync(config, work, options.Registry, l => options.Log?.Invoke(l), ct).ConfigureAwait(false);
            var metadata = DevContainerMetadata.Of([.. baseEntries, .. features.Select(f => DevContainerMetadata.FeatureEntry(f.Json, f.Reference)), DevContainerMetadata.ConfigEntry(config)]);
            var imageUser = image.Config.Config?.User;
            var containerUser = metadata.ContainerUser ?? (string.IsNullOrEmpty(imageUser) ? "root" : imageUser);
            var remoteUser = metadata.RemoteUser ?? containerUser;
            var context = Features.WriteContext(work, baseImage, imageUser, remoteUser, containerUser, features, metadata.ToLabel());
            var tag = $"vsc-{basename}-{DevContainer.Hash(config.ConfigFile + "\n" + baseImage)}-features";
            options.Log?.Invoke($"Installing features {string.Join(", ", features.Select(f => f.Reference))} on {baseImage}");
            try
            {
                await eng.BuildAsync(new BuildOptions { ContextDirectory = context, Tags = [tag], NoCache = options.NoCache }, new BuildLog(l => options.Log?.Invoke(l)), ct).ConfigureAwait(false);
            }
            catch (ContainerException e) when (e is not DevContainerException)
            {
                throw new DevContainerException($"installing the features ({string.Join(", ", features.Select(f => f.Reference))}) failed: {e.Message}", e);
            }

            return (tag, metadata);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    /// <summary>The container's spec: the workspace mounted, metadata applied, runArgs, forwarded and app ports, the labels.</summary>
    private async Task<ContainerSpec> SpecAsync(DevContainerConfig config, ContainerEngine eng, string image, DevContainerMetadata metadata, CancellationToken ct)
    {
        var imageConfig = eng.Images.Get(image).Config.Config;
        var labels = options.ExtraLabels
            .SetItem(DevContainer.LocalFolderLabel, config.LocalWorkspaceFolder)
            .SetItem(DevContainer.ConfigFileLabel, config.ConfigFile)
            .SetItem(DevContainerMetadata.Label, metadata.ToLabel());
        var workspaceMount = config.WorkspaceMount ?? $"type=bind,source={config.LocalWorkspaceFolder},target={config.WorkspaceFolder}";
        var mounts = new List<MountSpec>();
        foreach (var m in new[] { workspaceMount }.Concat(metadata.Mounts))
        {
            try
            {
                mounts.Add(MountSpec.ParseMount(m));
            }
            catch (InvalidContainerSpecException e)
            {
                throw new DevContainerException($"{config.ConfigFile}: mount '{m}': {e.Message}", e);
            }
        }

        var ports = new List<PortBinding>();
        foreach (var p in metadata.ForwardPorts)
        {
            if (int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)
            {
                ports.Add(new PortBinding(port, DevContainer.HostPortFor(port), "127.0.0.1"));
            }
            else if (!p.Contains(':', StringComparison.Ordinal))
            {
                throw new DevContainerException($"{config.ConfigFile}: forwardPorts: '{p}' is not a port");
            }
        }

        foreach (var p in config.AppPort)
        {
            try
            {
                ports.Add(PortBinding.Parse(p));
            }
            catch (InvalidContainerSpecException e)
            {
                throw new DevContainerException($"{config.ConfigFile}: appPort '{p}': {e.Message}", e);
            }
        }

        var overrideCommand = metadata.OverrideCommand ?? true;
        ImmutableArray<string> args = overrideCommand ? [] : [.. imageConfig?.Entrypoint ?? [], .. imageConfig?.Cmd ?? []];
        var spec = new ContainerSpec
        {
            Image = image,
            Entrypoint = ["/bin/sh"],
            Command = ["-c", DevContainer.KeepAlive(metadata.Entrypoints), "-", .. args],
            Mounts = [.. mounts],
            Environment = [.. metadata.ContainerEnv.Select(kv => $"{kv.Key}={kv.Value}")],
            User = metadata.ContainerUser,
            Labels = labels,
            Init = metadata.Init,
            Privileged = metadata.Privileged,
            CapAdd = metadata.CapAdd,
            Ports = [.. ports],
            CgroupParent = options.CgroupParent,
        };
        if (!metadata.SecurityOpt.IsEmpty)
        {
            try
            {
                spec = Security.SecurityOptions.Apply(spec, metadata.SecurityOpt);
            }
            catch (ContainerException e)
            {
                throw new DevContainerException($"{config.ConfigFile}: securityOpt: {e.Message}", e);
            }
        }

        spec = RunArgs.Apply(spec, config.RunArgs, config.ConfigFile);
        return await UidAsync(config, eng, spec, metadata, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// updateRemoteUserUID: run by a user other than root, the remote user's uid and gid become the local user's
    /// (an image layer over the image), so files in the bind-mounted workspace belong to both. Root changes nothing.
    /// </summary>
    private async Task<ContainerSpec> UidAsync(DevContainerConfig config, ContainerEngine eng, ContainerSpec spec, DevContainerMetadata metadata, CancellationToken ct)
    {
        var uid = Tmds.Linux.LibC.getuid();
        var gid = Tmds.Linux.LibC.getgid();
        var user = metadata.RemoteUser ?? metadata.ContainerUser;
        if (uid == 0 || metadata.UpdateRemoteUserUID == false || user is null or "root" or "0" || OperatingSystem.IsLinux() is false)
        {
            return spec;
        }

        var imageUser = eng.Images.Get(spec.Image!).Config.Config?.User is { Length: > 0 } u ? u : "root";
        var work = Path.Combine(Path.GetTempPath(), "devcontainer-uid-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        try
        {
            var tag = $"{spec.Image}-uid";
            File.WriteAllText(Path.Combine(work, "Dockerfile"), $$"""
                FROM {{spec.Image}}
                USER root
                RUN set -e; U={{user}}; NEW_UID={{uid}}; NEW_GID={{gid}}; \
                    L=$(grep "^$U:" /etc/passwd || true); [ -n "$L" ] || exit 0; \
                    OLD_UID=$(echo "$L" | cut -d: -f3); OLD_GID=$(echo "$L" | cut -d: -f4); HOME_DIR=$(echo "$L" | cut -d: -f6); \
                    [ "$OLD_UID" != "$NEW_UID" ] || [ "$OLD_GID" != "$NEW_GID" ] || exit 0; \
                    grep -q ":$NEW_UID:" /etc/passwd && exit 0; \
                    sed -i -e "s/^$U:\([^:]*\):$OLD_UID:$OLD_GID:/$U:\1:$NEW_UID:$NEW_GID:/" /etc/passwd; \
                    if ! grep -q ":$NEW_GID:" /etc/group; then sed -i -e "s/^\([^:]*\):\([^:]*\):$OLD_GID:/\1:\2:$NEW_GID:/" /etc/group; fi; \
                    chown -R $NEW_UID:$NEW_GID "$HOME_DIR" 2>/dev/null || true
                USER {{imageUser}}

                """);
            Log($"Updating the uid of {user} to {uid}");
            await eng.BuildAsync(new BuildOptions { ContextDirectory = work, Tags = [tag] }, new BuildLog(Log), ct).ConfigureAwait(false);
            return spec with { Image = tag };
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Build progress as log lines.</summary>
    internal sealed class BuildLog(Action<string> log) : IProgress<BuildEvent>
    {
        public void Report(BuildEvent value)
        {
            foreach (var line in (value.Text ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                log(line);
            }
        }
    }
}
