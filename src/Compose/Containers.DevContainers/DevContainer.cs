using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Containers.Compose;

namespace Containers.DevContainers;

/// <summary>
/// A dev container brought up from a devcontainer.json, as the Dev Containers CLI brings it up:
/// <code>
/// await using var dev = await DevContainer.FromFolder(".").UpAsync(ct);
/// var result = await dev.ExecAsync(["npm", "test"], ct);
/// </code>
/// Its container carries the reference implementation's labels (<c>devcontainer.local_folder</c>,
/// <c>devcontainer.config_file</c>, <c>devcontainer.metadata</c>) and marker files, so the two find and reuse each
/// other's containers. Disposing it applies <c>shutdownAction</c> (stop the container, or the compose project; none
/// leaves it running).
/// </summary>
public sealed class DevContainer : IAsyncDisposable
{
    /// <summary>The label naming the workspace folder a container was made for.</summary>
    public const string LocalFolderLabel = "devcontainer.local_folder";

    /// <summary>The label naming the configuration file a container was made from.</summary>
    public const string ConfigFileLabel = "devcontainer.config_file";

    private readonly ContainerEngine engine;
    private readonly bool ownsEngine;
    private readonly ComposeProject? project;
    private readonly ComposeEngine? compose;

    internal DevContainer(ContainerEngine engine, bool ownsEngine, DevContainerConfig config, DevContainerMetadata metadata, Container container, ComposeProject? project, ImmutableDictionary<int, int> forwarded)
    {
        this.engine = engine;
        this.ownsEngine = ownsEngine;
        Config = config;
        Metadata = metadata;
        Container = container;
        this.project = project;
        compose = project is null ? null : new ComposeEngine(engine);
        ForwardedPorts = forwarded;
    }

    /// <summary>Starts describing the dev container of a workspace folder.</summary>
    public static DevContainerBuilder FromFolder(string workspaceFolder) => new(workspaceFolder);

    /// <summary>The configuration read.</summary>
    public DevContainerConfig Config { get; }

    /// <summary>The merged metadata (image, features, configuration).</summary>
    public DevContainerMetadata Metadata { get; }

    /// <summary>The container.</summary>
    public Container Container { get; }

    /// <summary>The user commands run as: remoteUser, else containerUser, else the image's user, else root.</summary>
    public string RemoteUser => Metadata.RemoteUser ?? Metadata.ContainerUser ?? (Container.State.Spec.User is { Length: > 0 } u ? u : "root");

    /// <summary>The workspace folder in the container.</summary>
    public string WorkspaceFolder => Config.WorkspaceFolder;

    /// <summary>The compose project, for a compose configuration.</summary>
    public ComposeProject? ComposeProject => project;

    /// <summary>forwardPorts of the dev container's own service: container port to the port on 127.0.0.1.</summary>
    public ImmutableDictionary<int, int> ForwardedPorts { get; }

    /// <summary>The port on 127.0.0.1 that forwards <paramref name="containerPort"/>.</summary>
    /// <exception cref="DevContainerException">The port is not forwarded.</exception>
    public int GetForwardedPort(int containerPort) =>
        ForwardedPorts.TryGetValue(containerPort, out var p) ? p : throw new DevContainerException($"port {containerPort} is not forwarded (forwardPorts: {string.Join(", ", ForwardedPorts.Keys)})");

