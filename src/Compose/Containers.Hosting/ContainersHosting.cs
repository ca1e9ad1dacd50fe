using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Globalization;
using Containers.Compose;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Containers.Hosting;

/// <summary>Engine settings bound from the configuration section "Containers".</summary>
public sealed class ContainersOptions
{
    /// <summary>The root directory (default: <see cref="EngineOptions.Root"/>'s default).</summary>
    public string? Root { get; set; }

    /// <summary>Machine-wide state directory.</summary>
    public string? MachineStateDirectory { get; set; }

    /// <summary>Default bridge name.</summary>
    public string? BridgeName { get; set; }

    /// <summary>Default bridge subnet.</summary>
    public string? BridgeSubnet { get; set; }

    /// <summary>Upstream DNS servers of the networks' embedded DNS.</summary>
    public List<string> DnsUpstreams { get; } = [];

    /// <summary>How long a resource may take to be ready (default 5 min).</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The engine options these settings make.</summary>
    public EngineOptions ToEngineOptions()
    {
        var o = new EngineOptions();
        return o with
        {
            Root = Root ?? o.Root,
            MachineStateDirectory = MachineStateDirectory ?? o.MachineStateDirectory,
            BridgeName = BridgeName ?? o.BridgeName,
            BridgeSubnet = BridgeSubnet ?? o.BridgeSubnet,
            DnsUpstreams = DnsUpstreams.Count > 0 ? [.. DnsUpstreams] : o.DnsUpstreams,
        };
    }
}

/// <summary>A resource the app brings up before it starts: a compose stack or a container.</summary>
public abstract class ContainerResource
{
    /// <summary>Its name (the key of its configuration values: <c>Containers:Resources:NAME:...</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Resources that must be up (and healthy) before this one starts.</summary>
    public ImmutableArray<string> DependsOn { get; init; } = [];

    internal abstract Task StartAsync(ContainerEngine engine, ContainersOptions options, ILogger logger, CancellationToken ct);

    internal abstract Task StopAsync(CancellationToken ct);

    /// <summary>The containers that make it, with their service names.</summary>
    public abstract IReadOnlyList<(string Service, Container Container)> Containers { get; }
}

/// <summary>A compose stack as a resource.</summary>
public sealed class ComposeStackResource : ContainerResource
{
    /// <summary>The compose file.</summary>
    public required string File { get; init; }

    /// <summary>Variables for interpolation.</summary>
    public ImmutableDictionary<string, string> Environment { get; init; } = ImmutableDictionary<string, string>.Empty;

    /// <summary>Profiles.</summary>
    public ImmutableArray<string> Profiles { get; init; } = [];

    /// <summary>The stack once started.</summary>
    public ComposeStack? Stack { get; private set; }

    /// <inheritdoc />
    public override IReadOnlyList<(string Service, Container Container)> Containers =>
        Stack is null ? [] : [.. Stack.Services.SelectMany(kv => kv.Value.Containers.Select(c => (kv.Key, c)))];

    internal override async Task StartAsync(ContainerEngine engine, ContainersOptions options, ILogger logger, CancellationToken ct)
    {
        var builder = ComposeStack.FromFile(File).WithEngine(engine).WithUpOptions(new UpOptions { InProcess = true, Wait = true, Timeout = options.StartTimeout });
        foreach (var (k, v) in Environment)
        {
            builder = builder.WithEnvironment(k, v);
        }

        foreach (var p in Profiles)
        {
            builder = builder.WithProfile(p);
        }

        Stack = await builder.UpAsync(ct).ConfigureAwait(false);
        logger.LogInformation("compose stack {Name} is up: {Services}", Name, string.Join(", ", Stack.Services.Keys));
    }

    internal override async Task StopAsync(CancellationToken ct)
    {
        if (Stack is not null)
        {
            await Stack.DownAsync(volumes: false, ct).ConfigureAwait(false);
        }
    }
}

/// <summary>One container as a resource.</summary>
public sealed class SingleContainerResource : ContainerResource
{
    /// <summary>What to run.</summary>
    public required Func<ContainerEngine, ContainerBuilder> Configure { get; init; }

    /// <summary>The container once started.</summary>
    public Container? Container { get; private set; }

    /// <inheritdoc />
    public override IReadOnlyList<(string Service, Container Container)> Containers => Container is null ? [] : [(Name, Container)];

