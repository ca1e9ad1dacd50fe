namespace Containers.DevContainers;

/// <summary>
/// The <c>devcontainer.metadata</c> label (a JSON array of entries: the base image's, one per feature, the
/// configuration's own) and its merge, as the specification says: booleans OR-ed, capAdd and securityOpt united,
/// mounts united with the last entry winning per target, lifecycle commands collected in order, environments merged
/// per variable with the last winning, single values (remoteUser, containerUser, ...) taken from the last entry that
/// has one, forwardPorts united, hostRequirements maximised.
/// </summary>
public sealed class DevContainerMetadata
{
    /// <summary>The label that holds the entries, on images and containers.</summary>
    public const string Label = "devcontainer.metadata";

    /// <summary>The lifecycle commands, in the order they run.</summary>
    public static readonly ImmutableArray<string> LifecycleCommands = ["onCreateCommand", "updateContentCommand", "postCreateCommand", "postStartCommand", "postAttachCommand"];

    private static readonly ImmutableArray<string> ConfigProperties =
    [
        .. LifecycleCommands, "waitFor", "customizations", "mounts", "containerEnv", "containerUser", "init", "privileged", "capAdd", "securityOpt",
        "remoteUser", "userEnvProbe", "remoteEnv", "overrideCommand", "portsAttributes", "otherPortsAttributes", "forwardPorts", "shutdownAction",
        "updateRemoteUserUID", "hostRequirements", "entrypoint",
    ];

    private static readonly ImmutableArray<string> FeatureProperties =
        ["id", "init", "privileged", "capAdd", "securityOpt", "entrypoint", "mounts", "customizations", .. LifecycleCommands];

    private DevContainerMetadata(ImmutableArray<JsonObject> entries) => Entries = entries;

    /// <summary>The entries, in order (base image first, the configuration last).</summary>
    public ImmutableArray<JsonObject> Entries { get; }

    /// <summary>The label's value: the entries as a JSON array.</summary>
    public string ToLabel() => new JsonArray([.. Entries.Select(e => (JsonNode)e.DeepClone())]).ToJsonString(Plain);

    /// <summary>JSON as people write it: no escapes of &lt;, &gt;, &amp;, + or non-ASCII letters (labels, outcome lines).</summary>
    public static JsonSerializerOptions Plain { get; } = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Reads a label (an array of entries or a single entry); nothing for null or empty.</summary>
    /// <exception cref="DevContainerException">The label is not JSON of objects (<paramref name="origin"/> named).</exception>
    public static ImmutableArray<JsonObject> ParseLabel(string? label, string origin)
    {
        if (string.IsNullOrWhiteSpace(label))
        {
            return [];
        }

        try
        {
            return JsonNode.Parse(label) switch
            {
                JsonArray a => [.. a.OfType<JsonObject>().Select(o => (JsonObject)o.DeepClone())],
                JsonObject o => [o],
                _ => [],
            };
        }
        catch (JsonException e)
        {
            throw new DevContainerException($"{origin}: the {Label} label is not JSON: {e.Message}", e);
        }
    }

    /// <summary>The configuration's own entry: the properties of devcontainer.json that take part in the merge.</summary>
    public static JsonObject ConfigEntry(DevContainerConfig config) => Pick(config?.Json ?? throw new ArgumentNullException(nameof(config)), ConfigProperties);

    /// <summary>A feature's entry: its id and the properties of devcontainer-feature.json that take part in the merge.</summary>
    public static JsonObject FeatureEntry(JsonObject featureJson, string id)
    {
        var e = Pick(featureJson, FeatureProperties);
        e["id"] = id;
        return e;
    }

    /// <summary>The metadata of these entries.</summary>
    public static DevContainerMetadata Of(IEnumerable<JsonObject> entries) => new([.. entries]);

    private static JsonObject Pick(JsonObject from, IEnumerable<string> names)
    {
        var e = new JsonObject();
        foreach (var name in names)
        {
            if (from[name] is { } v)
            {
                e[name] = v.DeepClone();
            }
        }

        return e;
    }

    /// <summary><c>init</c> of any entry.</summary>
    public bool Init => Entries.Any(e => Bool(e["init"]) == true);

    /// <summary><c>privileged</c> of any entry.</summary>
    public bool Privileged => Entries.Any(e => Bool(e["privileged"]) == true);

    /// <summary>Every entry's <c>capAdd</c>, once each.</summary>
    public ImmutableArray<string> CapAdd => [.. Entries.SelectMany(e => StringList(e["capAdd"])).Distinct()];

    /// <summary>Every entry's <c>securityOpt</c>, once each.</summary>
    public ImmutableArray<string> SecurityOpt => [.. Entries.SelectMany(e => StringList(e["securityOpt"])).Distinct()];

    /// <summary>Every entry's <c>entrypoint</c> (features' entrypoint scripts), in order.</summary>
    public ImmutableArray<string> Entrypoints => [.. Entries.Select(e => Str(e["entrypoint"])).OfType<string>()];

