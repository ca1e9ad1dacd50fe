using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using Containers.Networking;
using Containers.Runtime;
using Containers.Runtime.Cgroups;

namespace Containers.Tests.Runtime;

/// <summary>
/// The library's own reader and writer of <c>state.json</c> agree with the serializer's contract byte for byte and
/// field for field: files written by earlier versions (through the serializer) read, and the serializer reads ours.
/// </summary>
public sealed class ContainerStateJsonTests
{
    private static string Serialized(ContainerState s) => Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(s, ContainerStoreJsonContext.Default.ContainerState));

    private static void AgreesWithTheSerializer(ContainerState s)
    {
        var expected = Serialized(s);
        Assert.Equal(expected, Encoding.UTF8.GetString(ContainerStateJson.Write(s)));
        Assert.Equal(expected, Serialized(ContainerStateJson.Read(Encoding.UTF8.GetBytes(expected))));
        Assert.Equal(expected, Serialized(JsonSerializer.Deserialize(ContainerStateJson.Write(s), ContainerStoreJsonContext.Default.ContainerState)!));
    }

    private static readonly DateTimeOffset Noon = new(2026, 12, 8, 12, 0, 0, 123, TimeSpan.FromHours(1));

    [Fact]
    public void A_new_container_reads_and_writes_as_the_serializer_does() => AgreesWithTheSerializer(new ContainerState
    {
        Id = new string('a', 64),
        Name = "nifty_noether",
        Spec = new ContainerSpec { Rootfs = "/tmp/rootfs", Command = ["/bin/true"], NetworkMode = "none" },
        Created = Noon,
    });

    [Fact]
    public void Every_field_reads_and_writes_as_the_serializer_does() => AgreesWithTheSerializer(new ContainerState
    {
        Id = new string('b', 64),
        Name = "web",
        Spec = new ContainerSpec
        {
            Rootfs = "/r",
            LowerLayers = ["/l1", "/l2"],
            Image = "registry.local/app:1",
            ImageId = "sha256:" + new string('c', 64),
            Entrypoint = ["/docker-entrypoint.sh"],
            Command = ["nginx", "-g", "daemon off; \"quoted\" \\ <tag> & ünïcødé\n"],
            ExposedPorts = ["80/tcp"],
            PublishAllPorts = true,
            HealthCheck = new HealthCheck { Test = ["CMD-SHELL", "wget -q -O- localhost"], Interval = TimeSpan.FromMilliseconds(1500), Timeout = TimeSpan.FromDays(1.5), StartPeriod = TimeSpan.FromTicks(1), StartInterval = TimeSpan.Zero, Retries = 7 },
            Name = "web",
            Environment = ["PATH=/usr/bin", "EMPTY="],
            WorkingDirectory = "/srv",
            User = "1000:1000",
            GroupAdd = ["27"],
            Hostname = "web-1",
            NetworkMode = "front",
            CgroupParent = "/pods/p1",
            Networks = [new NetworkAttachment("front") { Aliases = ["www"], IPv4Address = "10.89.0.9" }, new NetworkAttachment("back")],
            Ports = [new PortBinding(80, 8080, "127.0.0.1", "tcp"), new PortBinding(53, Protocol: "udp")],
            Mounts = [new MountSpec(MountType.Bind, "/host", "/data", ReadOnly: true) { CreateHostPath = true, IdMap = true }, new MountSpec(MountType.Tmpfs, "", "/tmp", TmpfsOptions: "size=64m"), new MountSpec(MountType.Volume, "v", "/v")],
            Resources = new ResourceLimits(MemoryBytes: 64 << 20, MemorySwapBytes: -1, NanoCpus: 500_000_000, CpuShares: 512, PidsLimit: 100),
            ReadOnlyRootfs = true,
            Tty = true,
            OpenStdin = true,
            StdinOnce = true,
            AutoRemove = true,
            CapAdd = ["NET_ADMIN"],
            CapDrop = ["ALL"],
            NoNewPrivileges = true,
            SeccompProfile = "unconfined",
            Privileged = true,
            Init = true,
            Devices = [new DeviceMapping("/dev/fuse"), new DeviceMapping("/dev/sda", "/dev/xvda", "r")],
            DeviceCgroupRules = ["c 10:229 rwm"],
            PidMode = "host",
            IpcMode = "shareable",
            UsernsMode = "auto",
            UidMap = [new IdMapping(0, 100000, 65536)],
            GidMap = [new IdMapping(0, 100000, 65536), new IdMapping(65536, 300000, 1)],
            VolumesFrom = ["other:ro"],
            Ulimits = [new Ulimit("nofile", 1024, ulong.MaxValue)],
            Restart = new RestartPolicy("on-failure", 3),
            StopSignal = "SIGQUIT",
            StopTimeout = TimeSpan.FromSeconds(90),
            Labels = ImmutableDictionary<string, string>.Empty.Add("a", "1").Add("com.example/b", "two words").Add("", ""),
        },
        Created = Noon,
        Status = ContainerStatus.Restarting,
        Pid = 4242,
        PidStartTime = long.MaxValue,
        MonitorPid = 7,
        MonitorStartTime = 99,
        ExitCode = 137,
        OomKilled = true,
        Error = "exec: \"nope\": not found",
        StartedAt = Noon.AddSeconds(1),
        FinishedAt = Noon.AddTicks(1234567),
        RestartCount = 3,
        StopRequested = true,
        IPAddress = "10.88.0.2",
        Gateway = "10.88.0.1",
        Networks = [new NetworkEndpoint("front", new string('d', 64), "10.89.0.9", 24, "10.89.0.1", "eth0", "veth123", ["www", "web"])],
        Ports = [new PortBinding(80, 8080, "127.0.0.1")],
        Health = new HealthState { Status = "unhealthy", FailingStreak = 4, Log = [new HealthLogEntry(Noon, Noon.AddSeconds(2), 1, "refused\n")] },
    });

    [Theory]
    [InlineData(ContainerStatus.Created)]
    [InlineData(ContainerStatus.Running)]
    [InlineData(ContainerStatus.Paused)]
    [InlineData(ContainerStatus.Exited)]
    [InlineData(ContainerStatus.Dead)]
    public void Every_status_reads_and_writes_as_the_serializer_does(ContainerStatus status) => AgreesWithTheSerializer(new ContainerState
    {
        Id = "c",
        Name = "n",
        Spec = new ContainerSpec { HealthCheck = HealthCheck.None },
        Status = status,
        Health = new HealthState(),
    });

    [Fact]
    public void Missing_fields_take_their_defaults_and_unknown_ones_are_skipped()
    {
        var s = ContainerStateJson.Read("""
            {"Future":{"a":[1,{"b":null}]},"Id":"x","Name":"n","Status":"exited","Spec":{"Command":["sh"],"Mounts":[{"Type":1,"Target":"/t"}],"Ports":[{"ContainerPort":80}],"Devices":[{"HostPath":"/dev/null"}],"Resources":null,"Labels":null,"HasUserNamespace":true}}
            """u8);
        Assert.Equal(ContainerStatus.Exited, s.Status);
        Assert.Equal<string>(["sh"], [.. s.Spec.Command]);
        Assert.Equal("bridge", s.Spec.NetworkMode);
        Assert.Equal(TimeSpan.FromSeconds(10), s.Spec.StopTimeout);
        Assert.Equal(RestartPolicy.No, s.Spec.Restart);
        Assert.Equal(new MountSpec(MountType.Tmpfs, null!, "/t"), s.Spec.Mounts.Single());
        Assert.Equal(new PortBinding(80, 0, "0.0.0.0", "tcp"), s.Spec.Ports.Single());
        Assert.Equal(new DeviceMapping("/dev/null", "", "rwm"), s.Spec.Devices.Single());
        Assert.Equal(ResourceLimits.None, s.Spec.Resources);
        Assert.Empty(s.Spec.Labels);
        Assert.False(s.Spec.HasUserNamespace);
        Assert.Empty(s.Networks);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("null", "StartObject expected")]
    [InlineData("""{"Name":"n","Spec":{}}""", "no Id")]
    [InlineData("""{"Id":"x","Name":"n"}""", "no Spec")]
    [InlineData("""{"Id":"x","Name":"n","Spec":{},"Status":"Sleeping"}""", "not a container status")]
    [InlineData("""{"Id":"x","Name":"n","Spec":{"StopTimeout":"ten"}}""", "not a time span")]
    [InlineData("""{"Id":"x","Name":"n","Spec":{},"Pid":"one"}""", "")]
    [InlineData("""{"Id":"x","Name":"n","Spec":{"Command":[null]}}""", "null where a string")]
    [InlineData("""{"Id":"x","Name":"n","Spec":{}""", "")]
    [InlineData("""{"Id":"x","Name":"n","Spec":{}} {}""", "after a single JSON value")]
    public void A_broken_state_is_a_json_error(string json, string why)
    {
        var e = Assert.ThrowsAny<JsonException>(() => ContainerStateJson.Read(Encoding.UTF8.GetBytes(json)));
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_map_reads_and_writes_as_the_serializer_does()
    {
        var map = new Dictionary<string, string> { ["10.88.0.2"] = new string('e', 64), ["10.88.0.3"] = "ünï \"q\"" };
        var expected = JsonSerializer.SerializeToUtf8Bytes(map, ContainerStoreJsonContext.Default.DictionaryStringString);
        Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(ContainerStateJson.WriteMap(map)));
        Assert.Equal(map, ContainerStateJson.ReadMap(expected));
        Assert.Empty(ContainerStateJson.ReadMap("null"u8));
        Assert.ThrowsAny<JsonException>(() => ContainerStateJson.ReadMap("""{"a":1}"""u8));
    }
}
