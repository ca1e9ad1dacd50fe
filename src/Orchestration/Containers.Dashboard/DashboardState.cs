using Containers.DockerApi;
using Microsoft.Extensions.Hosting;

namespace Containers.Dashboard;

/// <summary>
/// What a dashboard serves: its access control, the Docker API endpoint (of the engine of this process, served on a
/// private socket, or another), the cluster of a kubeconfig, and the stacks deployed on the local engine.
/// </summary>
public sealed class DashboardState : IAsyncDisposable
{
    private readonly SemaphoreSlim start = new(1, 1);
    private DockerApiServer? localApi;
    private DockerEndpoint? docker;

    /// <summary>The state of a dashboard with <paramref name="options"/>; <see cref="StartAsync"/> brings its endpoints up.</summary>
    public DashboardState(DashboardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Auth = new DashboardAuth(options);
        Kubernetes = options.InCluster ? KubernetesEndpoint.InCluster()
            : options.KubeconfigPath is { } kubeconfig && File.Exists(kubeconfig) ? new KubernetesEndpoint(kubeconfig) : null;
        Stacks = options.Engine is { } engine && options.DockerHost is null ? new Stacks(engine, Path.Combine(options.DataDirectory, "stacks")) : null;
    }

    /// <summary>The options it was made with.</summary>
    public DashboardOptions Options { get; }

    internal DashboardAuth Auth { get; }

    internal KubernetesEndpoint? Kubernetes { get; }

    internal Stacks? Stacks { get; }

    internal DockerEndpoint? Docker => Volatile.Read(ref docker);

    /// <summary>Whether the admin's password is set (false: the first visitor is asked for one).</summary>
    public bool Initialized => Auth.Initialized;

    /// <summary>
    /// Connects the Docker endpoint: for the engine of this process, a Docker Engine API of its own on DATA/docker.sock
    /// (mode 0600). Idempotent.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await start.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (docker is not null)
            {
                return;
            }

            if (Options.DockerHost is { } host)
            {
                docker = new DockerEndpoint(host);
            }
            else if (Options.Engine is { } engine)
            {
                string socket = Path.Combine(Options.DataDirectory, "docker.sock");
                localApi = await DockerApiServer.StartAsync(engine, socket, cancellationToken).ConfigureAwait(false);
                File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                docker = new DockerEndpoint("unix://" + socket);
            }
        }
        finally
        {
            start.Release();
        }
    }

    /// <summary>Stops the private Docker API and closes the endpoints.</summary>
    public async ValueTask DisposeAsync()
    {
        docker?.Dispose();
        Kubernetes?.Dispose();
        if (localApi is not null)
        {
            await localApi.DisposeAsync().ConfigureAwait(false);
        }

        start.Dispose();
    }

    /// <summary>Starts and stops a dashboard's state with the host.</summary>
    internal sealed class Lifetime(DashboardState state) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => state.StartAsync(cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
