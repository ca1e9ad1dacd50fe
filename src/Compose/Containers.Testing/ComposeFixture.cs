using System.Collections.Immutable;
using System.Text;
using Containers.Compose;
using Containers.Runtime;
using Xunit;

namespace Containers.Testing;

/// <summary>
/// An xunit class or collection fixture for a compose stack: brings it up under a project name of its own (so
/// identical stacks run side by side), waits for each service's <see cref="WaitStrategy"/>, seeds it once, and takes
/// it down with its volumes at the end. A failure names the service and carries the last log lines of every service.
/// <c>public sealed class ShopStack : ComposeFixture { protected override string ComposeFile => "compose.yaml"; }</c>
/// </summary>
public abstract class ComposeFixture : IAsyncLifetime
{
    private readonly Dictionary<string, List<SeededVolume>> seeded = [];
    private ComposeStack? stack;

    /// <summary>The compose file (relative to the test's working directory or absolute).</summary>
    protected abstract string ComposeFile { get; }

    /// <summary>What "ready" means per service (default: running; healthy when it has a health check).</summary>
    protected virtual IReadOnlyDictionary<string, WaitStrategy> WaitStrategies => ImmutableDictionary<string, WaitStrategy>.Empty;

    /// <summary>Variables for interpolation.</summary>
    protected virtual IReadOnlyDictionary<string, string> Environment => ImmutableDictionary<string, string>.Empty;

    /// <summary>Services whose volumes <see cref="ResetAsync"/> brings back to their state after <see cref="SeedAsync"/>.</summary>
    protected virtual IEnumerable<string> SeededServices => [];

    /// <summary>How long the whole stack may take to be ready (default 2 min).</summary>
    protected virtual TimeSpan StartTimeout => TimeSpan.FromMinutes(2);

    /// <summary>The engine (default: the run's shared engine).</summary>
    protected virtual ContainerEngine Engine => TestRun.Engine;

    /// <summary>The running stack.</summary>
    public ComposeStack Stack => stack ?? throw new InvalidOperationException("the stack is not up yet");

    /// <summary>A service of the stack.</summary>
    public ComposeService this[string service] => Stack.Services[service];

    /// <summary>Seeds the stack once it is ready (a database's schema and data, say); runs once per fixture.</summary>
    protected virtual Task SeedAsync(ComposeStack stack) => Task.CompletedTask;

    /// <summary>An HTTP client whose requests reach services by name (<c>http://api:8080/</c>) with no published port.</summary>
    public HttpClient CreateHttpClient(string service) => new(this[service].CreateHttpHandler());

