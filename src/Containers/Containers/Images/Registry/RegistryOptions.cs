namespace Containers.Images.Registry;

/// <summary>How the engine talks to registries.</summary>
public sealed record RegistryOptions
{
    /// <summary>
    /// Registries spoken to over plain HTTP when HTTPS fails, and whose certificates are not verified (docker's
    /// <c>insecure-registries</c>). localhost, 127.0.0.0/8 and ::1 are insecure too unless <see cref="LoopbackIsInsecure"/> is false.
    /// </summary>
    public ImmutableArray<string> InsecureRegistries { get; init; } = [];

    /// <summary>Treat localhost, 127.0.0.0/8 and ::1 as insecure, as docker does (default true).</summary>
    public bool LoopbackIsInsecure { get; init; } = true;

    /// <summary>Credentials by registry host, tried before <see cref="DockerConfigPath"/>.</summary>
    public ImmutableDictionary<string, RegistryCredentials> Credentials { get; init; } = ImmutableDictionary<string, RegistryCredentials>.Empty;

    /// <summary>docker's config.json holding <c>auths</c>. Default: $DOCKER_CONFIG/config.json or ~/.docker/config.json.</summary>
    public string? DockerConfigPath { get; init; } = DefaultDockerConfig();

    /// <summary>Per-registry CA certificates, <c>&lt;dir&gt;/&lt;host:port&gt;/*.crt</c>, as docker's certs.d. Default: /etc/docker/certs.d.</summary>
    public string CertificatesDirectory { get; init; } = "/etc/docker/certs.d";

    /// <summary>
    /// Pull mirrors by prefix (a registry such as <c>docker.io</c>, or <c>registry/namespace</c>): locations
    /// (<c>host[:port][/namespace]</c>, or an <c>http://</c> URL for a plain-HTTP one) tried in order before the registry
    /// itself; a digest-pinned reference is verified whichever served it. Added to what the files below configure.
    /// </summary>
    public ImmutableDictionary<string, ImmutableArray<string>> Mirrors { get; init; } = ImmutableDictionary<string, ImmutableArray<string>>.Empty;

    /// <summary>containers/image's registries.conf (v2). Default: CONTAINERS_REGISTRIES_CONF, else /etc/containers/registries.conf; null for none.</summary>
    public string? RegistriesConfPath { get; init; } = Environment.GetEnvironmentVariable("CONTAINERS_REGISTRIES_CONF") is { Length: > 0 } p ? p : "/etc/containers/registries.conf";

    /// <summary>docker's daemon.json (<c>registry-mirrors</c>, <c>insecure-registries</c>). Default: /etc/docker/daemon.json; null for none.</summary>
    public string? DaemonConfigPath { get; init; } = "/etc/docker/daemon.json";

    /// <summary>Layers downloaded (and unpacked) at once. Default 3, as docker.</summary>
    public int MaxConcurrentDownloads { get; init; } = 3;

    /// <summary>Attempts for a request or a layer that failed transiently (network errors, 5xx, 429). Default 3 retries.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>Blobs larger than this are pushed in PATCH chunks of this size; 0 pushes every blob in one PUT.</summary>
    public long PushChunkSize { get; init; } = 32L << 20;

    private static string? DefaultDockerConfig()
    {
        var dir = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        if (string.IsNullOrEmpty(dir))
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            dir = string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".docker");
        }

        return dir is null ? null : Path.Combine(dir, "config.json");
    }
}

/// <summary>A user name and password (or identity token) for a registry.</summary>
/// <param name="Username">The user name.</param>
/// <param name="Password">The password or token.</param>
public sealed record RegistryCredentials(string Username, string Password)
{
    /// <summary>Hides the password.</summary>
    public override string ToString() => $"{Username}:***";
}
