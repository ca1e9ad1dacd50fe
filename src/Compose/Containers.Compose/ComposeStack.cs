namespace Containers.Compose;

/// <summary>
/// A compose stack from C#: <c>await using var stack = await ComposeStack.FromFile("compose.yaml").WithEnvironment("K", "V").UpAsync();</c>
/// then <c>stack.Services["web"]</c>. Disposing takes it down with its volumes.
/// </summary>
public sealed class ComposeStack : IAsyncDisposable
{
    private readonly bool ownsEngine;

    internal ComposeStack(ComposeEngine compose, ComposeProject project, bool ownsEngine)
    {
        Compose = compose;
        Project = project;
        this.ownsEngine = ownsEngine;
        Services = project.Services.Keys.ToImmutableDictionary(k => k, k => new ComposeService(this, project.Services[k]));
    }

    /// <summary>Starts describing a stack from a compose file (more files with <see cref="ComposeStackBuilder.WithFile"/>).</summary>
    public static ComposeStackBuilder FromFile(string path) => new(new ComposeOptions { Files = [path] });

    /// <summary>Starts describing a stack found from a directory (compose.yaml and its override, as docker compose discovers them).</summary>
    public static ComposeStackBuilder FromDirectory(string directory) => new(new ComposeOptions { WorkingDirectory = directory });

    /// <summary>The loaded project.</summary>
    public ComposeProject Project { get; }

    /// <summary>The compose engine running it.</summary>
    public ComposeEngine Compose { get; }

    /// <summary>The services, by name.</summary>
    public IReadOnlyDictionary<string, ComposeService> Services { get; }

    /// <summary>Takes the stack down: containers and networks, and the volumes when <paramref name="volumes"/>.</summary>
    public Task DownAsync(bool volumes = true, CancellationToken cancellationToken = default) =>
        Compose.DownAsync(Project, volumes, removeOrphans: true, null, cancellationToken);

    /// <summary>Takes the stack down with its volumes.</summary>
    public async ValueTask DisposeAsync()
    {
        await DownAsync().ConfigureAwait(false);
        if (ownsEngine)
        {
            await Compose.Engine.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>One service of a running <see cref="ComposeStack"/>.</summary>
public sealed class ComposeService
{
    private readonly ComposeStack stack;

    internal ComposeService(ComposeStack stack, ServiceConfig config)
    {
        this.stack = stack;
        Config = config;
    }

    /// <summary>The service's configuration.</summary>
    public ServiceConfig Config { get; }

    /// <summary>Its containers, by replica number.</summary>
    public IReadOnlyList<Container> Containers =>
        [.. stack.Compose.Ps(stack.Project.Name).Where(c => c.Spec.Labels.GetValueOrDefault(ComposeEngine.ServiceLabel) == Config.Name && c.Spec.Labels.GetValueOrDefault(ComposeEngine.OneOffLabel) != "True")
            .Select(c => stack.Compose.Engine.Get(c.Id))];

    /// <summary>Its first container.</summary>
    public Container Container => Containers.FirstOrDefault() ?? throw new ContainerNotFoundException($"service {Config.Name} has no container");

    /// <summary>The host port published for <paramref name="containerPort"/> by its first container.</summary>
    public int GetHostPort(int containerPort, string protocol = "tcp") => Container.GetHostPort(containerPort, protocol);

    /// <summary>Runs a command in its first container.</summary>
    public Task<ExecResult> ExecAsync(IEnumerable<string> command, CancellationToken cancellationToken = default) => Container.ExecAsync(command, cancellationToken);

    /// <summary>The output of its first container.</summary>
    public IAsyncEnumerable<LogEntry> GetLogsAsync(bool follow = false, int? tail = null, CancellationToken cancellationToken = default) =>
        Container.GetLogsAsync(follow, tail, cancellationToken);

    /// <summary>An HTTP handler that reaches this stack's services by name on the service's first network (no published port needed).</summary>
    public SocketsHttpHandler CreateHttpHandler() =>
        stack.Compose.Engine.Networks.CreateHttpHandler(stack.Project.Networks[Config.Networks.Keys.First()].Name);
}

/// <summary>Describes a stack before it comes up.</summary>
public sealed class ComposeStackBuilder
{
    private ComposeOptions options;
    private readonly Dictionary<string, string> environment = [];
    private ContainerEngine? engine;
    private UpOptions up = new() { InProcess = true };

    internal ComposeStackBuilder(ComposeOptions options) => this.options = options;

    /// <summary>Adds a compose file merged over the previous ones.</summary>
    public ComposeStackBuilder WithFile(string path)
    {
        options = options with { Files = options.Files.Add(path) };
        return this;
    }

    /// <summary>Sets a variable for interpolation (over this process's environment).</summary>
    public ComposeStackBuilder WithEnvironment(string name, string value)
    {
        environment[name] = value;
        return this;
    }

    /// <summary>Enables a profile.</summary>
    public ComposeStackBuilder WithProfile(string profile)
    {
        options = options with { Profiles = options.Profiles.Add(profile) };
        return this;
    }

    /// <summary>Sets the project name.</summary>
    public ComposeStackBuilder WithProjectName(string name)
    {
        options = options with { ProjectName = name };
        return this;
    }

    /// <summary>Runs the stack on this engine (default: a new engine with default options, disposed with the stack).</summary>
    public ComposeStackBuilder WithEngine(ContainerEngine containerEngine)
    {
        engine = containerEngine;
        return this;
    }

    /// <summary>Sets how up behaves (build, scale, wait, timeout; in process by default here: the stack ends with this process).</summary>
    public ComposeStackBuilder WithUpOptions(UpOptions upOptions)
    {
        up = upOptions;
        return this;
    }

    /// <summary>Loads and validates the project.</summary>
    public ComposeProject Load()
    {
        var env = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
        foreach (var (k, v) in environment)
        {
            env[k] = v;
        }

        return ComposeLoader.Load(options with { Environment = env });
    }

    /// <summary>What up would create, recreate, start or remove, and why.</summary>
    public async Task<IReadOnlyList<PlanStep>> PlanAsync(CancellationToken cancellationToken = default)
    {
        var owned = engine is null;
        var e = engine ?? new ContainerEngine();
        try
        {
            return await new ComposeEngine(e).PlanAsync(Load(), up, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (owned)
            {
                await e.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Brings the stack up (waiting for dependencies' conditions) and returns it.</summary>
    public async Task<ComposeStack> UpAsync(CancellationToken cancellationToken = default)
    {
        var project = Load();
        var owned = engine is null;
        var e = engine ?? new ContainerEngine();
        var compose = new ComposeEngine(e);
        try
        {
            await compose.UpAsync(project, up, null, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (owned)
            {
                await e.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        return new ComposeStack(compose, project, owned);
    }
}