    /// <summary>Brings the stack up and waits until it is ready.</summary>
    public async Task InitializeAsync()
    {
        var engine = Engine;
        var name = ComposeLoader.Normalize(GetType().Name) + "-" + Guid.NewGuid().ToString("N")[..6];
        var builder = ComposeStack.FromFile(Path.GetFullPath(ComposeFile)).WithEngine(engine).WithProjectName(name)
            .WithUpOptions(new UpOptions { InProcess = true, Timeout = StartTimeout, ExtraLabels = ImmutableDictionary<string, string>.Empty.Add(TestRun.Label, TestRun.Id), CgroupParent = TestRun.CgroupParent });
        foreach (var (k, v) in Environment)
        {
            builder = builder.WithEnvironment(k, v);
        }

        stack = await builder.UpAsync().ConfigureAwait(false);
        try
        {
            using var cts = new CancellationTokenSource(StartTimeout);
            await WaitReadyAsync(Stack.Services.Keys, cts.Token).ConfigureAwait(false);
            await SeedAsync(Stack).ConfigureAwait(false);
            foreach (var service in SeededServices)
            {
                await FreezeAsync(service).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            var logs = await LogsAsync().ConfigureAwait(false);
            await DisposeAsync().ConfigureAwait(false);
            throw new ContainerException($"{e.Message}\n{logs}", e);
        }
    }

    /// <summary>
    /// Brings the seeded services back to their seeded state: their containers are recreated (a fresh writable layer)
    /// over their volumes' seed with the test's writes dropped, and waited for again. No re-seeding.
    /// </summary>
    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        foreach (var (service, volumes) in seeded)
        {
            // the test's writes are thrown away: no need for a graceful stop
            foreach (var c in this[service].Containers)
            {
                await c.StopAsync(TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            }

            foreach (var v in volumes)
            {
                v.Reset();
            }

            await RecreateAsync(service, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes the stack down with its volumes.</summary>
    public async Task DisposeAsync()
    {
        foreach (var v in seeded.Values.SelectMany(v => v))
        {
            foreach (var c in seeded.Keys.SelectMany(s => this[s].Containers))
            {
                await c.StopAsync(TimeSpan.Zero).ConfigureAwait(false);
            }

            v.Dispose();
        }

        seeded.Clear();
        if (stack is not null)
        {
            await stack.DownAsync().ConfigureAwait(false);
            stack = null;
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>The last lines of every service's output, for failure messages.</summary>
    public async Task<string> LogsAsync(int lines = 20)
    {
        var sb = new StringBuilder();
        foreach (var c in stack is null ? [] : Stack.Compose.Ps(Stack.Project.Name))
        {
            sb.Append("--- ").Append(c.Name).Append(" (").Append(c.Status.ToString().ToLowerInvariant()).Append(c.Status == ContainerStatus.Exited ? $", exit {c.ExitCode}" : "").Append(c.Health is { } h ? ", " + h.Status : "").AppendLine(") ---");
            await foreach (var line in Stack.Compose.Engine.Get(c.Id).GetLogsAsync(false, lines).ConfigureAwait(false))
            {
                sb.Append(line.Text.TrimEnd('\n')).Append('\n');
            }
        }

        return sb.ToString();
    }

    private async Task WaitReadyAsync(IEnumerable<string> services, CancellationToken cancellationToken)
    {
        foreach (var service in services)
        {
            if (WaitStrategies.TryGetValue(service, out var wait))
            {
                foreach (var c in this[service].Containers)
                {
                    await wait.WaitAsync(c, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                var healthy = this[service].Containers.Any(c => c.State.Spec.HealthCheck is { IsDisabled: false });
                await Stack.Compose.WaitForAsync(Stack.Project, service, healthy ? "service_healthy" : "service_started", StartTimeout, null, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task FreezeAsync(string service)
    {
        // a graceful stop (the service's stop_grace_period) so the seed is flushed to the volume
        var containers = this[service].Containers;
        foreach (var c in containers)
        {
            await c.StopAsync(this[service].Config.StopGracePeriod).ConfigureAwait(false);
        }

        var names = containers.SelectMany(c => c.State.Spec.Mounts).Where(m => m.Type == MountType.Volume).Select(m => m.Source).Distinct().ToList();
        seeded[service] = [.. names.Select(n => SeededVolume.Freeze(Stack.Compose.Engine.Volumes.Get(n).Mountpoint))];
        await RecreateAsync(service, CancellationToken.None).ConfigureAwait(false);
    }

    private async Task RecreateAsync(string service, CancellationToken cancellationToken)
    {
        await Stack.Compose.UpAsync(Stack.Project, new UpOptions
        {
            Services = [service],
            NoDeps = true,
            ForceRecreate = true,
            InProcess = true,
            ExtraLabels = ImmutableDictionary<string, string>.Empty.Add(TestRun.Label, TestRun.Id),
            CgroupParent = TestRun.CgroupParent,
        }, null, cancellationToken).ConfigureAwait(false);
        await WaitReadyAsync([service], cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// An xunit fixture for one container: <see cref="Configure"/> says what to run, <see cref="Wait"/> when it is ready.
/// A failure carries the container's last log lines; disposal kills and removes it.
/// </summary>
public abstract class ContainerFixture : IAsyncLifetime
{
    private Container? container;

    /// <summary>The container to run.</summary>
    protected abstract ContainerBuilder Configure(ContainerEngine engine);

    /// <summary>When it is ready (default: started).</summary>
    protected virtual WaitStrategy? Wait => null;

    /// <summary>The engine (default: the run's shared engine).</summary>
    protected virtual ContainerEngine Engine => TestRun.Engine;

    /// <summary>The running container.</summary>
    public Container Container => container ?? throw new InvalidOperationException("the container is not started yet");

    /// <summary>Starts it and waits.</summary>
    public async Task InitializeAsync()
    {
        var engine = Engine;
        container = await engine.StartAsync(Configure(engine).WithLabel(TestRun.Label, TestRun.Id).WithCgroupParent(TestRun.CgroupParent).ToSpec()).ConfigureAwait(false);
        if (Wait is not { } wait)
        {
            return;
        }

        try
        {
            await wait.WaitAsync(container).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var sb = new StringBuilder();
            await foreach (var line in container.GetLogsAsync(false, 20).ConfigureAwait(false))
            {
                sb.Append(line.Text.TrimEnd('\n')).Append('\n');
            }

            await DisposeAsync().ConfigureAwait(false);
            throw new ContainerException($"{e.Message}\n--- last output ---\n{sb}", e);
        }
    }

    /// <summary>Kills and removes it.</summary>
    public async Task DisposeAsync()
    {
        if (container is not null)
        {
            await container.DisposeAsync().ConfigureAwait(false);
            container = null;
        }

        GC.SuppressFinalize(this);
    }
}
