using System.Net;

namespace Containers.Dashboard;

/// <summary>What a dashboard serves and how it is reached.</summary>
public sealed record DashboardOptions
{
    /// <summary>
    /// Where the dashboard keeps its admin password's hash, its API tokens and its stacks' compose files (mode 0700;
    /// the files in it 0600).
    /// </summary>
    public required string DataDirectory { get; init; }

    /// <summary>
    /// The engine of this process. When set and <see cref="DockerHost"/> is not, the dashboard serves it through a
    /// Docker Engine API of its own on a private unix socket in <see cref="DataDirectory"/>, and deploys stacks on it.
    /// </summary>
    public ContainerEngine? Engine { get; init; }

    /// <summary>A Docker Engine API endpoint to serve instead: <c>unix:///PATH</c> or <c>tcp://HOST:PORT</c> (plain HTTP).</summary>
    public string? DockerHost { get; init; }

    /// <summary>A kubeconfig whose current context names the cluster to serve (its server, CA and credentials).</summary>
    public string? KubeconfigPath { get; init; }

    /// <summary>
    /// Serve the cluster this process runs in as a pod (its service account's token and CA, KUBERNETES_SERVICE_HOST),
    /// as the dashboard's Helm chart runs it.
    /// </summary>
    public bool InCluster { get; init; }

    /// <summary>
    /// The admin password for an unattended start (<c>--password-file</c>, <c>CONTAINERS_DASHBOARD_PASSWORD</c>): it
    /// replaces the stored one. Null: the first visitor sets it (bind to loopback until then).
    /// </summary>
    public string? AdminPassword { get; init; }

    /// <summary>The address the standalone server binds (default 127.0.0.1).</summary>
    public IPAddress Address { get; init; } = IPAddress.Loopback;

    /// <summary>The standalone server's port (default 9000, Portainer's; 0 picks a free one).</summary>
    public int Port { get; init; } = 9000;

    /// <summary>A PEM certificate (chain) to serve HTTPS with; with <see cref="TlsKeyPath"/>.</summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>The PEM private key of <see cref="TlsCertificatePath"/>.</summary>
    public string? TlsKeyPath { get; init; }

    /// <summary>How long a session lasts without a request (default 1 hour).</summary>
    public TimeSpan SessionIdleTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Failed logins allowed from one address within <see cref="LoginWindow"/> before it must wait (default 5).</summary>
    public int MaxFailedLogins { get; init; } = 5;

    /// <summary>The window failed logins are counted in (default 5 minutes).</summary>
    public TimeSpan LoginWindow { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The clock of sessions, tokens and the login rate limit (default the system's).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
