// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

/// <summary>Configuration for a container that is portable between hosts.</summary>
public sealed class ContainerConfig
{
    /// <summary>The hostname to use for the container, as a valid RFC 1123 hostname.</summary>
    public string Hostname { get; init; } = "";

    /// <summary>The domain name to use for the container.</summary>
    public string Domainname { get; init; } = "";

    /// <summary>Commands run as this user inside the container.</summary>
    public string User { get; init; } = "";

    /// <summary>Whether to attach to "stdin".</summary>
    public bool AttachStdin { get; init; }

    /// <summary>Whether to attach to "stdout".</summary>
    public bool AttachStdout { get; init; }

    /// <summary>Whether to attach to "stderr".</summary>
    public bool AttachStderr { get; init; }

    /// <summary>An object mapping ports to an empty object in the form: "{"/": {}}".</summary>
    public Dictionary<string, Images.Oci.EmptyObject>? ExposedPorts { get; init; }

    /// <summary>Attach standard streams to a TTY, including "stdin" if it is not closed.</summary>
    public bool Tty { get; init; }

    /// <summary>Open "stdin".</summary>
    public bool OpenStdin { get; init; }

    /// <summary>Close "stdin" after one attached client disconnects.</summary>
    public bool StdinOnce { get; init; }

    /// <summary>A list of environment variables to set inside the container in the form "["VAR=value", ...]".</summary>
    public List<string> Env { get; init; } = [];

    /// <summary>Command to run specified as a string or an array of strings.</summary>
    public List<string>? Cmd { get; init; }

    /// <summary>The entry point for the container as a string or an array of strings.</summary>
    public List<string>? Entrypoint { get; init; }

    /// <summary>
    /// The name (or reference) of the image to use when creating the container, or which was used when the
    /// container was created.
    /// </summary>
    public string Image { get; init; } = "";

    /// <summary>An object mapping mount point paths inside the container to empty objects.</summary>
    public Dictionary<string, Images.Oci.EmptyObject>? Volumes { get; init; }

    /// <summary>"ONBUILD" metadata that were defined in the image's "Dockerfile".</summary>
    public List<string>? OnBuild { get; init; }

    /// <summary>The working directory for commands to run in.</summary>
    public string WorkingDir { get; init; } = "";

    /// <summary>User-defined key/value metadata.</summary>
    public Dictionary<string, string>? Labels { get; init; }

    /// <summary>Signal to stop a container as a string or unsigned integer.</summary>
    public string? StopSignal { get; init; }

    /// <summary>Timeout to stop a container in seconds.</summary>
    public int? StopTimeout { get; init; }

    /// <summary>A test to perform to check that the container is healthy.</summary>
    public HealthConfig? Healthcheck { get; init; }
}

/// <summary>Configuration of the image.</summary>
public sealed class ImageConfig
{
    /// <summary>The user that commands are run as inside the container.</summary>
    public string User { get; init; } = "";

    /// <summary>An object mapping ports to an empty object in the form: "{"/": {}}".</summary>
    public Dictionary<string, Images.Oci.EmptyObject>? ExposedPorts { get; init; }

    /// <summary>A list of environment variables to set inside the container in the form "["VAR=value", ...]".</summary>
    public List<string> Env { get; init; } = [];

    /// <summary>Command to run specified as a string or an array of strings.</summary>
    public List<string>? Cmd { get; init; }

    /// <summary>A test to perform to check that the container is healthy.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public HealthConfig? Healthcheck { get; init; }

    /// <summary>Command is already escaped (Windows only).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ArgsEscaped { get; init; }

    /// <summary>The working directory for commands to run in.</summary>
    public string WorkingDir { get; init; } = "";

    /// <summary>The entry point for the container as a string or an array of strings.</summary>
    public List<string>? Entrypoint { get; init; }

    /// <summary>An object mapping mount point paths inside the container to empty objects.</summary>
    public Dictionary<string, Images.Oci.EmptyObject>? Volumes { get; init; }

    /// <summary>"ONBUILD" metadata that were defined in the image's "Dockerfile".</summary>
    public List<string>? OnBuild { get; init; }

    /// <summary>User-defined key/value metadata.</summary>
    public Dictionary<string, string>? Labels { get; init; }

