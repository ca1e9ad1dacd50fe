using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Containers.DevContainers;

/// <summary>The three ways a dev container is made.</summary>
public enum DevContainerKind
{
    /// <summary>From <c>image</c>.</summary>
    Image,

    /// <summary>From <c>build.dockerfile</c> (or the legacy <c>dockerFile</c>).</summary>
    Dockerfile,

    /// <summary>A service of <c>dockerComposeFile</c>.</summary>
    Compose,
}

/// <summary>
/// A devcontainer.json, read as JSON with comments and trailing commas, with its local variables
/// (<c>${localWorkspaceFolder}</c>, <c>${localWorkspaceFolderBasename}</c>, <c>${localEnv:X:default}</c>,
/// <c>${containerWorkspaceFolder}</c>, <c>${containerWorkspaceFolderBasename}</c>, <c>${devcontainerId}</c>) substituted.
/// <c>${containerEnv:X}</c> is substituted once the container exists (in remoteEnv and the lifecycle commands).
/// </summary>
public sealed partial class DevContainerConfig
{
    private DevContainerConfig(string workspaceFolder, string configFile, JsonObject json)
    {
        LocalWorkspaceFolder = workspaceFolder;
        ConfigFile = configFile;
        Json = json;
    }

    /// <summary>The workspace folder on this machine (absolute).</summary>
    public string LocalWorkspaceFolder { get; }

    /// <summary>The devcontainer.json read (absolute).</summary>
    public string ConfigFile { get; }

    /// <summary>The folder of <see cref="ConfigFile"/>: relative paths in it (build context, features, compose files) start here.</summary>
    public string ConfigFolder => Path.GetDirectoryName(ConfigFile)!;

    /// <summary>The configuration, variables substituted.</summary>
    public JsonObject Json { get; }

    /// <summary>How the container is made.</summary>
    public DevContainerKind Kind => Json["dockerComposeFile"] is not null ? DevContainerKind.Compose
        : Json["build"]?["dockerfile"] is not null || Json["dockerFile"] is not null ? DevContainerKind.Dockerfile
        : DevContainerKind.Image;

    /// <summary><c>name</c>, if given.</summary>
    public string? Name => String("name");

    /// <summary><c>image</c>.</summary>
    public string? Image => String("image");

    /// <summary>The Dockerfile (absolute), for a Dockerfile configuration.</summary>
    public string? Dockerfile => (Json["build"]?["dockerfile"] ?? Json["dockerFile"]) is { } d ? Path.GetFullPath(Path.Combine(ConfigFolder, Text(d, "build.dockerfile"))) : null;

    /// <summary>The build context (absolute): <c>build.context</c> relative to the configuration's folder, else that folder.</summary>
    public string BuildContext => (Json["build"]?["context"] ?? Json["context"]) is { } c ? Path.GetFullPath(Path.Combine(ConfigFolder, Text(c, "build.context"))) : ConfigFolder;

    /// <summary><c>build.args</c>.</summary>
    public ImmutableDictionary<string, string> BuildArgs => Map(Json["build"]?["args"], "build.args");

    /// <summary><c>build.target</c>.</summary>
    public string? BuildTarget => Json["build"]?["target"] is { } t ? Text(t, "build.target") : null;

    /// <summary><c>build.cacheFrom</c> (a string or an array).</summary>
    public ImmutableArray<string> BuildCacheFrom => Strings(Json["build"]?["cacheFrom"], "build.cacheFrom");

    /// <summary>The compose files (absolute), in order.</summary>
    public ImmutableArray<string> DockerComposeFiles => [.. Strings(Json["dockerComposeFile"], "dockerComposeFile").Select(f => Path.GetFullPath(Path.Combine(ConfigFolder, f)))];

    /// <summary><c>service</c>: the compose service that is the dev container.</summary>
    public string? Service => String("service");

    /// <summary><c>runServices</c>: the compose services to start (all when empty).</summary>
    public ImmutableArray<string> RunServices => Strings(Json["runServices"], "runServices");

    /// <summary><c>features</c>: each feature's reference and options, in the file's order.</summary>
    public ImmutableArray<(string Reference, JsonNode? Options)> Features => Json["features"] switch
    {
        null => [],
        JsonObject o => [.. o.Select(kv => (kv.Key, kv.Value))],
        _ => throw Error("features", "must be an object of feature references and their options"),
    };

    /// <summary><c>overrideFeatureInstallOrder</c>.</summary>
    public ImmutableArray<string> OverrideFeatureInstallOrder => Strings(Json["overrideFeatureInstallOrder"], "overrideFeatureInstallOrder");

    /// <summary><c>appPort</c>: published as <c>docker run -p</c> does.</summary>
    public ImmutableArray<string> AppPort => Json["appPort"] switch
    {
        null => [],
        JsonArray a => [.. a.Select(p => Port(p, "appPort"))],
        var p => [Port(p, "appPort")],
    };

    /// <summary><c>workspaceMount</c>, if given (the default is computed by the dev container).</summary>
    public string? WorkspaceMount => String("workspaceMount");