    /// <summary>Every entry's mounts as <c>--mount</c> strings, the last entry winning per target.</summary>
    public ImmutableArray<string> Mounts
    {
        get
        {
            var byTarget = new Dictionary<string, string>(StringComparer.Ordinal);
            var order = new List<string>();
            foreach (var m in Entries.SelectMany(e => e["mounts"] as JsonArray ?? []).Select(MountString).OfType<string>())
            {
                var target = MountTarget(m);
                if (byTarget.TryAdd(target, m))
                {
                    order.Add(target);
                }
                else
                {
                    byTarget[target] = m;
                }
            }

            return [.. order.Select(t => byTarget[t])];
        }
    }

    /// <summary>The commands of lifecycle property <paramref name="name"/> of every entry, in order, each with the entry it came from.</summary>
    public ImmutableArray<(string Origin, JsonNode Command)> Commands(string name) =>
        [.. Entries.Select((e, i) => (Origin: Str(e["id"]) ?? (i == Entries.Length - 1 ? "devcontainer.json" : "image metadata"), Command: e[name])).Where(c => c.Command is not null).Select(c => (c.Origin, c.Command!))];

    /// <summary><c>containerEnv</c> merged, the last entry winning per variable.</summary>
    public ImmutableDictionary<string, string> ContainerEnv => Env("containerEnv");

    /// <summary><c>remoteEnv</c> merged, the last entry winning per variable (a null value unsets).</summary>
    public ImmutableDictionary<string, string?> RemoteEnv
    {
        get
        {
            var env = ImmutableDictionary.CreateBuilder<string, string?>();
            foreach (var o in Entries.Select(e => e["remoteEnv"]).OfType<JsonObject>())
            {
                foreach (var (k, v) in o)
                {
                    env[k] = v is null ? null : Str(v) ?? v.ToJsonString();
                }
            }

            return env.ToImmutable();
        }
    }

    /// <summary><c>remoteUser</c> of the last entry that has one.</summary>
    public string? RemoteUser => Last("remoteUser");

    /// <summary><c>containerUser</c> of the last entry that has one.</summary>
    public string? ContainerUser => Last("containerUser");

    /// <summary><c>userEnvProbe</c> of the last entry that has one.</summary>
    public string? UserEnvProbe => Last("userEnvProbe");

    /// <summary><c>shutdownAction</c> of the last entry that has one.</summary>
    public string? ShutdownAction => Last("shutdownAction");

    /// <summary><c>waitFor</c> of the last entry that has one.</summary>
    public string? WaitFor => Last("waitFor");

    /// <summary><c>overrideCommand</c> of the last entry that has one.</summary>
    public bool? OverrideCommand => Entries.Select(e => Bool(e["overrideCommand"])).LastOrDefault(b => b is not null);

    /// <summary><c>updateRemoteUserUID</c> of the last entry that has one.</summary>
    public bool? UpdateRemoteUserUID => Entries.Select(e => Bool(e["updateRemoteUserUID"])).LastOrDefault(b => b is not null);

    /// <summary>Every entry's <c>forwardPorts</c> (numbers, or <c>service:port</c> strings), once each.</summary>
    public ImmutableArray<string> ForwardPorts => [.. Entries.SelectMany(e => e["forwardPorts"] as JsonArray ?? []).Select(p => p is JsonValue v && v.TryGetValue<int>(out var n) ? n.ToString(CultureInfo.InvariantCulture) : Str(p)).OfType<string>().Distinct()];

    /// <summary><c>portsAttributes</c> merged per port (the last entry winning).</summary>
    public ImmutableDictionary<string, JsonObject> PortsAttributes
    {
        get
        {
            var b = ImmutableDictionary.CreateBuilder<string, JsonObject>();
            foreach (var o in Entries.Select(e => e["portsAttributes"]).OfType<JsonObject>())
            {
                foreach (var (k, v) in o)
                {
                    if (v is JsonObject a)
                    {
                        b[k] = a;
                    }
                }
            }

            return b.ToImmutable();
        }
    }

    /// <summary><c>hostRequirements</c>, the largest of every entry's cpus, memory, storage, and gpu of any.</summary>
    public HostRequirements HostRequirements
    {
        get
        {
            var r = new HostRequirements();
            foreach (var o in Entries.Select(e => e["hostRequirements"]).OfType<JsonObject>())
            {
                r = r.Max(HostRequirements.Parse(o));
            }

            return r;
        }
    }

    private ImmutableDictionary<string, string> Env(string name)
    {
        var env = ImmutableDictionary.CreateBuilder<string, string>();
        foreach (var o in Entries.Select(e => e[name]).OfType<JsonObject>())
        {
            foreach (var (k, v) in o)
            {
                if (v is not null)
                {
                    env[k] = Str(v) ?? v.ToJsonString();
                }
            }
        }

        return env.ToImmutable();
    }

    private string? Last(string name) => Entries.Select(e => Str(e[name])).LastOrDefault(s => s is not null);

