H = '''// The Docker Engine API's documents as typed DTOs, named after the swagger's definitions (../shared/specs, API 1.44-1.56)
// and serialized by the source-generated DockerJsonContext. A property is here when this engine answers it: the
// swagger's fields left out are listed in SwaggerFieldsTests and the README. Descriptions are the swagger's.
using System.Text.Json.Serialization;

namespace Containers.DockerApi.Models;

'''
S = 'string'
FALLBACK = {
 'Bridge': 'The bridge of the default network (deprecated; empty).', 'HairpinMode': 'Whether hairpin NAT is on (deprecated).',
 'IPAddress': 'The IPv4 address.', 'IPPrefixLen': 'The prefix length of the IPv4 address.', 'Gateway': 'The IPv4 gateway.',
 'MacAddress': 'The MAC address.', 'Aliases': 'The names the container has on the network, besides its own.',
 'Dead': 'Whether the container is dead (could not be removed).', 'Error': 'The error of the last start, or empty.',
 'Path': 'The device\'s path on the host.', 'Weight': 'The relative weight.', 'ThrottleDevice': 'A rate limit for a device.',
 'PathOnHost': 'The device on the host.', 'PathInContainer': 'Where the device is in the container.',
 'CgroupPermissions': 'The cgroup permissions (rwm).', 'Count': 'How many devices (-1: all).', 'DeviceIDs': 'The devices by ID.',
 'Mount': 'A mount of a container (HostConfig.Mounts).', 'Parent': 'The ID of the parent image (empty for pulled and built images).',
 'DockerVersion': 'The docker version that built the image (empty).', 'Driver': 'The driver.',
 'Capabilities': 'The capability sets the device driver must have.', 'Options': 'Driver options.',
 'Target': 'Where the mount is in the container.', 'Source': 'The mount\'s source.', 'Type': 'The type.', 'ReadOnly': 'Whether it is read-only.',
 'Status': 'The status.', 'FailingStreak': 'The failed checks in a row.', 'Start': 'When the check started.', 'End': 'When it ended.',
 'ExitCode': 'The exit code.', 'Output': 'The check\'s output.', 'Name': 'The name.', 'Soft': 'The soft limit.', 'Hard': 'The hard limit.',
 'Rate': 'The rate.', 'VirtualSize': 'The same as Size (deprecated).', 'Layers': 'The diff IDs, bottom layer first.', 'Data': 'The driver\'s data.', 'Config': 'The configuration.', 'HostIp': 'The host address.', 'HostPort': 'The host port.',
}
WN = {'omit': 'WhenWritingNull'}
WD = {'omit': 'WhenWritingDefault'}
inspect = [
 ('ContainerInspectResponse', 'ContainerInspectResponse', 'A container as <c>GET /containers/{id}/json</c> and <c>docker inspect</c> show it.', [
   ('Id', S), ('Created', S), ('Path', S), ('Args', 'List<string>'), ('State', 'ContainerState'), ('Image', S),
   ('ExecIDs', 'List<string>?'), ('ResolvConfPath', S), ('HostnamePath', S), ('HostsPath', S), ('LogPath', S), ('Name', S),
   ('RestartCount', 'int'), ('Driver', S), ('Platform', S), ('MountLabel', S), ('ProcessLabel', S), ('AppArmorProfile', S),
   ('HostConfig', 'HostConfig'), ('GraphDriver', 'DriverData'), ('Mounts', 'List<MountPoint>'), ('Config', 'ContainerConfig'),
   ('NetworkSettings', 'NetworkSettings')]),
 ('ContainerState', 'ContainerState', None, [
   ('Status', S), ('Running', 'bool'), ('Paused', 'bool'), ('Restarting', 'bool'), ('OOMKilled', 'bool'), ('Dead', 'bool'),
   ('Pid', 'int'), ('ExitCode', 'int'), ('Error', S), ('StartedAt', S), ('FinishedAt', S), ('Health', 'Health?')]),
 ('Health', 'Health', None, [('Status', S), ('FailingStreak', 'int'), ('Log', 'List<HealthcheckResult>')]),
 ('HealthcheckResult', 'HealthcheckResult', None, [('Start', S), ('End', S), ('ExitCode', 'int'), ('Output', S)]),
 ('DriverData', 'DriverData', None, [('Name', S), ('Data', 'Dictionary<string, string>')]),
 ('MountPoint', 'MountPoint', None, [('Type', S), ('Name', 'string?'), ('Source', S), ('Destination', S), ('Driver', 'string?'),
   ('Mode', S), ('RW', 'bool'), ('Propagation', S)]),
]
config = [
 ('ContainerConfig', 'ContainerConfig', None, [
   ('Hostname', S), ('Domainname', S), ('User', S), ('AttachStdin', 'bool'), ('AttachStdout', 'bool'), ('AttachStderr', 'bool'),
   ('ExposedPorts', 'Dictionary<string, Images.Oci.EmptyObject>?'), ('Tty', 'bool'), ('OpenStdin', 'bool'), ('StdinOnce', 'bool'),
   ('Env', 'List<string>'), ('Cmd', 'List<string>?'), ('Entrypoint', 'List<string>?'), ('Image', S),
   ('Volumes', 'Dictionary<string, Images.Oci.EmptyObject>?'), ('OnBuild', 'List<string>?'), ('WorkingDir', S),
   ('Labels', 'Dictionary<string, string>?'), ('StopSignal', 'string?'), ('StopTimeout', 'int?'), ('Healthcheck', 'HealthConfig?')]),
 ('ImageConfig', 'ImageConfig', None, [
   ('User', S), ('ExposedPorts', 'Dictionary<string, Images.Oci.EmptyObject>?'), ('Env', 'List<string>'), ('Cmd', 'List<string>?'),
   ('Healthcheck', 'HealthConfig?', WN), ('ArgsEscaped', 'bool', WD), ('WorkingDir', S), ('Entrypoint', 'List<string>?'),
   ('Volumes', 'Dictionary<string, Images.Oci.EmptyObject>?'), ('OnBuild', 'List<string>?'), ('Labels', 'Dictionary<string, string>?'),
   ('StopSignal', 'string?', WN), ('Shell', 'List<string>?', WN)]),
 ('HealthConfig', 'HealthConfig', None, [
   ('Test', 'List<string>'), ('Interval', 'long', WD), ('Timeout', 'long', WD), ('StartPeriod', 'long', WD),
   ('StartInterval', 'long', WD), ('Retries', 'int', WD)]),
 ('NetworkSettings', 'NetworkSettings', None, [
   ('Bridge', S), ('SandboxID', S), ('HairpinMode', 'bool'), ('Ports', 'Dictionary<string, List<PortBinding>?>'),
   ('SandboxKey', S), ('IPAddress', S), ('IPPrefixLen', 'int'), ('Gateway', S), ('MacAddress', S),
   ('Networks', 'Dictionary<string, EndpointSettings>')]),
 ('EndpointSettings', 'EndpointSettings', None, [
   ('IPAMConfig', 'EndpointIPAMConfig?'), ('Aliases', 'List<string>?'), ('NetworkID', S), ('EndpointID', S), ('Gateway', S),
   ('IPAddress', S), ('IPPrefixLen', 'int'), ('MacAddress', S), ('DNSNames', 'List<string>?'),
   ('Interface', 'string?', {'omit': 'WhenWritingNull', 'doc': 'Not docker\'s: the interface\'s name in the container (eth0, eth1), while attached.'})]),
 ('EndpointIPAMConfig', 'EndpointIPAMConfig', None, [('IPv4Address', 'string?', WN), ('IPv6Address', 'string?', WN)]),
 ('PortBinding', 'PortBinding', None, [('HostIp', S), ('HostPort', S)]),
]
host = [
 ('HostConfig', 'HostConfig', None, [
   ('Binds', 'List<string>'), ('NetworkMode', S), ('PortBindings', 'Dictionary<string, List<PortBinding>?>'),
   ('RestartPolicy', 'RestartPolicy'), ('AutoRemove', 'bool'), ('CapAdd', 'List<string>'), ('CapDrop', 'List<string>'),
   ('ReadonlyRootfs', 'bool'), ('Memory', 'long'), ('MemorySwap', 'long'), ('NanoCpus', 'long'), ('CpuShares', 'long'),
   ('PidsLimit', 'long?'), ('CgroupParent', S), ('PublishAllPorts', 'bool'), ('Privileged', 'bool'), ('LogConfig', 'LogConfig'),
   ('GroupAdd', 'List<string>?'), ('Ulimits', 'List<Ulimit>'), ('SecurityOpt', 'List<string>?'),
   ('Tmpfs', 'Dictionary<string, string>?'), ('MaskedPaths', 'List<string>'), ('ReadonlyPaths', 'List<string>'),
   ('ContainerIDFile', S), ('VolumeDriver', S), ('VolumesFrom', 'List<string>?'), ('ConsoleSize', 'List<int>'),
   ('Annotations', 'Dictionary<string, string>?'), ('CgroupnsMode', S, {'init': '"private"'}), ('Dns', 'List<string>'),
   ('DnsOptions', 'List<string>'), ('DnsSearch', 'List<string>'), ('ExtraHosts', 'List<string>?'), ('IpcMode', S, {'init': '"private"'}),
   ('Cgroup', S), ('Links', 'List<string>?'), ('OomScoreAdj', 'int'), ('PidMode', S), ('UTSMode', S), ('UsernsMode', S),
   ('ShmSize', 'long'), ('Runtime', S, {'init': '"runc"'}), ('Isolation', S), ('Init', 'bool?'), ('Mounts', 'List<Mount>?'),
   ('Sysctls', 'Dictionary<string, string>?'), ('StorageOpt', 'Dictionary<string, string>?'), ('BlkioWeight', 'int'),
   ('BlkioWeightDevice', 'List<WeightDevice>'), ('BlkioDeviceReadBps', 'List<ThrottleDevice>'),
   ('BlkioDeviceWriteBps', 'List<ThrottleDevice>'), ('BlkioDeviceReadIOps', 'List<ThrottleDevice>'),
   ('BlkioDeviceWriteIOps', 'List<ThrottleDevice>'), ('CpuPeriod', 'long'), ('CpuQuota', 'long'), ('CpuRealtimePeriod', 'long'),
   ('CpuRealtimeRuntime', 'long'), ('CpusetCpus', S), ('CpusetMems', S), ('Devices', 'List<DeviceMapping>'),
   ('DeviceCgroupRules', 'List<string>?'), ('DeviceRequests', 'List<DeviceRequest>?'), ('MemoryReservation', 'long'),
   ('MemorySwappiness', 'long?'), ('OomKillDisable', 'bool?'), ('CpuCount', 'long'), ('CpuPercent', 'long'),
   ('IOMaximumIOps', 'long'), ('IOMaximumBandwidth', 'long')]),
 ('RestartPolicy', 'RestartPolicy', None, [('Name', S), ('MaximumRetryCount', 'int')]),
 ('LogConfig', 'HostConfig.LogConfig', 'The logging configuration of a container.', [('Type', S), ('Config', 'Dictionary<string, string>')]),
 ('Ulimit', 'Resources.Ulimits[]', 'A resource limit (setrlimit).', [('Name', S), ('Soft', 'long'), ('Hard', 'long')]),
 ('WeightDevice', 'Resources.BlkioWeightDevice[]', 'A block IO weight for a device.', [('Path', S), ('Weight', 'int')]),
 ('ThrottleDevice', 'ThrottleDevice', None, [('Path', S), ('Rate', 'long')]),
 ('DeviceMapping', 'DeviceMapping', None, [('PathOnHost', S), ('PathInContainer', S), ('CgroupPermissions', S)]),
 ('DeviceRequest', 'DeviceRequest', None, [('Driver', S), ('Count', 'int'), ('DeviceIDs', 'List<string>?'),
   ('Capabilities', 'List<List<string>>?'), ('Options', 'Dictionary<string, string>?')]),
 ('Mount', 'Mount', None, [('Target', S), ('Source', S), ('Type', S), ('ReadOnly', 'bool')]),
]
images = [
 ('ImageInspect', 'ImageInspect', 'An image as <c>GET /images/{name}/json</c> and <c>docker image inspect</c> show it.', [
   ('Id', S), ('RepoTags', 'List<string>'), ('RepoDigests', 'List<string>'), ('Parent', S), ('Comment', S), ('Created', S),
   ('DockerVersion', S), ('Author', S), ('Config', 'ImageConfig'), ('Architecture', S), ('Variant', 'string?'), ('Os', S),
   ('Size', 'long'), ('VirtualSize', 'long'), ('GraphDriver', 'DriverData'), ('RootFS', 'ImageRootFS'),
   ('Descriptor', 'OCIDescriptor'), ('Metadata', 'ImageMetadata')]),
 ('ImageRootFS', 'ImageInspect.RootFS', 'The layers of an image\'s root filesystem, by their uncompressed digests (diff IDs).', [('Type', S, {'init': '"layers"'}), ('Layers', 'List<string>')]),
 ('OCIDescriptor', 'OCIDescriptor', None, [('MediaType', S, {'json': 'mediaType'}), ('Digest', S, {'json': 'digest'}), ('Size', 'long', {'json': 'size'})]),
 ('ImageMetadata', 'ImageInspect.Metadata', 'What the engine knows of an image beyond its configuration.', [('LastTagTime', S, {'init': '"0001-01-01T00:00:00Z"'})]),
 ('ContainerSummary', 'ContainerSummary', 'A container as <c>GET /containers/json</c> and <c>docker ps</c> list it.', [
   ('Id', S), ('Names', 'List<string>'), ('Image', S), ('ImageID', S), ('Command', S), ('Created', 'long'), ('State', S),
   ('Status', S), ('Ports', 'List<PortSummary>'), ('Labels', 'Dictionary<string, string>'),
   ('HostConfig', 'ContainerSummaryHostConfig'), ('NetworkSettings', 'ContainerSummaryNetworkSettings'), ('Mounts', 'List<MountPoint>')]),
 ('PortSummary', 'PortSummary', None, [('IP', S), ('PrivatePort', 'int'), ('PublicPort', 'int'), ('Type', S)]),
 ('ContainerSummaryHostConfig', 'ContainerSummary.HostConfig', 'A listed container\'s host configuration.', [('NetworkMode', S)]),
 ('ContainerSummaryNetworkSettings', 'ContainerSummary.NetworkSettings', 'A listed container\'s networks.', [('Networks', 'Dictionary<string, EndpointSettings>')]),
]
open('/work/main/src/Containers/Containers.DockerApi/Models/ContainerInspectResponse.cs','w').write(gen(inspect, H))
open('/work/main/src/Containers/Containers.DockerApi/Models/ContainerConfig.cs','w').write(gen(config, H))
open('/work/main/src/Containers/Containers.DockerApi/Models/HostConfig.cs','w').write(gen(host, H))
open('/work/main/src/Containers/Containers.DockerApi/Models/ImageInspect.cs','w').write(gen(images, H))
