// Shared between the library (whose tests check it against System.Text.Json) and the shim (which reads its
// configuration with it). Compiled into both assemblies.
using System.Text.Json;
using static Containers.Shim.JsonTokens;

namespace Containers.Shim;

/// <summary>
/// Reads the configuration <see cref="ShimJsonContext"/> writes, with a <see cref="Utf8JsonReader"/> and no serializer
/// metadata: in a NativeAOT process, System.Text.Json builds its metadata for a type through reflection over the
/// type's attributes and converters the first time (about a millisecond for these five types, on every container
/// start, since every shim is a new process). Property names are matched as written (ordinal), unknown ones are
/// skipped, enums are their names, a byte array is base64, null stands for a missing value: as the serializer does.
/// </summary>
internal static class ShimConfigReader
{
    /// <summary>Parses <paramref name="json"/>; throws <see cref="JsonException"/> when it is not a configuration.</summary>
    public static ShimConfig Read(ReadOnlySpan<byte> json) => Document(json, "configuration", Config);

    private static ShimConfig Config(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var c = new ShimConfig();
        while (Property(ref r) is { } name)
        {
            switch (name)
            {
                case "Mode": c.Mode = Mode(ref r); break;
                case "RootfsMountPoint": c.RootfsMountPoint = String(ref r) ?? ""; break;
                case "LowerDirs": c.LowerDirs = Strings(ref r); break;
                case "UpperDir": c.UpperDir = String(ref r); break;
                case "WorkDir": c.WorkDir = String(ref r); break;
                case "Volatile": c.Volatile = Bool(ref r); break;
                case "ReadOnlyRootfs": c.ReadOnlyRootfs = Bool(ref r); break;
                case "Hostname": c.Hostname = String(ref r); break;
                case "Mounts": c.Mounts = List(ref r, Mount); break;
                case "MaskedPaths": c.MaskedPaths = Strings(ref r); break;
                case "ReadOnlyPaths": c.ReadOnlyPaths = Strings(ref r); break;
                case "Devices": c.Devices = List(ref r, Device); break;
                case "WritableSysfs": c.WritableSysfs = Bool(ref r); break;
                case "Shm": c.Shm = String(ref r); break;
                case "UserNamespace": c.UserNamespace = String(ref r); break;
                case "UsernsHelper": c.UsernsHelper = String(ref r); break;
                case "IdMappedLowerDirs": c.IdMappedLowerDirs = Strings(ref r); break;
                case "HostRootUid": c.HostRootUid = NullableUInt(ref r); break;
                case "HostRootGid": c.HostRootGid = NullableUInt(ref r); break;
                case "HostTtyGid": c.HostTtyGid = NullableUInt(ref r); break;
                case "TargetPid": c.TargetPid = Int(ref r); break;
                case "Args": c.Args = Strings(ref r); break;
                case "Env": c.Env = Strings(ref r); break;
                case "Cwd": c.Cwd = String(ref r) ?? "/"; break;
                case "Uid": c.Uid = UInt(ref r); break;
                case "Gid": c.Gid = UInt(ref r); break;
                case "AdditionalGids": c.AdditionalGids = List(ref r, UInt); break;
                case "Capabilities": c.Capabilities = List(ref r, Int); break;
                case "NoNewPrivileges": c.NoNewPrivileges = Bool(ref r); break;
                case "SeccompFilter": c.SeccompFilter = r.TokenType == JsonTokenType.Null ? null : r.GetBytesFromBase64(); break;
                case "Rlimits": c.Rlimits = List(ref r, Rlimit); break;
                case "Terminal": c.Terminal = Bool(ref r); break;
                case "TerminalFd": c.TerminalFd = Int(ref r); break;
                case "TerminalPath": c.TerminalPath = String(ref r); break;
                case "OpenStdin": c.OpenStdin = Bool(ref r); break;
                default: r.Skip(); break;
            }
        }

        return c;
    }

    private static ShimMount Mount(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var m = new ShimMount();
        while (Property(ref r) is { } name)
        {
            switch (name)
            {
                case "Source": m.Source = String(ref r) ?? ""; break;
                case "Destination": m.Destination = String(ref r) ?? ""; break;
                case "Type": m.Type = String(ref r); break;
                case "Flags": m.Flags = r.GetUInt64(); break;
                case "Data": m.Data = String(ref r); break;
                case "IsFile": m.IsFile = Bool(ref r); break;
                case "ReadOnly": m.ReadOnly = Bool(ref r); break;
                case "IdMap": m.IdMap = Bool(ref r); break;
                default: r.Skip(); break;
            }
        }

        return m;
    }

    private static ShimDevice Device(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new ShimDevice();
        while (Property(ref r) is { } name)
        {
            switch (name)
            {
                case "Path": d.Path = String(ref r) ?? ""; break;
                case "HostPath": d.HostPath = String(ref r); break;
                case "Block": d.Block = Bool(ref r); break;
                case "Major": d.Major = UInt(ref r); break;
                case "Minor": d.Minor = UInt(ref r); break;
                case "Mode": d.Mode = UInt(ref r); break;
                case "Uid": d.Uid = UInt(ref r); break;
                case "Gid": d.Gid = UInt(ref r); break;
                default: r.Skip(); break;
            }
        }

        return d;
    }

    private static ShimRlimit Rlimit(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var l = new ShimRlimit();
        while (Property(ref r) is { } name)
        {
            switch (name)
            {
                case "Resource": l.Resource = Int(ref r); break;
                case "Soft": l.Soft = r.GetUInt64(); break;
                case "Hard": l.Hard = r.GetUInt64(); break;
                default: r.Skip(); break;
            }
        }

        return l;
    }

    private static ShimMode Mode(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.String when r.ValueTextEquals("Init"u8) => ShimMode.Init,
        JsonTokenType.String when r.ValueTextEquals("Exec"u8) => ShimMode.Exec,
        JsonTokenType.Number => (ShimMode)r.GetInt32(),
        _ => throw new JsonException($"Mode: not a mode ({r.TokenType})"),
    };

    private static bool Bool(ref Utf8JsonReader r) => r.GetBoolean();

    private static int Int(ref Utf8JsonReader r) => r.GetInt32();

    private static uint UInt(ref Utf8JsonReader r) => r.GetUInt32();

    private static uint? NullableUInt(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetUInt32();
}