    internal static string? Str(JsonNode? n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    internal static bool? Bool(JsonNode? n) => n is JsonValue v && v.TryGetValue<bool>(out var b) ? b : null;

    private static IEnumerable<string> StringList(JsonNode? n) => n switch
    {
        JsonArray a => a.Select(Str).OfType<string>(),
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        _ => [],
    };

    /// <summary>A mount of the configuration (a <c>--mount</c> string, or an object of type, source and target) as a <c>--mount</c> string.</summary>
    internal static string? MountString(JsonNode? m) => m switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonObject o => string.Join(',', new[]
        {
            Str(o["type"]) is { } t ? "type=" + t : "type=bind",
            Str(o["source"]) is { Length: > 0 } src ? "source=" + src : null,
            Str(o["target"]) is { } target ? "target=" + target : null,
            Bool(o["readonly"]) == true ? "readonly" : null,
        }.OfType<string>()),
        _ => null,
    };

    private static string MountTarget(string mount) =>
        mount.Split(',').Select(p => p.Split('=', 2)).FirstOrDefault(p => p.Length == 2 && p[0].Trim() is "target" or "dst" or "destination")?[1].Trim() ?? mount;
}

/// <summary><c>hostRequirements</c>: what the machine must have.</summary>
public sealed record HostRequirements
{
    /// <summary>CPUs, at least.</summary>
    public int Cpus { get; init; }

    /// <summary>Memory in bytes, at least.</summary>
    public long Memory { get; init; }

    /// <summary>Free storage in bytes, at least.</summary>
    public long Storage { get; init; }

    /// <summary>A GPU is required (<c>gpu: true</c>; "optional" does not require one).</summary>
    public bool Gpu { get; init; }

    /// <summary>The larger of each requirement.</summary>
    public HostRequirements Max(HostRequirements other) => new()
    {
        Cpus = Math.Max(Cpus, other?.Cpus ?? 0),
        Memory = Math.Max(Memory, other?.Memory ?? 0),
        Storage = Math.Max(Storage, other?.Storage ?? 0),
        Gpu = Gpu || (other?.Gpu ?? false),
    };

    /// <summary>Reads <c>{"cpus": 2, "memory": "4gb", "storage": "32gb", "gpu": true}</c>.</summary>
    /// <exception cref="DevContainerException">A value that is not a number or a size.</exception>
    public static HostRequirements Parse(JsonObject o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return new HostRequirements
        {
            Cpus = o["cpus"] is JsonValue c ? c.TryGetValue<int>(out var n) ? n : throw new DevContainerException($"hostRequirements.cpus: expected a number, not {c.ToJsonString()}") : 0,
            Memory = Size(o["memory"], "memory"),
            Storage = Size(o["storage"], "storage"),
            Gpu = o["gpu"] is JsonValue g && (g.TryGetValue<bool>(out var b) ? b : false),
        };
    }

    private static long Size(JsonNode? n, string field)
    {
        if (n is null)
        {
            return 0;
        }

        var s = DevContainerMetadata.Str(n) ?? throw new DevContainerException($"hostRequirements.{field}: expected a size such as \"4gb\", not {n.ToJsonString()}");
        var m = System.Text.RegularExpressions.Regex.Match(s.Trim().ToLowerInvariant(), @"^(\d+(?:\.\d+)?)\s*(tb|gb|mb|kb|b)?$");
        if (!m.Success)
        {
            throw new DevContainerException($"hostRequirements.{field}: expected a size such as \"4gb\", not \"{s}\"");
        }

        var unit = m.Groups[2].Value switch { "tb" => 1L << 40, "gb" => 1L << 30, "mb" => 1L << 20, "kb" => 1L << 10, _ => 1L };
        return (long)(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * unit);
    }

    /// <summary>What this machine lacks of these requirements, or nothing. <paramref name="storageFolder"/> is where images go.</summary>
    public IEnumerable<string> Unmet(string storageFolder)
    {
        if (Cpus > Environment.ProcessorCount)
        {
            yield return $"{Cpus} CPUs (this machine has {Environment.ProcessorCount})";
        }

        if (Memory > 0)
        {
            var total = File.ReadLines("/proc/meminfo").Select(l => l.Split(':', 2)).Where(p => p[0] == "MemTotal")
                .Select(p => long.Parse(p[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024).FirstOrDefault();
            if (Memory > total)
            {
                yield return $"{Gib(Memory)} of memory (this machine has {Gib(total)})";
            }
        }

        if (Storage > 0)
        {
            Directory.CreateDirectory(storageFolder);
            var free = new DriveInfo(storageFolder).AvailableFreeSpace;
            if (Storage > free)
            {
                yield return $"{Gib(Storage)} of storage (there are {Gib(free)} free under {storageFolder})";
            }
        }

        if (Gpu && !File.Exists("/dev/nvidia0") && !Directory.Exists("/dev/dri"))
        {
            yield return "a GPU (this machine has none)";
        }
    }

    private static string Gib(long bytes) => (bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture) + " GiB";
}
