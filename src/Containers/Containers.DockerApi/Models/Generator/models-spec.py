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
 'Rate': 'The rate.', 'CanRemove': 'Whether the exec instance may be removed (always false).', 'Command': 'The command, as one string.',
 'Comment': 'The comment.', 'ContainerID': 'The container\'s ID.', 'ControlAvailable': 'Whether this node is a swarm manager (false).',
 'Created': 'When it was created.', 'CreatedBy': 'The build step that made it.', 'DetachKeys': 'The detach key sequence.',
 'EndpointID': 'The endpoint\'s ID.', 'ID': 'The ID.', 'Id': 'The ID.', 'Image': 'The image.', 'ImageID': 'The image\'s ID.',
 'Labels': 'The labels.', 'Mounts': 'The mounts.', 'Names': 'The names, each with a leading slash.', 'OpenStderr': 'Whether stderr is attached.',
 'OpenStdin': 'Whether stdin is attached.', 'OpenStdout': 'Whether stdout is attached.', 'Platform': 'The product.',
 'ProcessConfig': 'The process the instance runs.', 'Running': 'Whether it runs now.', 'Size': 'The size in bytes.', 'State': 'The state.',
 'Subnet': 'The subnet in CIDR notation.', 'Tags': 'The tags (on the newest entry only).', 'IPAM': 'A network\'s address management.',
 'IPAMConfig': 'A subnet of a network and its gateway.', 'ImageDeleteResponseItem': 'One thing an image removal did: a tag removed or an image deleted.', 'VirtualSize': 'The same as Size (deprecated).', 'Layers': 'The diff IDs, bottom layer first.', 'Data': 'The driver\'s data.', 'Config': 'The configuration.', 'HostIp': 'The host address.', 'HostPort': 'The host port.',
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