    /// <summary>
    /// <c>workspaceFolder</c>: given, or <c>/workspaces/BASENAME</c> (or, with a workspaceMount given and no
    /// workspaceFolder, <c>/</c>; for compose, <c>/</c>), as the reference implementation defaults it.
    /// </summary>
    public string WorkspaceFolder { get; private set; } = "/";

    /// <summary><c>runArgs</c>.</summary>
    public ImmutableArray<string> RunArgs => Strings(Json["runArgs"], "runArgs");

    /// <summary><c>initializeCommand</c>: runs on this machine, before anything else.</summary>
    public JsonNode? InitializeCommand => Json["initializeCommand"];

    /// <summary><c>hostRequirements</c>.</summary>
    public JsonObject? HostRequirements => Json["hostRequirements"] switch
    {
        null => null,
        JsonObject o => o,
        _ => throw Error("hostRequirements", "must be an object (cpus, memory, storage, gpu)"),
    };

    /// <summary>A field as a string, or null; an error naming it when it has another type.</summary>
    internal string? String(string field) => Json[field] is { } n ? Text(n, field) : null;

    /// <summary>The folders searched, in order, for a workspace's configuration.</summary>
    public static IEnumerable<string> Candidates(string workspaceFolder)
    {
        var dir = Path.GetFullPath(workspaceFolder);
        yield return Path.Combine(dir, ".devcontainer", "devcontainer.json");
        yield return Path.Combine(dir, ".devcontainer.json");
        var sub = Path.Combine(dir, ".devcontainer");
        if (Directory.Exists(sub))
        {
            foreach (var d in Directory.GetDirectories(sub).Order(StringComparer.Ordinal))
            {
                yield return Path.Combine(d, "devcontainer.json");
            }
        }
    }

    /// <summary>
    /// Reads the configuration of <paramref name="workspaceFolder"/>: <paramref name="configFile"/> when given, else
    /// <c>.devcontainer/devcontainer.json</c>, <c>.devcontainer.json</c>, or the only <c>.devcontainer/NAME/devcontainer.json</c>.
    /// </summary>
    /// <exception cref="DevContainerException">No configuration, several to choose from, or one that does not parse (file, line and column named).</exception>
    public static DevContainerConfig Load(string workspaceFolder, string? configFile = null, IReadOnlyDictionary<string, string>? localEnvironment = null)
    {
        var workspace = Path.GetFullPath(workspaceFolder);
        if (!Directory.Exists(workspace))
        {
            throw new DevContainerException($"workspace folder {workspace} does not exist");
        }

        string file;
        if (configFile is not null)
        {
            file = Path.GetFullPath(configFile, workspace);
            if (!File.Exists(file))
            {
                throw new DevContainerException($"{file}: no such file");
            }
        }
        else
        {
            var found = Candidates(workspace).Where(File.Exists).ToList();
            var named = found.Where(f => Path.GetDirectoryName(Path.GetDirectoryName(f)) == Path.Combine(workspace, ".devcontainer")).ToList();
            file = found.FirstOrDefault(f => !named.Contains(f))
                ?? (named.Count == 1 ? named[0]
                : named.Count > 1 ? throw new DevContainerException($"{workspace}: several configurations ({string.Join(", ", named.Select(n => Path.GetRelativePath(workspace, n)))}); choose one with --config")
                : throw new DevContainerException($"{workspace}: no dev container configuration (.devcontainer/devcontainer.json, .devcontainer.json or .devcontainer/NAME/devcontainer.json)"));
        }

        return Parse(File.ReadAllText(file), workspace, file, localEnvironment);
    }

    /// <summary>Parses <paramref name="text"/> as the configuration <paramref name="configFile"/> of <paramref name="workspaceFolder"/>.</summary>
    /// <exception cref="DevContainerException">It is not JSON (with comments) or not an object; its line and column are named.</exception>
    public static DevContainerConfig Parse(string text, string workspaceFolder, string configFile, IReadOnlyDictionary<string, string>? localEnvironment = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            // JsonException counts lines and bytes from 0
            var line = (e.LineNumber ?? 0) + 1;
            var column = (e.BytePositionInLine ?? 0) + 1;
            var reason = e.Message.Split(" LineNumber:", 2)[0].TrimEnd('.', ' ');
            throw new DevContainerException($"{configFile}: line {line}, column {column}: {reason}", e);
        }

        if (node is not JsonObject json)
        {
            throw new DevContainerException($"{configFile}: expected a JSON object");
        }