    internal override async Task StartAsync(ContainerEngine engine, ContainersOptions options, ILogger logger, CancellationToken ct)
    {
        var spec = Configure(engine).ToSpec();
        spec = spec with { Name = spec.Name ?? Name };
        if (engine.List(all: true).FirstOrDefault(c => c.Name == spec.Name) is { } stale)
        {
            await engine.Get(stale.Id).RemoveAsync(force: true, ct).ConfigureAwait(false);
        }

        Container = await engine.StartAsync(spec, null, ct).ConfigureAwait(false);
        if (spec.HealthCheck is { IsDisabled: false })
        {
            try
            {
                await WaitStrategy.ForHealthy().WithTimeout(options.StartTimeout).WithInterval(TimeSpan.FromMilliseconds(50)).WaitAsync(Container, ct).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                throw new ContainerException($"container {Name} did not become healthy: {e.Message}");
            }
        }

        logger.LogInformation("container {Name} is up at {Address}", Name, Container.IPAddress);
    }

    internal override async Task StopAsync(CancellationToken ct)
    {
        if (Container is not null)
        {
            await Container.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>Registration of the engine and its resources.</summary>
public static class ContainersServiceCollectionExtensions
{
    /// <summary>
    /// Adds the engine as a singleton (options from the configuration section "Containers", then <paramref name="configure"/>),
    /// the hosted service that brings the resources up in registration order and down in reverse, and a "containers" health check.
    /// </summary>
    public static IServiceCollection AddContainers(this IServiceCollection services, Action<ContainersOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<ContainersOptions>().BindConfiguration("Containers");
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.TryAddSingleton(sp => new ContainerEngine(sp.GetRequiredService<IOptions<ContainersOptions>>().Value.ToEngineOptions(), sp.GetService<ILoggerFactory>()));
        services.TryAddSingleton<ResourceValues>();
        if (!services.Any(d => d.ImplementationType == typeof(ContainerResourcesHostedService)))
        {
            services.AddHostedService<ContainerResourcesHostedService>();
            services.AddHealthChecks().AddCheck<ContainersHealthCheck>("containers", HealthStatus.Unhealthy, ["containers"]);
        }

        return services;
    }

    /// <summary>A compose stack that comes up (healthy) with the app and goes down with it.</summary>
    public static IServiceCollection AddComposeStack(this IServiceCollection services, string composeFile, string? name = null, IReadOnlyDictionary<string, string>? environment = null, params string[] dependsOn)
    {
        services.AddContainers();
        services.AddSingleton<ContainerResource>(new ComposeStackResource
        {
            Name = name ?? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(composeFile))) ?? "stack",
            File = Path.GetFullPath(composeFile),
            Environment = environment?.ToImmutableDictionary() ?? ImmutableDictionary<string, string>.Empty,
            DependsOn = [.. dependsOn],
        });
        return services;
    }

    /// <summary>A container that comes up (healthy, when it has a health check) with the app and goes away with it.</summary>
    public static IServiceCollection AddContainer(this IServiceCollection services, string name, Func<ContainerEngine, ContainerBuilder> configure, params string[] dependsOn)
    {
        services.AddContainers();
        services.AddSingleton<ContainerResource>(new SingleContainerResource { Name = name, Configure = configure, DependsOn = [.. dependsOn] });
        return services;
    }

    /// <summary>
    /// As <see cref="AddComposeStack(IServiceCollection, string, string?, IReadOnlyDictionary{string, string}?, string[])"/>, and the started
    /// services' addresses become configuration values of the app: <c>Containers:Resources:NAME:SERVICE:Address</c> (its IP),
    /// <c>...:Ports:PORT</c> (the published host port) and <c>...:Url</c> (<c>http://127.0.0.1:PORT</c> for the first published port).
    /// </summary>
    public static IHostApplicationBuilder AddComposeStack(this IHostApplicationBuilder builder, string composeFile, string? name = null, IReadOnlyDictionary<string, string>? environment = null, params string[] dependsOn)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddValues(builder);
        builder.Services.AddComposeStack(composeFile, name, environment, dependsOn);
        return builder;
    }

    /// <summary>As <see cref="AddContainer(IServiceCollection, string, Func{ContainerEngine, ContainerBuilder}, string[])"/>, with its address in the configuration.</summary>
    public static IHostApplicationBuilder AddContainer(this IHostApplicationBuilder builder, string name, Func<ContainerEngine, ContainerBuilder> configure, params string[] dependsOn)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddValues(builder);
        builder.Services.AddContainer(name, configure, dependsOn);
        return builder;
    }

    private static void AddValues(IHostApplicationBuilder builder)
    {
        if (((IConfigurationBuilder)builder.Configuration).Sources.OfType<ResourceValues>().Any())
        {
            return;
        }

        var values = new ResourceValues();
        builder.Services.Replace(ServiceDescriptor.Singleton(values));
        ((IConfigurationBuilder)builder.Configuration).Add(values);
    }
}