    /// <summary>
    /// Runs <paramref name="command"/> in the container as <see cref="RemoteUser"/>, in the workspace folder, with
    /// remoteEnv (and the user's environment probed per userEnvProbe), as <c>devcontainer exec</c> does.
    /// </summary>
    public async Task<ExecResult> ExecAsync(IEnumerable<string> command, CancellationToken cancellationToken = default)
    {
        await using var exec = await StartExecAsync(command, tty: false, openStdin: false, cancellationToken).ConfigureAwait(false);
        var stdout = new StreamReader(exec.StandardOutput).ReadToEndAsync(cancellationToken);
        var stderr = new StreamReader(exec.StandardError).ReadToEndAsync(cancellationToken);
        var code = await exec.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new ExecResult(code, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>
    /// Starts <paramref name="command"/> as <see cref="ExecAsync"/> runs it, its input and output left to the caller
    /// (with <paramref name="tty"/>, on a terminal; with <paramref name="openStdin"/>, its standard input open).
    /// </summary>
    public async Task<ExecProcess> StartExecAsync(IEnumerable<string> command, bool tty = false, bool openStdin = false, CancellationToken cancellationToken = default)
    {
        var options = await ExecOptionsAsync(command, cancellationToken).ConfigureAwait(false);
        return await Container.StartExecAsync(options with { Tty = tty, OpenStdin = openStdin }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How <paramref name="command"/> runs as the remote user: user, workspace folder, and the environment (userEnvProbe, then remoteEnv).</summary>
    public async Task<ExecOptions> ExecOptionsAsync(IEnumerable<string> command, CancellationToken cancellationToken = default)
    {
        var env = await Lifecycle.EnvironmentAsync(this, cancellationToken).ConfigureAwait(false);
        return new ExecOptions { Command = [.. command], User = RemoteUser, WorkingDirectory = WorkspaceFolder, Environment = env };
    }

    /// <summary>Runs the lifecycle commands that are due (create-time ones once per container, postStartCommand once per start, postAttachCommand).</summary>
    public Task RunUserCommandsAsync(DevContainerOptions? options = null, CancellationToken cancellationToken = default) =>
        Lifecycle.RunAsync(this, options ?? new DevContainerOptions(), cancellationToken);

    /// <summary>Stops the container (for compose, every container of the project).</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (project is not null)
        {
            // at once, as compose stops a project
            await Task.WhenAll(compose!.Ps(project.Name, all: false).Select(c => engine.Get(c.Id).StopAsync(null, cancellationToken))).ConfigureAwait(false);
            return;
        }

        await Container.StopAsync(null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the container (for compose, takes the project down).</summary>
    public async Task DownAsync(CancellationToken cancellationToken = default)
    {
        if (project is not null)
        {
            await compose!.DownAsync(project, cancellationToken: cancellationToken).ConfigureAwait(false);
            return;
        }

        await Container.RemoveAsync(force: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Applies shutdownAction: stopContainer (image and Dockerfile) or stopCompose (compose) stop; none leaves it running.</summary>
    public async ValueTask DisposeAsync()
    {
        var action = Metadata.ShutdownAction ?? (project is null ? "stopContainer" : "stopCompose");
        if (action != "none")
        {
            try
            {
                await StopAsync().ConfigureAwait(false);
            }
            catch (ContainerNotFoundException)
            {
            }
        }

        if (ownsEngine)
        {
            await engine.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The containers made for this workspace and configuration (by their labels), newest first.</summary>
    public static IReadOnlyList<ContainerState> Find(ContainerEngine engine, DevContainerConfig config) =>
        [.. (engine ?? throw new ArgumentNullException(nameof(engine))).List(all: true)
            .Where(c => c.Spec.Labels.GetValueOrDefault(LocalFolderLabel) == config!.LocalWorkspaceFolder && c.Spec.Labels.GetValueOrDefault(ConfigFileLabel) == config.ConfigFile)
            .OrderByDescending(c => c.Created)];

    /// <summary>
    /// Attaches to the container made earlier for a configuration (devcontainer exec, run-user-commands; with
    /// <paramref name="requireRunning"/> false, stop and down).
    /// </summary>
    /// <exception cref="DevContainerException">There is none, or it is not running.</exception>
    public static DevContainer Attach(ContainerEngine engine, DevContainerConfig config, bool requireRunning = true)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(config);
        var state = Find(engine, config).FirstOrDefault() ?? throw new DevContainerException($"no dev container for {config.LocalWorkspaceFolder} ({config.ConfigFile}); run up first");
        if (requireRunning && !state.IsActive)
        {
            throw new DevContainerException($"the dev container {state.Id[..12]} of {config.LocalWorkspaceFolder} is not running");
        }

        return Of(engine, false, config, state);
    }

    internal static DevContainer Of(ContainerEngine engine, bool ownsEngine, DevContainerConfig config, ContainerState state)
    {
        var metadata = DevContainerMetadata.Of(DevContainerMetadata.ParseLabel(state.Spec.Labels.GetValueOrDefault(DevContainerMetadata.Label), $"container {state.Id[..12]}"));
        var container = engine.Get(state.Id);
        ComposeProject? project = null;
        if (config.Kind == DevContainerKind.Compose && state.Spec.Labels.TryGetValue(ComposeEngine.ProjectLabel, out var projectName))
        {
            project = Composing.Load(config, engine, projectName);
        }

        var forwarded = ImmutableDictionary.CreateBuilder<int, int>();
        foreach (var p in state.Spec.Ports.Where(p => p.HostIp == "127.0.0.1"))
        {
            try
            {
                forwarded[p.ContainerPort] = container.GetHostPort(p.ContainerPort, p.Protocol);
            }
            catch (ContainerException)
            {
            }
        }

        return new DevContainer(engine, ownsEngine, config, metadata, container, project, forwarded.ToImmutable());
    }

    /// <summary>A short, stable hash of a text (image names).</summary>
    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    /// <summary>
    /// The keep-alive command of overrideCommand, as the reference implementation writes it: say "Container started",
    /// run the features' entrypoints, then exec the arguments (the image's command when overrideCommand is false) or sleep.
    /// </summary>
    internal static string KeepAlive(IEnumerable<string> entrypoints) =>
        "echo Container started\ntrap \"exit 0\" 15\n" + string.Concat(entrypoints.Select(e => e + "\n")) + "exec \"$@\"\nwhile sleep 1 & wait $!; do :; done";

    /// <summary>A port on 127.0.0.1 for <paramref name="port"/>: the same number when it is free, else one the kernel picks (0).</summary>
    internal static int HostPortFor(int port)
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return port;
        }
        catch (SocketException)
        {
            return 0;
        }
    }
}
