using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

// The request bodies the Docker API reads, named after the swagger's (ContainerCreateRequest is the ContainerCreate
// operation's body: ContainerConfig with HostConfig and NetworkingConfig). Read with DockerJsonContext.Requests: names
// in any case, dockerd's leniencies (BodyConverters), a field of the wrong type named in the 400. A field a client
// leaves out or sends as null is null here.

/// <summary>The body of <c>POST /containers/create</c>: the container's configuration, its host configuration and its networks.</summary>
public sealed class ContainerCreateRequest
{
    /// <summary>The hostname (the first 12 digits of the ID when empty).</summary>
    public string? Hostname { get; init; }

    /// <summary>The user the process runs as (name or uid, optionally <c>:group</c>).</summary>
    public string? User { get; init; }

    /// <summary>Whether stdin stays open for attach.</summary>
    public bool OpenStdin { get; init; }

    /// <summary>Whether stdin closes after the first attach ends.</summary>
    public bool StdinOnce { get; init; }

    /// <summary>Whether the process gets a terminal.</summary>
    public bool Tty { get; init; }

    /// <summary>The ports the container exposes (<c>"80/tcp": {}</c>).</summary>
    public Dictionary<string, Images.Oci.EmptyObject?>? ExposedPorts { get; init; }

    /// <summary>The environment, <c>KEY=VALUE</c>.</summary>
    public List<string>? Env { get; init; }

    /// <summary>The command (a string or a list).</summary>
    public List<string>? Cmd { get; init; }

    /// <summary>The entrypoint (a string or a list; empty: the image's).</summary>
    public List<string>? Entrypoint { get; init; }

    /// <summary>The image to create the container from.</summary>
    public string? Image { get; init; }

    /// <summary>The working directory.</summary>
    public string? WorkingDir { get; init; }

    /// <summary>The labels.</summary>
    public Dictionary<string, string>? Labels { get; init; }

    /// <summary>The signal that stops the container.</summary>
    public string? StopSignal { get; init; }

    /// <summary>Seconds to wait after the stop signal before killing.</summary>
    public int? StopTimeout { get; init; }

    /// <summary>The health check.</summary>
    public HealthConfig? Healthcheck { get; init; }

    /// <summary>The host configuration.</summary>
    public HostConfig? HostConfig { get; init; }

    /// <summary>The networks to connect to at creation.</summary>
    public NetworkingConfig? NetworkingConfig { get; init; }
}

/// <summary>The networks of a container create request: an endpoint configuration per network name.</summary>
public sealed class NetworkingConfig
{
    /// <summary>The endpoints by network name (aliases and a fixed address).</summary>
    public Dictionary<string, EndpointSettings?>? EndpointsConfig { get; init; }
}

/// <summary>The body of <c>POST /containers/{id}/exec</c> (the swagger's <c>ExecConfig</c>).</summary>
public sealed class ExecConfig
{
    /// <summary>Whether stdin is attached.</summary>
    public bool AttachStdin { get; init; }

    /// <summary>Whether stdout is attached.</summary>
    public bool AttachStdout { get; init; }

    /// <summary>Whether stderr is attached.</summary>
    public bool AttachStderr { get; init; }

    /// <summary>Whether the process gets a terminal.</summary>
    public bool Tty { get; init; }

    /// <summary>The command (a string or a list).</summary>
    public List<string>? Cmd { get; init; }

    /// <summary>Environment added to the container's, <c>KEY=VALUE</c>.</summary>
    public List<string>? Env { get; init; }

    /// <summary>The user the command runs as.</summary>
    public string? User { get; init; }

    /// <summary>The working directory.</summary>
    public string? WorkingDir { get; init; }

    /// <summary>Whether it runs with every capability (docker exec --privileged).</summary>
    public bool Privileged { get; init; }

    /// <summary>The detach key sequence.</summary>
    public string? DetachKeys { get; init; }
}

/// <summary>The body of <c>POST /networks/create</c> (the swagger's <c>NetworkCreateRequest</c>).</summary>
public sealed class NetworkCreateRequest
{
    /// <summary>The network's name.</summary>
    public string? Name { get; init; }

    /// <summary>The driver (bridge only).</summary>
    public string? Driver { get; init; }

    /// <summary>Whether the network has no route out.</summary>
    public bool Internal { get; init; }

    /// <summary>Address management: the first Config's Subnet and Gateway are used.</summary>
    public IPAM? IPAM { get; init; }

    /// <summary>The labels.</summary>
    public Dictionary<string, string>? Labels { get; init; }
}

/// <summary>The body of <c>POST /networks/{id}/connect</c> (the swagger's <c>NetworkConnectRequest</c>).</summary>
public sealed class NetworkConnectRequest
{
    /// <summary>The container, by ID or name.</summary>
    public string? Container { get; init; }

    /// <summary>Its endpoint on the network: aliases and a fixed address.</summary>
    public EndpointSettings? EndpointConfig { get; init; }
}

/// <summary>The body of <c>POST /networks/{id}/disconnect</c> (the swagger's <c>NetworkDisconnectRequest</c>).</summary>
public sealed class NetworkDisconnectRequest
{
    /// <summary>The container, by ID or name.</summary>
    public string? Container { get; init; }

    /// <summary>Whether to disconnect a container that is not running.</summary>
    public bool Force { get; init; }
}

/// <summary>The body of <c>POST /volumes/create</c> (the swagger's <c>VolumeCreateRequest</c>).</summary>
public sealed class VolumeCreateRequest
{
    /// <summary>The volume's name (a random one when empty).</summary>
    public string? Name { get; init; }

    /// <summary>The driver (local only).</summary>
    public string? Driver { get; init; }

    /// <summary>The labels.</summary>
    public Dictionary<string, string>? Labels { get; init; }
}

/// <summary>The body of <c>POST /exec/{id}/start</c> (the swagger's <c>ExecStartConfig</c>).</summary>
public sealed class ExecStartConfig
{
    /// <summary>Whether to start it and answer at once, with no stream.</summary>
    public bool Detach { get; init; }

    /// <summary>Whether the process gets a terminal (null: as created).</summary>
    public bool? Tty { get; init; }
}
