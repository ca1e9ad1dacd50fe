using System.Buffers;
using System.Text.Json;
using Containers.Shim;

namespace Containers.Runtime;

/// <summary>
/// Writes a shim's configuration as the JSON <see cref="ShimConfigReader"/> reads (the serializer's shape: property
/// names as declared, enums by name, byte arrays as base64) with a <see cref="Utf8JsonWriter"/>, without the
/// serializer's metadata, which NativeAOT builds through reflection on first use (about 1.5 ms of every CLI start).
/// </summary>
internal static class ShimConfigWriter
{
    /// <summary>The configuration as UTF-8 JSON.</summary>
    public static byte[] Write(ShimConfig c)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartObject();
            w.WriteString("Mode", c.Mode == ShimMode.Init ? "Init" : "Exec");
            w.WriteString("RootfsMountPoint", c.RootfsMountPoint);
            Strings(w, "LowerDirs", c.LowerDirs);
            w.WriteString("UpperDir", c.UpperDir);
            w.WriteString("WorkDir", c.WorkDir);
            w.WriteBoolean("Volatile", c.Volatile);
            w.WriteBoolean("ReadOnlyRootfs", c.ReadOnlyRootfs);
            w.WriteString("Hostname", c.Hostname);
            Array(w, "Mounts", c.Mounts, static (w, m) =>
            {
                w.WriteStartObject();
                w.WriteString("Source", m.Source);
                w.WriteString("Destination", m.Destination);
                w.WriteString("Type", m.Type);
                w.WriteNumber("Flags", m.Flags);
                w.WriteString("Data", m.Data);
                w.WriteBoolean("IsFile", m.IsFile);
                w.WriteBoolean("ReadOnly", m.ReadOnly);
                w.WriteBoolean("IdMap", m.IdMap);
                w.WriteEndObject();
            });
            Strings(w, "MaskedPaths", c.MaskedPaths);
            Strings(w, "ReadOnlyPaths", c.ReadOnlyPaths);
            Array(w, "Devices", c.Devices, static (w, d) =>
            {
                w.WriteStartObject();
                w.WriteString("Path", d.Path);
                w.WriteString("HostPath", d.HostPath);
                w.WriteBoolean("Block", d.Block);
                w.WriteNumber("Major", d.Major);
                w.WriteNumber("Minor", d.Minor);
                w.WriteNumber("Mode", d.Mode);
                w.WriteNumber("Uid", d.Uid);
                w.WriteNumber("Gid", d.Gid);
                w.WriteEndObject();
            });
            w.WriteBoolean("WritableSysfs", c.WritableSysfs);
            w.WriteString("Shm", c.Shm);
            w.WriteString("UserNamespace", c.UserNamespace);
            w.WriteString("UsernsHelper", c.UsernsHelper);
            Strings(w, "IdMappedLowerDirs", c.IdMappedLowerDirs);
            NullableNumber(w, "HostRootUid", c.HostRootUid);
            NullableNumber(w, "HostRootGid", c.HostRootGid);
            NullableNumber(w, "HostTtyGid", c.HostTtyGid);
            w.WriteNumber("TargetPid", c.TargetPid);
            Strings(w, "Args", c.Args);
            Strings(w, "Env", c.Env);
            w.WriteString("Cwd", c.Cwd);
            w.WriteNumber("Uid", c.Uid);
            w.WriteNumber("Gid", c.Gid);
            Array(w, "AdditionalGids", c.AdditionalGids, static (w, g) => w.WriteNumberValue(g));
            Array(w, "Capabilities", c.Capabilities, static (w, cap) => w.WriteNumberValue(cap));
            w.WriteBoolean("NoNewPrivileges", c.NoNewPrivileges);
            if (c.SeccompFilter is null)
            {
                w.WriteNull("SeccompFilter");
            }
            else
            {
                w.WriteBase64String("SeccompFilter", c.SeccompFilter);
            }

            Array(w, "Rlimits", c.Rlimits, static (w, l) =>
            {
                w.WriteStartObject();
                w.WriteNumber("Resource", l.Resource);
                w.WriteNumber("Soft", l.Soft);
                w.WriteNumber("Hard", l.Hard);
                w.WriteEndObject();
            });
            w.WriteBoolean("Terminal", c.Terminal);
            w.WriteNumber("TerminalFd", c.TerminalFd);
            w.WriteString("TerminalPath", c.TerminalPath);
            w.WriteBoolean("OpenStdin", c.OpenStdin);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void Strings(Utf8JsonWriter w, string name, List<string> values) => Array(w, name, values, static (w, v) => w.WriteStringValue(v));

    private static void Array<T>(Utf8JsonWriter w, string name, List<T> items, Action<Utf8JsonWriter, T> item)
    {
        w.WriteStartArray(name);
        foreach (var x in items)
        {
            item(w, x);
        }

        w.WriteEndArray();
    }

    private static void NullableNumber(Utf8JsonWriter w, string name, uint? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
