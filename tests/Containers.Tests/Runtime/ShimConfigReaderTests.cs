using System.Text.Json;
using Containers.Shim;

namespace Containers.Tests.Runtime;

/// <summary>The shim's own reader of its configuration, and the library's own writer of it, agree with the serializer field for field.</summary>
public sealed class ShimConfigReaderTests
{
    private static string Written(ShimConfig c) => JsonSerializer.Serialize(c, ShimJsonContext.Default.ShimConfig);

    // read back with the shim's reader, then written again by the serializer: the same text when every field came
    // through, from the serializer's JSON and from the library's own writer's (which the library sends)
    private static void RoundTrips(ShimConfig c)
    {
        Assert.Equal(Written(c), Written(ShimConfigReader.Read(JsonSerializer.SerializeToUtf8Bytes(c, ShimJsonContext.Default.ShimConfig))));
        Assert.Equal(Written(c), Written(ShimConfigReader.Read(Containers.Runtime.ShimConfigWriter.Write(c))));
        Assert.Equal(Written(c), Written(JsonSerializer.Deserialize(Containers.Runtime.ShimConfigWriter.Write(c), ShimJsonContext.Default.ShimConfig)!));
    }

    [Fact]
    public void A_default_configuration_reads_back_as_written() => RoundTrips(new ShimConfig());

    [Fact]
    public void Every_field_reads_back_as_written()
    {
        RoundTrips(new ShimConfig
        {
            Mode = ShimMode.Exec,
            RootfsMountPoint = "/var/lib/c/rootfs",
            LowerDirs = ["/l1", "/l2 with space", "/ünïcødé"],
            UpperDir = "/u",
            WorkDir = "/w",
            Volatile = true,
            ReadOnlyRootfs = true,
            Hostname = "web-1",
            Mounts =
            [
                new ShimMount { Source = "/src", Destination = "data", Type = "bind", Flags = ulong.MaxValue - 1, Data = "mode=755", IsFile = true, ReadOnly = true, IdMap = true },
                new ShimMount { Source = "tmpfs", Destination = "tmp" },
            ],
            MaskedPaths = [.. ShimDefaults.MaskedPaths],
            ReadOnlyPaths = [.. ShimDefaults.ReadOnlyPaths],
            Devices = [new ShimDevice { Path = "/dev/fuse", HostPath = "/dev/fuse", Block = true, Major = 10, Minor = 229, Mode = 0x1b6, Uid = 100000, Gid = 100005 }],
            WritableSysfs = true,
            Shm = "",
            UserNamespace = "/proc/42/ns/user",
            UsernsHelper = "/usr/lib/containers-userns",
            IdMappedLowerDirs = ["/m1"],
            HostRootUid = 100000,
            HostRootGid = uint.MaxValue,
            HostTtyGid = 100005,
            TargetPid = 4242,
            Args = ["/bin/sh", "-c", "echo \"quoted\" \\ back\tslash\n"],
            Env = ["PATH=/usr/bin", "EMPTY="],
            Cwd = "/srv",
            Uid = 1000,
            Gid = 1000,
            AdditionalGids = [4, 27, uint.MaxValue],
            Capabilities = [0, 1, 21, 40],
            NoNewPrivileges = true,
            SeccompFilter = [.. Enumerable.Range(0, 300).Select(i => (byte)i)],
            Rlimits = [new ShimRlimit { Resource = 7, Soft = 1024, Hard = ulong.MaxValue }],
            Terminal = true,
            TerminalFd = 9,
            TerminalPath = "/dev/pts/3",
            OpenStdin = true,
        });
    }

    [Fact]
    public void Unknown_fields_are_skipped_and_nulls_are_missing_values()
    {
        var c = ShimConfigReader.Read("""{"Future":{"a":[1,{"b":null}]},"Mode":"Init","Mounts":null,"SeccompFilter":null,"HostRootUid":null,"Cwd":null,"Args":["x"]}"""u8);
        Assert.Equal(ShimMode.Init, c.Mode);
        Assert.Empty(c.Mounts);
        Assert.Null(c.SeccompFilter);
        Assert.Null(c.HostRootUid);
        Assert.Equal("/", c.Cwd);
        Assert.Equal(["x"], c.Args);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("null", "StartObject expected")]
    [InlineData("""{"Mode":"Sideways"}""", "Mode")]
    [InlineData("""{"Uid":"root"}""", "")]
    [InlineData("""{"Args":[null]}""", "null where a string")]
    [InlineData("""{"Args":["a"]""", "")]
    [InlineData("""{} {}""", "")]
    public void A_broken_configuration_is_a_json_error(string json, string why)
    {
        var e = Assert.ThrowsAny<JsonException>(() => ShimConfigReader.Read(System.Text.Encoding.UTF8.GetBytes(json)));
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }
}