        var config = new DevContainerConfig(Path.GetFullPath(workspaceFolder), Path.GetFullPath(configFile), json);
        config.Substitute(localEnvironment);
        return config;
    }

    /// <summary>The dev container's id (<c>${devcontainerId}</c>): stable for a workspace folder and configuration file.</summary>
    public string DevContainerId
    {
        get
        {
            var labels = $"{{\"devcontainer.config_file\":{JsonValue.Create(ConfigFile).ToJsonString()},\"devcontainer.local_folder\":{JsonValue.Create(LocalWorkspaceFolder).ToJsonString()}}}";
            var hash = SHA256.HashData(Encoding.UTF8.GetBytes(labels));
            var n = new System.Numerics.BigInteger(hash, isUnsigned: true, isBigEndian: true);
            const string alphabet = "0123456789abcdefghijklmnopqrstuv";
            var sb = new StringBuilder();
            while (n > 0)
            {
                sb.Insert(0, alphabet[(int)(n % 32)]);
                n /= 32;
            }

            return sb.ToString().PadLeft(52, '0');
        }
    }

    private void Substitute(IReadOnlyDictionary<string, string>? localEnvironment)
    {
        string LocalEnv(string name) => localEnvironment is not null ? localEnvironment.GetValueOrDefault(name) ?? "" : Environment.GetEnvironmentVariable(name) ?? "";
        var basename = Path.GetFileName(LocalWorkspaceFolder.TrimEnd('/'));
        string Local(string s, string? containerFolder) => Variable().Replace(s, m =>
        {
            var parts = m.Groups[1].Value.Split(':');
            return parts[0] switch
            {
                "localWorkspaceFolder" => LocalWorkspaceFolder,
                "localWorkspaceFolderBasename" => basename,
                "localEnv" or "env" when parts.Length >= 2 => LocalEnv(parts[1]) is { Length: > 0 } v ? v : parts.Length > 2 ? string.Join(':', parts[2..]) : "",
                "containerWorkspaceFolder" when containerFolder is not null => containerFolder,
                "containerWorkspaceFolderBasename" when containerFolder is not null => Path.GetFileName(containerFolder.TrimEnd('/')),
                "devcontainerId" => DevContainerId,
                _ => m.Value, // containerEnv (later) and anything unknown stay as written, as in the reference
            };
        });

        // workspaceFolder first (it may use local variables), then everything with ${containerWorkspaceFolder} known
        var folder = Json["workspaceFolder"] is { } wf ? Local(Text(wf, "workspaceFolder"), null)
            : Kind == DevContainerKind.Compose ? "/"
            : Json["workspaceMount"] is not null ? "/"
            : "/workspaces/" + basename;
        WorkspaceFolder = folder;
        Walk(Json, s => Local(s, folder));
    }

    /// <summary>Replaces every string value (not names) of <paramref name="node"/> by <paramref name="map"/>'s.</summary>
    internal static void Walk(JsonNode? node, Func<string, string> map)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var key in o.Select(kv => kv.Key).ToList())
                {
                    if (o[key] is JsonValue v && v.TryGetValue<string>(out var s))
                    {
                        o[key] = map(s);
                    }
                    else
                    {
                        Walk(o[key], map);
                    }
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (a[i] is JsonValue v && v.TryGetValue<string>(out var s))
                    {
                        a[i] = map(s);
                    }
                    else
                    {
                        Walk(a[i], map);
                    }
                }

                break;
        }
    }

    /// <summary>Substitutes <c>${containerEnv:X[:default]}</c> in <paramref name="s"/> from <paramref name="containerEnv"/>.</summary>
    internal static string ContainerEnv(string s, IReadOnlyDictionary<string, string> containerEnv) => Variable().Replace(s, m =>
    {
        var parts = m.Groups[1].Value.Split(':');
        return parts[0] == "containerEnv" && parts.Length >= 2
            ? containerEnv.GetValueOrDefault(parts[1]) is { Length: > 0 } v ? v : parts.Length > 2 ? string.Join(':', parts[2..]) : ""
            : m.Value;
    });

    private DevContainerException Error(string field, string what) => new($"{ConfigFile}: '{field}' {what}");

    internal string Text(JsonNode node, string field) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Error(field, $"must be a string, not {node.ToJsonString()}");

    internal ImmutableArray<string> Strings(JsonNode? node, string field) => node switch
    {
        null => [],
        JsonArray a => [.. a.Select((n, i) => n is null ? throw Error($"{field}[{i}]", "must be a string") : Text(n, $"{field}[{i}]"))],
        _ => [Text(node, field)],
    };

    internal ImmutableDictionary<string, string> Map(JsonNode? node, string field) => node switch
    {
        null => ImmutableDictionary<string, string>.Empty,
        JsonObject o => o.Where(kv => kv.Value is not null).ToImmutableDictionary(kv => kv.Key, kv => Scalar(kv.Value!, $"{field}.{kv.Key}")),
        _ => throw Error(field, "must be an object of names and values"),
    };

    private string Scalar(JsonNode node, string field) => node is JsonValue v
        ? v.TryGetValue<string>(out var s) ? s : node.ToJsonString()
        : throw Error(field, "must be a string");

    private string Port(JsonNode? p, string field) => p is JsonValue v
        ? v.TryGetValue<int>(out var n) ? $"{n}:{n}" : v.TryGetValue<string>(out var s) ? s : throw Error(field, "must be a port number or a string")
        : throw Error(field, "must be a port number or a string");

    [GeneratedRegex(@"\$\{([^}]+)\}")]
    private static partial Regex Variable();
}