system = [
 ('SystemVersion', 'SystemVersion', 'The engine\'s version, as <c>GET /version</c> and <c>docker version</c> show it.', [
   ('Platform', 'SystemVersionPlatform'), ('Components', 'List<ComponentVersion>'), ('Version', S), ('ApiVersion', S),
   ('MinAPIVersion', S), ('GitCommit', S), ('GoVersion', S), ('Os', S), ('Arch', S), ('KernelVersion', S), ('BuildTime', S),
   ('Experimental', 'bool')]),
 ('SystemVersionPlatform', 'SystemVersion.Platform', 'The product.', [('Name', S)]),
 ('ComponentVersion', 'SystemVersion.Components[]', 'A component of the engine and its version.', [('Name', S), ('Version', S), ('Details', 'Dictionary<string, string>?')]),
 ('SystemInfo', 'SystemInfo', 'The engine and its host, as <c>GET /info</c> and <c>docker info</c> show them.', [
   ('ID', S), ('Containers', 'int'), ('ContainersRunning', 'int'), ('ContainersPaused', 'int'), ('ContainersStopped', 'int'),
   ('Images', 'int'), ('Driver', S), ('DockerRootDir', S), ('CgroupDriver', S), ('CgroupVersion', S), ('OSType', S),
   ('Architecture', S), ('OperatingSystem', S), ('KernelVersion', S), ('NCPU', 'int'), ('MemTotal', 'long'), ('Name', S),
   ('ServerVersion', S), ('Labels', 'List<string>'), ('Warnings', 'List<string>'), ('Runtimes', 'Dictionary<string, RuntimeInfo>'),
   ('DefaultRuntime', S), ('SecurityOptions', 'List<string>'), ('MemoryLimit', 'bool'), ('SwapLimit', 'bool'),
   ('CpuCfsPeriod', 'bool'), ('CpuCfsQuota', 'bool'), ('CPUShares', 'bool'), ('CPUSet', 'bool'), ('PidsLimit', 'bool'),
   ('OomKillDisable', 'bool'), ('IPv4Forwarding', 'bool'), ('Debug', 'bool'), ('NEventsListener', 'int'),
   ('ExperimentalBuild', 'bool'), ('NFd', 'int'), ('NGoroutines', 'int'), ('SystemTime', S), ('LoggingDriver', S),
   ('IndexServerAddress', S), ('HttpProxy', S), ('HttpsProxy', S), ('NoProxy', S), ('OSVersion', S), ('Isolation', S),
   ('InitBinary', S), ('DriverStatus', 'List<List<string>>'), ('CDISpecDirs', 'List<string>'),
   ('DefaultAddressPools', 'List<AddressPool>'), ('Swarm', 'SwarmInfo')]),
 ('RuntimeInfo', 'Runtime', None, [('Path', S, {'json': 'path'})]),
 ('AddressPool', 'SystemInfo.DefaultAddressPools[]', 'A pool networks take their subnets from.', [('Base', S), ('Size', 'int')]),
 ('SwarmInfo', 'SwarmInfo', None, [('NodeID', S), ('NodeAddr', S), ('LocalNodeState', S, {'init': '"inactive"'}),
   ('ControlAvailable', 'bool'), ('Error', S), ('RemoteManagers', 'List<PeerNode>?')]),
 ('PeerNode', 'PeerNode', None, [('NodeID', S), ('Addr', S)]),
 ('ErrorResponse', 'ErrorResponse', None, [('Message', S, {'json': 'message'})]),
 ('IDResponse', 'IDResponse', None, [('Id', S)]),
]
objects = [
 ('ImageSummary', 'ImageSummary', 'An image as <c>GET /images/json</c> and <c>docker images</c> list it.', [
   ('Id', S), ('ParentId', S), ('RepoTags', 'List<string>'), ('RepoDigests', 'List<string>'), ('Created', 'long'),
   ('Size', 'long'), ('SharedSize', 'long'), ('VirtualSize', 'long', {'doc': 'The same as Size (deprecated; API 1.43 and before).'}),
   ('Labels', 'Dictionary<string, string>'), ('Containers', 'long')]),
 ('ImageHistoryResponseItem', 'ImageHistoryResponseItem', None, [('Id', S), ('Created', 'long'), ('CreatedBy', S),
   ('Tags', 'List<string>?'), ('Size', 'long'), ('Comment', S)]),
 ('ImagePruneResponse', '#ImagePrune', 'What <c>POST /images/prune</c> removed.', [('ImagesDeleted', 'List<ImageDeleteResponseItem>'), ('SpaceReclaimed', 'long')]),
 ('ImageDeleteResponseItem', 'ImageDeleteResponseItem', None, [('Untagged', 'string?', WN), ('Deleted', 'string?', WN)]),
 ('Network', 'Network', 'A network as <c>GET /networks/{id}</c> and <c>docker network inspect</c> show it.', [
   ('Name', S), ('Id', S), ('Created', S), ('Scope', S, {'init': '"local"'}), ('Driver', S), ('EnableIPv4', 'bool'),
   ('EnableIPv6', 'bool'), ('IPAM', 'IPAM'), ('Internal', 'bool'), ('Attachable', 'bool'), ('Ingress', 'bool'),
   ('ConfigFrom', 'ConfigReference'), ('ConfigOnly', 'bool'), ('Containers', 'Dictionary<string, EndpointResource>', {'doc': 'The containers attached to the network, by ID.'}),
   ('Options', 'Dictionary<string, string>'), ('Labels', 'Dictionary<string, string>')]),
 ('IPAM', 'IPAM', None, [('Driver', S, {'init': '"default"'}), ('Options', 'Dictionary<string, string>'), ('Config', 'List<IPAMConfig>')]),
 ('IPAMConfig', 'IPAMConfig', None, [('Subnet', S), ('Gateway', S)]),
 ('ConfigReference', 'ConfigReference', None, [('Network', S)]),
 ('EndpointResource', 'EndpointResource', None, [('Name', S), ('EndpointID', S), ('IPv4Address', S), ('IPv6Address', S)]),
 ('NetworkCreateResponse', 'NetworkCreateResponse', None, [('Id', S), ('Warning', S)]),
 ('NetworkPruneResponse', '#NetworkPrune', 'What <c>POST /networks/prune</c> removed.', [('NetworksDeleted', 'List<string>')]),
 ('Volume', 'Volume', 'A volume as <c>GET /volumes/{name}</c> and <c>docker volume inspect</c> show it.', [
   ('Name', S), ('Driver', S), ('Mountpoint', S), ('CreatedAt', S), ('Labels', 'Dictionary<string, string>'),
   ('Scope', S, {'init': '"local"'}), ('Options', 'Dictionary<string, string>'), ('UsageData', 'VolumeUsageData?')]),
 ('VolumeUsageData', 'Volume.UsageData', 'A volume\'s disk usage (only in <c>GET /system/df</c>).', [('Size', 'long'), ('RefCount', 'long')]),
 ('VolumeListResponse', 'VolumeListResponse', None, [('Volumes', 'List<Volume>'), ('Warnings', 'List<string>')]),
 ('VolumePruneResponse', '#VolumePrune', 'What <c>POST /volumes/prune</c> removed.', [('VolumesDeleted', 'List<string>'), ('SpaceReclaimed', 'long')]),
 ('SystemDataUsageResponse', None, 'The disk usage of images, containers and volumes (<c>GET /system/df</c>, API 1.44\'s shape).', [
   ('LayersSize', 'long', {'doc': 'The size of the layers on disk, each counted once.'}), ('Images', 'List<ImageSummary>', {'doc': 'The images.'}),
   ('Containers', 'List<ContainerUsage>', {'doc': 'The containers.'}), ('Volumes', 'List<Volume>', {'doc': 'The volumes, with their usage.'}),
   ('BuildCache', 'List<string>', {'doc': 'The build cache records (none are reported).'})]),
 ('ContainerUsage', None, 'A container and the size of its writable layer (<c>GET /system/df</c>).', [
   ('Id', S), ('Names', 'List<string>'), ('Image', S), ('ImageID', S), ('Command', S), ('Created', 'long'), ('State', S),
   ('Status', S), ('SizeRw', 'long', {'doc': 'The size of the files the container wrote.'}), ('SizeRootFs', 'long', {'doc': 'The size of its root filesystem (not counted: 0).'}),
   ('Labels', 'Dictionary<string, string>'), ('Mounts', 'List<MountPoint>')]),
 ('ContainerCreateResponse', 'ContainerCreateResponse', None, [('Id', S), ('Warnings', 'List<string>')]),
 ('ContainerUpdateResponse', 'ContainerUpdateResponse', None, [('Warnings', 'List<string>')]),
 ('ContainerPruneResponse', '#ContainerPrune', 'What <c>POST /containers/prune</c> removed.', [('ContainersDeleted', 'List<string>'), ('SpaceReclaimed', 'long')]),
 ('ContainerWaitResponse', 'ContainerWaitResponse', None, [('StatusCode', 'long'), ('Error', 'ContainerWaitExitError?')]),
 ('ContainerWaitExitError', 'ContainerWaitExitError', None, [('Message', S)]),
 ('ContainerTopResponse', 'ContainerTopResponse', None, [('Titles', 'List<string>'), ('Processes', 'List<List<string>>')]),
 ('ExecInspectResponse', '#ExecInspect', 'An exec instance as <c>GET /exec/{id}/json</c> shows it.', [
   ('ID', S), ('ContainerID', S), ('Running', 'bool'), ('ExitCode', 'int?'), ('Pid', 'int'), ('OpenStdin', 'bool'),
   ('OpenStdout', 'bool'), ('OpenStderr', 'bool'), ('CanRemove', 'bool'), ('DetachKeys', S), ('ProcessConfig', 'ProcessConfig')]),
 ('ProcessConfig', 'ProcessConfig', None, [('Tty', 'bool', {'json': 'tty'}), ('Entrypoint', S, {'json': 'entrypoint'}),
   ('Arguments', 'List<string>', {'json': 'arguments'}), ('Privileged', 'bool', {'json': 'privileged'}), ('User', S, {'json': 'user'})]),
]