/// <summary>Brings the registered resources up before the app starts serving, and down when it stops.</summary>
internal sealed class ContainerResourcesHostedService(ContainerEngine engine, IEnumerable<ContainerResource> resources, IOptions<ContainersOptions> options, ResourceValues values, ILogger<ContainerResourcesHostedService> logger) : IHostedService
{
    private readonly List<ContainerResource> started = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var r in InDependencyOrder(resources.ToList()))
        {
            logger.LogInformation("starting {Resource}", r.Name);
            try
            {
                await r.StartAsync(engine, options.Value, logger, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await StopAsync(CancellationToken.None).ConfigureAwait(false);
                await r.StopAsync(CancellationToken.None).ConfigureAwait(false);
                throw;
            }

            started.Add(r);
            values.Publish(r);
        }
    }

    /// <summary>Dependencies first, otherwise registration order; unknown dependencies and cycles are refused.</summary>
    internal static List<ContainerResource> InDependencyOrder(List<ContainerResource> all)
    {
        var byName = all.ToDictionary(r => r.Name);
        var order = new List<ContainerResource>();
        var state = new Dictionary<string, int>();
        void Visit(ContainerResource r, List<string> path)
        {
            if (state.GetValueOrDefault(r.Name) == 2)
            {
                return;
            }

            if (state.GetValueOrDefault(r.Name) == 1)
            {
                throw new ContainerException($"container resources depend on each other in a cycle: {string.Join(" -> ", path.Append(r.Name))}");
            }

            state[r.Name] = 1;
            foreach (var d in r.DependsOn)
            {
                Visit(byName.GetValueOrDefault(d) ?? throw new ContainerException($"container resource {r.Name} depends on {d}, which is not registered"), [.. path, r.Name]);
            }

            state[r.Name] = 2;
            order.Add(r);
        }

        foreach (var r in all)
        {
            Visit(r, []);
        }

        return order;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        for (var i = started.Count - 1; i >= 0; i--)
        {
            logger.LogInformation("stopping {Resource}", started[i].Name);
            await started[i].StopAsync(cancellationToken).ConfigureAwait(false);
        }

        started.Clear();
    }
}

/// <summary>Healthy when every container of every resource runs (and is healthy when it has a check).</summary>
internal sealed class ContainersHealthCheck(IEnumerable<ContainerResource> resources) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var worst = HealthStatus.Healthy;
        foreach (var r in resources)
        {
            foreach (var (service, c) in r.Containers)
            {
                Runtime.ContainerState s;
                try
                {
                    s = c.State;
                }
                catch (ContainerNotFoundException)
                {
                    data[$"{r.Name}/{service}"] = "removed";
                    worst = HealthStatus.Unhealthy;
                    continue;
                }

                var status = !s.IsActive ? HealthStatus.Unhealthy : s.Health?.Status switch
                {
                    "unhealthy" => HealthStatus.Unhealthy,
                    "starting" => HealthStatus.Degraded,
                    _ => HealthStatus.Healthy,
                };
                data[$"{r.Name}/{service}/{c.Name}"] = s.Health?.Status ?? s.Status.ToString().ToLowerInvariant();
                worst = (HealthStatus)Math.Min((int)worst, (int)status);
            }
        }

        return Task.FromResult(new HealthCheckResult(worst, worst == HealthStatus.Healthy ? "all containers are up" : "some containers are not healthy", null, data));
    }
}

/// <summary>Configuration values published by started resources (a configuration source of the app).</summary>
internal sealed class ResourceValues : ConfigurationProvider, IConfigurationSource
{
    private readonly ConcurrentDictionary<string, string?> values = new(StringComparer.OrdinalIgnoreCase);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;

    public void Publish(ContainerResource r)
    {
        foreach (var (service, c) in r.Containers)
        {
            var prefix = $"Containers:Resources:{r.Name}:{service}";
            values[prefix + ":Address"] = c.IPAddress;
            values[prefix + ":Name"] = c.Name;
            foreach (var p in c.State.Ports)
            {
                values[$"{prefix}:Ports:{p.ContainerPort.ToString(CultureInfo.InvariantCulture)}"] = p.HostPort.ToString(CultureInfo.InvariantCulture);
            }

            if (c.State.Ports.FirstOrDefault() is { } first)
            {
                values[prefix + ":Url"] = $"http://127.0.0.1:{first.HostPort.ToString(CultureInfo.InvariantCulture)}";
            }
        }

        Data = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);
        OnReload();
    }
}