    /// <summary>Signal to stop a container as a string or unsigned integer.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StopSignal { get; init; }

    /// <summary>Shell for when "RUN", "CMD", and "ENTRYPOINT" uses a shell.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<string>? Shell { get; init; }
}

/// <summary>A test to perform to check that the container is healthy.</summary>
public sealed class HealthConfig
{
    /// <summary>The test to perform.</summary>
    public List<string> Test { get; init; } = [];

    /// <summary>The time to wait between checks in nanoseconds.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Interval { get; init; }

    /// <summary>The time to wait before considering the check to have hung.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Timeout { get; init; }

    /// <summary>Start period for the container to initialize before starting health-retries countdown in nanoseconds.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartPeriod { get; init; }

    /// <summary>The time to wait between checks in nanoseconds during the start period.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long StartInterval { get; init; }

    /// <summary>The number of consecutive failures needed to consider a container as unhealthy.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Retries { get; init; }
}

/// <summary>NetworkSettings exposes the network settings in the API.</summary>
public sealed class NetworkSettings
{
    /// <summary>The bridge of the default network (deprecated; empty).</summary>
    public string Bridge { get; init; } = "";

    /// <summary>SandboxID uniquely represents a container's network stack.</summary>
    public string SandboxID { get; init; } = "";

    /// <summary>Whether hairpin NAT is on (deprecated).</summary>
    public bool HairpinMode { get; init; }

    /// <summary>
    /// PortMap describes the mapping of container ports to host ports, using the container's port-number and
    /// protocol as key in the format "/", for example, "80/udp".
    /// </summary>
    public Dictionary<string, List<PortBinding>?> Ports { get; init; } = [];

    /// <summary>SandboxKey is the full path of the netns handle.</summary>
    public string SandboxKey { get; init; } = "";

    /// <summary>The IPv4 address.</summary>
    public string IPAddress { get; init; } = "";

    /// <summary>The prefix length of the IPv4 address.</summary>
    public int IPPrefixLen { get; init; }

    /// <summary>The IPv4 gateway.</summary>
    public string Gateway { get; init; } = "";

    /// <summary>The MAC address.</summary>
    public string MacAddress { get; init; } = "";

    /// <summary>Information about all networks that the container is connected to.</summary>
    public Dictionary<string, EndpointSettings> Networks { get; init; } = [];
}

/// <summary>Configuration for a network endpoint.</summary>
public sealed class EndpointSettings
{
    /// <summary>EndpointIPAMConfig represents an endpoint's IPAM configuration.</summary>
    public EndpointIPAMConfig? IPAMConfig { get; init; }

    /// <summary>The names the container has on the network, besides its own.</summary>
    public List<string>? Aliases { get; init; }

    /// <summary>Unique ID of the network.</summary>
    public string NetworkID { get; init; } = "";

    /// <summary>Unique ID for the service endpoint in a Sandbox.</summary>
    public string EndpointID { get; init; } = "";

    /// <summary>Gateway address for this network.</summary>
    public string Gateway { get; init; } = "";

    /// <summary>IPv4 address.</summary>
    public string IPAddress { get; init; } = "";

    /// <summary>Mask length of the IPv4 address.</summary>
    public int IPPrefixLen { get; init; }

    /// <summary>MAC address for the endpoint on this network.</summary>
    public string MacAddress { get; init; } = "";

    /// <summary>List of all DNS names an endpoint has on a specific network.</summary>
    public List<string>? DNSNames { get; init; }

    /// <summary>Not docker's: the interface's name in the container (eth0, eth1), while attached.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Interface { get; init; }
}

/// <summary>EndpointIPAMConfig represents an endpoint's IPAM configuration.</summary>
public sealed class EndpointIPAMConfig
{
    /// <summary>IPv4Address</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IPv4Address { get; init; }

    /// <summary>IPv6Address</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? IPv6Address { get; init; }
}

/// <summary>PortBinding represents a binding between a host IP address and a host port.</summary>
public sealed class PortBinding
{
    /// <summary>Host IP address that the container's port is mapped to.</summary>
    public string HostIp { get; init; } = "";

    /// <summary>Host port number that the container's port is mapped to.</summary>
    public string HostPort { get; init; } = "";
}