streams = [
 ('ContainerStatsResponse', 'ContainerStatsResponse', 'A container\'s resource usage, as <c>GET /containers/{id}/stats</c> answers it (once, or a line a second).', [
   ('Name', S, {'json': 'name'}), ('Id', S, {'json': 'id'}), ('Read', S, {'json': 'read'}), ('Preread', S, {'json': 'preread'}),
   ('PidsStats', 'ContainerPidsStats', {'json': 'pids_stats'}), ('CpuStats', 'ContainerCPUStats', {'json': 'cpu_stats'}),
   ('PrecpuStats', 'ContainerCPUStats', {'json': 'precpu_stats'}), ('MemoryStats', 'ContainerMemoryStats', {'json': 'memory_stats'}),
   ('BlkioStats', 'Dictionary<string, string>', {'json': 'blkio_stats', 'doc': 'Block IO statistics (none are reported: empty).'}),
   ('Networks', 'Dictionary<string, string>', {'json': 'networks', 'doc': 'Network statistics per interface (none are reported: empty).'})]),
 ('ContainerPidsStats', 'ContainerPidsStats', None, [('Current', 'long?', dict(WN, json='current')), ('Limit', 'long?', dict(WN, json='limit'))]),
 ('ContainerCPUStats', 'ContainerCPUStats', None, [('CpuUsage', 'ContainerCPUUsage', {'json': 'cpu_usage'}),
   ('SystemCpuUsage', 'long', {'json': 'system_cpu_usage'}), ('OnlineCpus', 'int', {'json': 'online_cpus'}),
   ('ThrottlingData', 'ContainerThrottlingData', {'json': 'throttling_data'})]),
 ('ContainerCPUUsage', 'ContainerCPUUsage', None, [('TotalUsage', 'long', {'json': 'total_usage'}),
   ('UsageInKernelmode', 'long', {'json': 'usage_in_kernelmode'}), ('UsageInUsermode', 'long', {'json': 'usage_in_usermode'})]),
 ('ContainerThrottlingData', 'ContainerThrottlingData', None, [('Periods', 'long', {'json': 'periods'}),
   ('ThrottledPeriods', 'long', {'json': 'throttled_periods'}), ('ThrottledTime', 'long', {'json': 'throttled_time'})]),
 ('ContainerMemoryStats', 'ContainerMemoryStats', None, [('Usage', 'long?', dict(WN, json='usage')), ('MaxUsage', 'long?', dict(WN, json='max_usage')),
   ('Limit', 'long?', dict(WN, json='limit')), ('Stats', 'Dictionary<string, long>?', dict(WN, json='stats'))]),
 ('EventMessage', 'EventMessage', 'An event, as <c>GET /events</c> streams it and <c>docker events</c> prints it.', [
   ('Type', S), ('Action', S), ('Actor', 'EventActor'), ('Scope', S, {'json': 'scope', 'init': '"local"'}), ('Time', 'long', {'json': 'time'}),
   ('TimeNano', 'long', {'json': 'timeNano'}),
   ('Status', 'string?', dict(WN, json='status', doc='The action of a container event (deprecated; what docker CLIs before 1.22 read).')),
   ('Id', 'string?', dict(WN, json='id', doc="The ID of a container event's container (deprecated)."))]),
 ('EventActor', 'EventActor', None, [('ID', S), ('Attributes', 'Dictionary<string, string>')]),
]

