using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Containers.Networking;
using Containers.Runtime.Cgroups;
using static Containers.Shim.JsonTokens;

namespace Containers.Runtime;

/// <summary>
/// Reads and writes <c>state.json</c> (and the string maps of a root, such as a network's address allocations) by
/// hand, in the shape <see cref="ContainerStoreJsonContext"/>'s serializer gives them: property names as declared,
/// enums by name, <see cref="TimeSpan"/> as <c>[d.]hh:mm:ss[.fffffff]</c>, public computed properties written too
/// (and skipped when read), indented. In a NativeAOT process the serializer builds its metadata for the ~15 types of a
/// container's state through reflection over their attributes the first time: about 4 ms of CPU at every CLI call,
/// on a path every <c>containers run</c> waits for. Files written by either read with the other (tested field for field).
/// </summary>
internal static class ContainerStateJson
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true, SkipValidation = true };

    /// <summary>The state as UTF-8 JSON.</summary>
    public static byte[] Write(ContainerState s)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var w = new Utf8JsonWriter(buffer, Indented))
        {
            w.WriteStartObject();
            w.WriteString("Id", s.Id);
            w.WriteString("Name", s.Name);
            w.WritePropertyName("Spec");
            Spec(w, s.Spec);
            w.WriteString("Created", s.Created);
            w.WriteString("Status", Name(s.Status));
            w.WriteNumber("Pid", s.Pid);
            w.WriteNumber("PidStartTime", s.PidStartTime);
            w.WriteNumber("MonitorPid", s.MonitorPid);
            w.WriteNumber("MonitorStartTime", s.MonitorStartTime);
            w.WriteNumber("ExitCode", s.ExitCode);
            w.WriteBoolean("OomKilled", s.OomKilled);
            w.WriteString("Error", s.Error);
            NullableTime(w, "StartedAt", s.StartedAt);
            NullableTime(w, "FinishedAt", s.FinishedAt);
            w.WriteNumber("RestartCount", s.RestartCount);
            w.WriteBoolean("StopRequested", s.StopRequested);
            w.WriteString("IPAddress", s.IPAddress);
            w.WriteString("Gateway", s.Gateway);
            Array(w, "Networks", s.Networks, static (w, e) =>
            {
                w.WriteStartObject();
                w.WriteString("Network", e.Network);
                w.WriteString("NetworkId", e.NetworkId);
                w.WriteString("IPAddress", e.IPAddress);
                w.WriteNumber("PrefixLength", e.PrefixLength);
                w.WriteString("Gateway", e.Gateway);
                w.WriteString("Interface", e.Interface);
                w.WriteString("HostInterface", e.HostInterface);
                Strings(w, "Aliases", e.Aliases);
                w.WriteEndObject();
            });
            Array(w, "Ports", s.Ports, Port);
            if (s.Health is { } h)
            {
                w.WriteStartObject("Health");
                w.WriteString("Status", h.Status);
                w.WriteNumber("FailingStreak", h.FailingStreak);
                Array(w, "Log", h.Log, static (w, l) =>
                {
                    w.WriteStartObject();
                    w.WriteString("Start", l.Start);
                    w.WriteString("End", l.End);
                    w.WriteNumber("ExitCode", l.ExitCode);
                    w.WriteString("Output", l.Output);
                    w.WriteEndObject();
                });
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("Health");
            }

            w.WriteBoolean("IsActive", s.IsActive);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses a <c>state.json</c>; throws <see cref="JsonException"/> when it is not one.</summary>
    public static ContainerState Read(ReadOnlySpan<byte> json) => Document(json, "container state", State);

    /// <summary>A JSON object of strings, indented (as the serializer writes a <c>Dictionary&lt;string, string&gt;</c>).</summary>
    public static byte[] WriteMap(IReadOnlyDictionary<string, string> map)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, Indented))
        {
            Map(w, map);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses a JSON object of strings (null reads as empty); throws <see cref="JsonException"/> when it is not one.</summary>
    public static Dictionary<string, string> ReadMap(ReadOnlySpan<byte> json) => Document(json, "map", static (ref Utf8JsonReader r) =>
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (r.TokenType != JsonTokenType.Null)
        {
            Expect(ref r, JsonTokenType.StartObject);
            while (Property(ref r) is { } key)
            {
                map[key] = NonNullString(ref r);
            }
        }

        return map;
    });

    private static void Spec(Utf8JsonWriter w, ContainerSpec s)
    {
        w.WriteStartObject();
        w.WriteString("Rootfs", s.Rootfs);
        Strings(w, "LowerLayers", s.LowerLayers);
        w.WriteString("Image", s.Image);
        w.WriteString("ImageId", s.ImageId);
        if (s.Entrypoint is { } entrypoint)
        {
            Strings(w, "Entrypoint", entrypoint);
        }
        else
        {
            w.WriteNull("Entrypoint");
        }

        Strings(w, "Command", s.Command);
        Strings(w, "ExposedPorts", s.ExposedPorts);
        w.WriteBoolean("PublishAllPorts", s.PublishAllPorts);
        if (s.HealthCheck is { } hc)
        {
            w.WriteStartObject("HealthCheck");
            Strings(w, "Test", hc.Test);
            Time(w, "Interval", hc.Interval);
            Time(w, "Timeout", hc.Timeout);
            Time(w, "StartPeriod", hc.StartPeriod);
            Time(w, "StartInterval", hc.StartInterval);
            w.WriteNumber("Retries", hc.Retries);
            w.WriteBoolean("IsDisabled", hc.IsDisabled);
            Strings(w, "Command", hc.Command);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("HealthCheck");
        }

        w.WriteString("Name", s.Name);
        Strings(w, "Environment", s.Environment);
        w.WriteString("WorkingDirectory", s.WorkingDirectory);
        w.WriteString("User", s.User);
        Strings(w, "GroupAdd", s.GroupAdd);
        w.WriteString("Hostname", s.Hostname);
        w.WriteString("NetworkMode", s.NetworkMode);
        w.WriteString("CgroupParent", s.CgroupParent);
        Array(w, "Networks", s.Networks, static (w, n) =>
        {
            w.WriteStartObject();
            w.WriteString("Network", n.Network);
            Strings(w, "Aliases", n.Aliases);
            w.WriteString("IPv4Address", n.IPv4Address);
            w.WriteEndObject();
        });
        Array(w, "Ports", s.Ports, Port);
        Array(w, "Mounts", s.Mounts, static (w, m) =>
        {
            w.WriteStartObject();
            w.WriteString("Type", Name(m.Type));
            w.WriteString("Source", m.Source);
            w.WriteString("Target", m.Target);
            w.WriteBoolean("ReadOnly", m.ReadOnly);
            w.WriteString("TmpfsOptions", m.TmpfsOptions);
            w.WriteBoolean("CreateHostPath", m.CreateHostPath);
            w.WriteBoolean("IdMap", m.IdMap);
            w.WriteEndObject();
        });
        w.WriteStartObject("Resources");
        NullableNumber(w, "MemoryBytes", s.Resources.MemoryBytes);
        NullableNumber(w, "MemorySwapBytes", s.Resources.MemorySwapBytes);
        NullableNumber(w, "NanoCpus", s.Resources.NanoCpus);
        NullableNumber(w, "CpuShares", s.Resources.CpuShares);
        NullableNumber(w, "PidsLimit", s.Resources.PidsLimit);
        w.WriteEndObject();
        w.WriteBoolean("ReadOnlyRootfs", s.ReadOnlyRootfs);
        w.WriteBoolean("Tty", s.Tty);
        w.WriteBoolean("OpenStdin", s.OpenStdin);
        w.WriteBoolean("StdinOnce", s.StdinOnce);
        w.WriteBoolean("AutoRemove", s.AutoRemove);
        Strings(w, "CapAdd", s.CapAdd);
        Strings(w, "CapDrop", s.CapDrop);
        w.WriteBoolean("NoNewPrivileges", s.NoNewPrivileges);
        w.WriteString("SeccompProfile", s.SeccompProfile);
        w.WriteBoolean("Privileged", s.Privileged);
        w.WriteBoolean("Init", s.Init);
        Array(w, "Devices", s.Devices, static (w, d) =>
        {
            w.WriteStartObject();
            w.WriteString("HostPath", d.HostPath);
            w.WriteString("ContainerPath", d.ContainerPath);
            w.WriteString("Permissions", d.Permissions);
            w.WriteString("Target", d.Target);
            w.WriteEndObject();
        });
        Strings(w, "DeviceCgroupRules", s.DeviceCgroupRules);
        w.WriteString("PidMode", s.PidMode);
        w.WriteString("IpcMode", s.IpcMode);
        w.WriteString("UsernsMode", s.UsernsMode);
        Array(w, "UidMap", s.UidMap, IdMap);
        Array(w, "GidMap", s.GidMap, IdMap);
        w.WriteBoolean("HasUserNamespace", s.HasUserNamespace);
        Strings(w, "VolumesFrom", s.VolumesFrom);
        Array(w, "Ulimits", s.Ulimits, static (w, u) =>
        {
            w.WriteStartObject();
            w.WriteString("Name", u.Name);
            w.WriteNumber("Soft", u.Soft);
            w.WriteNumber("Hard", u.Hard);
            w.WriteNumber("Resource", u.Resource);
            w.WriteEndObject();
        });
        w.WriteStartObject("Restart");
        w.WriteString("Name", s.Restart.Name);
        w.WriteNumber("MaximumRetryCount", s.Restart.MaximumRetryCount);
        w.WriteEndObject();
        w.WriteString("StopSignal", s.StopSignal);
        Time(w, "StopTimeout", s.StopTimeout);
        w.WritePropertyName("Labels");
        Map(w, s.Labels);
        w.WriteString("JoinedContainer", s.JoinedContainer);
        w.WriteEndObject();
    }

    private static string Name(ContainerStatus status) => status switch
    {
        ContainerStatus.Created => "Created",
        ContainerStatus.Running => "Running",
        ContainerStatus.Paused => "Paused",
        ContainerStatus.Restarting => "Restarting",
        ContainerStatus.Exited => "Exited",
        ContainerStatus.Dead => "Dead",
        _ => status.ToString(),
    };

    private static string Name(MountType type) => type switch
    {
        MountType.Bind => "Bind",
        MountType.Tmpfs => "Tmpfs",
        MountType.Volume => "Volume",
        _ => type.ToString(),
    };

    private static void Port(Utf8JsonWriter w, PortBinding p)
    {
        w.WriteStartObject();
        w.WriteNumber("ContainerPort", p.ContainerPort);
        w.WriteNumber("HostPort", p.HostPort);
        w.WriteString("HostIp", p.HostIp);
        w.WriteString("Protocol", p.Protocol);
        w.WriteEndObject();
    }

    private static void IdMap(Utf8JsonWriter w, IdMapping m)
    {
        w.WriteStartObject();
        w.WriteNumber("ContainerId", m.ContainerId);
        w.WriteNumber("HostId", m.HostId);
        w.WriteNumber("Size", m.Size);
        w.WriteEndObject();
    }

    private static void Map(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, string>> map)
    {
        w.WriteStartObject();
        foreach (var (k, v) in map)
        {
            w.WriteString(k, v);
        }

        w.WriteEndObject();
    }

    private static void Strings(Utf8JsonWriter w, string name, ImmutableArray<string> values) => Array(w, name, values, static (w, v) => w.WriteStringValue(v));

    private static void Array<T>(Utf8JsonWriter w, string name, ImmutableArray<T> items, Action<Utf8JsonWriter, T> item)
    {
        w.WriteStartArray(name);
        foreach (var x in items.IsDefault ? [] : items)
        {
            item(w, x);
        }

        w.WriteEndArray();
    }

    private static void Time(Utf8JsonWriter w, string name, TimeSpan t) => w.WriteString(name, t.ToString("c", CultureInfo.InvariantCulture));

    private static void NullableTime(Utf8JsonWriter w, string name, DateTimeOffset? t)
    {
        if (t is { } v)
        {
            w.WriteString(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void NullableNumber(Utf8JsonWriter w, string name, long? value)
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

    private static ContainerState State(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        string? id = null, name = null;
        ContainerSpec? spec = null;
        var s = new ContainerState { Id = "", Name = "", Spec = new ContainerSpec() };
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Id": id = NonNullString(ref r); break;
                case "Name": name = NonNullString(ref r); break;
                case "Spec": spec = Spec(ref r); break;
                case "Created": s = s with { Created = r.GetDateTimeOffset() }; break;
                case "Status": s = s with { Status = Status(ref r) }; break;
                case "Pid": s = s with { Pid = r.GetInt32() }; break;
                case "PidStartTime": s = s with { PidStartTime = r.GetInt64() }; break;
                case "MonitorPid": s = s with { MonitorPid = r.GetInt32() }; break;
                case "MonitorStartTime": s = s with { MonitorStartTime = r.GetInt64() }; break;
                case "ExitCode": s = s with { ExitCode = r.GetInt32() }; break;
                case "OomKilled": s = s with { OomKilled = r.GetBoolean() }; break;
                case "Error": s = s with { Error = String(ref r) }; break;
                case "StartedAt": s = s with { StartedAt = NullableTime(ref r) }; break;
                case "FinishedAt": s = s with { FinishedAt = NullableTime(ref r) }; break;
                case "RestartCount": s = s with { RestartCount = r.GetInt32() }; break;
                case "StopRequested": s = s with { StopRequested = r.GetBoolean() }; break;
                case "IPAddress": s = s with { IPAddress = String(ref r) }; break;
                case "Gateway": s = s with { Gateway = String(ref r) }; break;
                case "Networks": s = s with { Networks = Array(ref r, Endpoint) }; break;
                case "Ports": s = s with { Ports = Array(ref r, Port) }; break;
                case "Health": s = s with { Health = r.TokenType == JsonTokenType.Null ? null : Health(ref r) }; break;
                default: r.Skip(); break;
            }
        }

        // required members, as the serializer requires them
        return s with
        {
            Id = id ?? throw new JsonException("the container state has no Id"),
            Name = name ?? throw new JsonException("the container state has no Name"),
            Spec = spec ?? throw new JsonException("the container state has no Spec"),
        };
    }

    private static ContainerSpec Spec(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var s = new ContainerSpec();
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Rootfs": s = s with { Rootfs = NonNullString(ref r) }; break;
                case "LowerLayers": s = s with { LowerLayers = Strings(ref r) }; break;
                case "Image": s = s with { Image = String(ref r) }; break;
                case "ImageId": s = s with { ImageId = String(ref r) }; break;
                case "Entrypoint": s = s with { Entrypoint = r.TokenType == JsonTokenType.Null ? null : Strings(ref r) }; break;
                case "Command": s = s with { Command = Strings(ref r) }; break;
                case "ExposedPorts": s = s with { ExposedPorts = Strings(ref r) }; break;
                case "PublishAllPorts": s = s with { PublishAllPorts = r.GetBoolean() }; break;
                case "HealthCheck": s = s with { HealthCheck = r.TokenType == JsonTokenType.Null ? null : HealthCheck(ref r) }; break;
                case "Name": s = s with { Name = String(ref r) }; break;
                case "Environment": s = s with { Environment = Strings(ref r) }; break;
                case "WorkingDirectory": s = s with { WorkingDirectory = String(ref r) }; break;
                case "User": s = s with { User = String(ref r) }; break;
                case "GroupAdd": s = s with { GroupAdd = Strings(ref r) }; break;
                case "Hostname": s = s with { Hostname = String(ref r) }; break;
                case "NetworkMode": s = s with { NetworkMode = NonNullString(ref r) }; break;
                case "CgroupParent": s = s with { CgroupParent = String(ref r) }; break;
                case "Networks": s = s with { Networks = Array(ref r, Attachment) }; break;
                case "Ports": s = s with { Ports = Array(ref r, Port) }; break;
                case "Mounts": s = s with { Mounts = Array(ref r, Mount) }; break;
                case "Resources": s = s with { Resources = r.TokenType == JsonTokenType.Null ? ResourceLimits.None : Resources(ref r) }; break;
                case "ReadOnlyRootfs": s = s with { ReadOnlyRootfs = r.GetBoolean() }; break;
                case "Tty": s = s with { Tty = r.GetBoolean() }; break;
                case "OpenStdin": s = s with { OpenStdin = r.GetBoolean() }; break;
                case "StdinOnce": s = s with { StdinOnce = r.GetBoolean() }; break;
                case "AutoRemove": s = s with { AutoRemove = r.GetBoolean() }; break;
                case "CapAdd": s = s with { CapAdd = Strings(ref r) }; break;
                case "CapDrop": s = s with { CapDrop = Strings(ref r) }; break;
                case "NoNewPrivileges": s = s with { NoNewPrivileges = r.GetBoolean() }; break;
                case "SeccompProfile": s = s with { SeccompProfile = String(ref r) }; break;
                case "Privileged": s = s with { Privileged = r.GetBoolean() }; break;
                case "Init": s = s with { Init = r.GetBoolean() }; break;
                case "Devices": s = s with { Devices = Array(ref r, Device) }; break;
                case "DeviceCgroupRules": s = s with { DeviceCgroupRules = Strings(ref r) }; break;
                case "PidMode": s = s with { PidMode = NonNullString(ref r) }; break;
                case "IpcMode": s = s with { IpcMode = NonNullString(ref r) }; break;
                case "UsernsMode": s = s with { UsernsMode = NonNullString(ref r) }; break;
                case "UidMap": s = s with { UidMap = Array(ref r, IdMap) }; break;
                case "GidMap": s = s with { GidMap = Array(ref r, IdMap) }; break;
                case "VolumesFrom": s = s with { VolumesFrom = Strings(ref r) }; break;
                case "Ulimits": s = s with { Ulimits = Array(ref r, Ulimit) }; break;
                case "Restart": s = s with { Restart = r.TokenType == JsonTokenType.Null ? RestartPolicy.No : Restart(ref r) }; break;
                case "StopSignal": s = s with { StopSignal = String(ref r) }; break;
                case "StopTimeout": s = s with { StopTimeout = Time(ref r) }; break;
                case "Labels": s = s with { Labels = Labels(ref r) }; break;
                default: r.Skip(); break; // and the computed HasUserNamespace, JoinedContainer
            }
        }

        return s;
    }

    private static HealthCheck HealthCheck(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var h = new HealthCheck();
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Test": h = h with { Test = Strings(ref r) }; break;
                case "Interval": h = h with { Interval = Time(ref r) }; break;
                case "Timeout": h = h with { Timeout = Time(ref r) }; break;
                case "StartPeriod": h = h with { StartPeriod = Time(ref r) }; break;
                case "StartInterval": h = h with { StartInterval = Time(ref r) }; break;
                case "Retries": h = h with { Retries = r.GetInt32() }; break;
                default: r.Skip(); break; // and the computed IsDisabled, Command
            }
        }

        return h;
    }

    private static HealthState Health(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var h = new HealthState();
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Status": h = h with { Status = NonNullString(ref r) }; break;
                case "FailingStreak": h = h with { FailingStreak = r.GetInt32() }; break;
                case "Log": h = h with { Log = Array(ref r, LogEntry) }; break;
                default: r.Skip(); break;
            }
        }

        return h;
    }

    private static HealthLogEntry LogEntry(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        DateTimeOffset start = default, end = default;
        int exitCode = 0;
        var output = "";
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Start": start = r.GetDateTimeOffset(); break;
                case "End": end = r.GetDateTimeOffset(); break;
                case "ExitCode": exitCode = r.GetInt32(); break;
                case "Output": output = String(ref r)!; break;
                default: r.Skip(); break;
            }
        }

        return new HealthLogEntry(start, end, exitCode, output);
    }

    private static NetworkEndpoint Endpoint(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        string? network = null, networkId = null, ip = null, gateway = null, iface = null, hostIface = null;
        var prefix = 0;
        ImmutableArray<string> aliases = [];
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Network": network = String(ref r); break;
                case "NetworkId": networkId = String(ref r); break;
                case "IPAddress": ip = String(ref r); break;
                case "PrefixLength": prefix = r.GetInt32(); break;
                case "Gateway": gateway = String(ref r); break;
                case "Interface": iface = String(ref r); break;
                case "HostInterface": hostIface = String(ref r); break;
                case "Aliases": aliases = Strings(ref r); break;
                default: r.Skip(); break;
            }
        }

        return new NetworkEndpoint(network!, networkId!, ip!, prefix, gateway!, iface!, hostIface!, aliases);
    }

    private static NetworkAttachment Attachment(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        string? network = null, address = null;
        ImmutableArray<string> aliases = [];
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Network": network = String(ref r); break;
                case "Aliases": aliases = Strings(ref r); break;
                case "IPv4Address": address = String(ref r); break;
                default: r.Skip(); break;
            }
        }

        return new NetworkAttachment(network!) { Aliases = aliases, IPv4Address = address };
    }

    private static PortBinding Port(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var b = new PortBinding(0);
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "ContainerPort": b = b with { ContainerPort = r.GetInt32() }; break;
                case "HostPort": b = b with { HostPort = r.GetInt32() }; break;
                case "HostIp": b = b with { HostIp = String(ref r)! }; break;
                case "Protocol": b = b with { Protocol = String(ref r)! }; break;
                default: r.Skip(); break;
            }
        }

        return b;
    }

    private static MountSpec Mount(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var m = new MountSpec(MountType.Bind, null!, null!);
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Type": m = m with { Type = Type(ref r) }; break;
                case "Source": m = m with { Source = String(ref r)! }; break;
                case "Target": m = m with { Target = String(ref r)! }; break;
                case "ReadOnly": m = m with { ReadOnly = r.GetBoolean() }; break;
                case "TmpfsOptions": m = m with { TmpfsOptions = String(ref r) }; break;
                case "CreateHostPath": m = m with { CreateHostPath = r.GetBoolean() }; break;
                case "IdMap": m = m with { IdMap = r.GetBoolean() }; break;
                default: r.Skip(); break;
            }
        }

        return m;
    }

    private static ResourceLimits Resources(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var l = ResourceLimits.None;
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "MemoryBytes": l = l with { MemoryBytes = NullableLong(ref r) }; break;
                case "MemorySwapBytes": l = l with { MemorySwapBytes = NullableLong(ref r) }; break;
                case "NanoCpus": l = l with { NanoCpus = NullableLong(ref r) }; break;
                case "CpuShares": l = l with { CpuShares = NullableLong(ref r) }; break;
                case "PidsLimit": l = l with { PidsLimit = NullableLong(ref r) }; break;
                default: r.Skip(); break;
            }
        }

        return l;
    }

    private static DeviceMapping Device(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        var d = new DeviceMapping(null!);
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "HostPath": d = d with { HostPath = String(ref r)! }; break;
                case "ContainerPath": d = d with { ContainerPath = String(ref r)! }; break;
                case "Permissions": d = d with { Permissions = String(ref r)! }; break;
                default: r.Skip(); break; // and the computed Target
            }
        }

        return d;
    }

    private static IdMapping IdMap(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        long container = 0, host = 0, size = 0;
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "ContainerId": container = r.GetInt64(); break;
                case "HostId": host = r.GetInt64(); break;
                case "Size": size = r.GetInt64(); break;
                default: r.Skip(); break;
            }
        }

        return new IdMapping(container, host, size);
    }

    private static Ulimit Ulimit(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        string? name = null;
        ulong soft = 0, hard = 0;
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Name": name = String(ref r); break;
                case "Soft": soft = r.GetUInt64(); break;
                case "Hard": hard = r.GetUInt64(); break;
                default: r.Skip(); break; // and the computed Resource
            }
        }

        return new Ulimit(name!, soft, hard);
    }

    private static RestartPolicy Restart(ref Utf8JsonReader r)
    {
        Expect(ref r, JsonTokenType.StartObject);
        string? name = null;
        var retries = 0;
        while (Property(ref r) is { } p)
        {
            switch (p)
            {
                case "Name": name = String(ref r); break;
                case "MaximumRetryCount": retries = r.GetInt32(); break;
                default: r.Skip(); break;
            }
        }

        return new RestartPolicy(name!, retries);
    }

    private static ImmutableDictionary<string, string> Labels(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null)
        {
            return ImmutableDictionary<string, string>.Empty;
        }

        Expect(ref r, JsonTokenType.StartObject);
        var labels = ImmutableDictionary.CreateBuilder<string, string>();
        while (Property(ref r) is { } key)
        {
            labels[key] = NonNullString(ref r);
        }

        return labels.ToImmutable();
    }

    private static ImmutableArray<T> Array<T>(ref Utf8JsonReader r, Item<T> item) => [.. List(ref r, item)];

    private static ImmutableArray<string> Strings(ref Utf8JsonReader r) => [.. Shim.JsonTokens.Strings(ref r)];

    // enums by name (the serializer's string enum converter reads names without regard to case) or by number
    private static ContainerStatus Status(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number ? (ContainerStatus)r.GetInt32() : NonNullString(ref r).ToLowerInvariant() switch
        {
            "created" => ContainerStatus.Created,
            "running" => ContainerStatus.Running,
            "paused" => ContainerStatus.Paused,
            "restarting" => ContainerStatus.Restarting,
            "exited" => ContainerStatus.Exited,
            "dead" => ContainerStatus.Dead,
            var v => throw new JsonException($"'{v}' is not a container status"),
        };

    private static MountType Type(ref Utf8JsonReader r) =>
        r.TokenType == JsonTokenType.Number ? (MountType)r.GetInt32() : NonNullString(ref r).ToLowerInvariant() switch
        {
            "bind" => MountType.Bind,
            "tmpfs" => MountType.Tmpfs,
            "volume" => MountType.Volume,
            var v => throw new JsonException($"'{v}' is not a mount type"),
        };

    private static TimeSpan Time(ref Utf8JsonReader r) =>
        TimeSpan.TryParseExact(NonNullString(ref r), "c", CultureInfo.InvariantCulture, out var t) ? t : throw new JsonException($"'{r.GetString()}' is not a time span");

    private static DateTimeOffset? NullableTime(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetDateTimeOffset();

    private static long? NullableLong(ref Utf8JsonReader r) => r.TokenType == JsonTokenType.Null ? null : r.GetInt64();
}