progress = [
 ('ProgressMessage', 'BuildInfo', 'A line of a pull, push, load or build stream (the swagger\'s BuildInfo, CreateImageInfo and PushImageInfo: one shape, moby\'s jsonmessage.JSONMessage). Unset fields are left out.', [
   ('Id', 'string?', dict(WN, json='id', doc="What the line is about: a layer's short digest, a tag.")),
   ('Status', 'string?', dict(WN, json='status', doc='A status line (pull, push, load).')),
   ('Stream', 'string?', dict(WN, json='stream', doc='Output text (build, load).')),
   ('ProgressDetail', 'ProgressDetail?', dict(WN, json='progressDetail', doc='How far a transfer is.')),
   ('Aux', 'ProgressAux?', dict(WN, json='aux', doc="A result: the built image's ID, the pushed tag's digest and size.")),
   ('Error', 'string?', dict(WN, json='error', doc='The error that ended the stream.')),
   ('ErrorDetail', 'ErrorDetail?', dict(WN, json='errorDetail', doc='The same error, as an object.'))]),
 ('ProgressDetail', 'ProgressDetail', None, [('Current', 'long?', dict(WN, json='current', doc='Bytes done.')), ('Total', 'long?', dict(WN, json='total', doc='Bytes in all.'))]),
 ('ProgressAux', None, 'The result a stream reports at its end (build: ID; push: Tag, Digest and Size).', [
   ('ID', 'string?', dict(WN, doc="The built image's ID.")), ('Tag', 'string?', dict(WN, doc='The pushed tag.')),
   ('Digest', 'string?', dict(WN, doc="The pushed manifest's digest.")), ('Size', 'long?', dict(WN, doc="The pushed manifest's size."))]),
 ('ErrorDetail', 'ErrorDetail', None, [('Message', 'string?', dict(WN, json='message', doc='The error message.'))]),
]
open(os.path.join(OUT, 'ContainerInspectResponse.cs'),'w').write(gen(inspect, H))
open(os.path.join(OUT, 'ContainerConfig.cs'),'w').write(gen(config, H))
open(os.path.join(OUT, 'HostConfig.cs'),'w').write(gen(host, H))
open(os.path.join(OUT, 'ImageInspect.cs'),'w').write(gen(images, H))
open(os.path.join(OUT, 'SystemInfo.cs'),'w').write(gen(system, H))
open(os.path.join(OUT, 'Objects.cs'),'w').write(gen(objects, H))
open(os.path.join(OUT, 'Streams.cs'),'w').write(gen(streams, H))
open(os.path.join(OUT, 'Progress.cs'),'w').write(gen(progress, H))
