using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Containers.Images;
using Containers.Images.Registry;

namespace Containers.DevContainers;

/// <summary>A feature fetched and read: its devcontainer-feature.json, its files, and the options it is installed with.</summary>
public sealed class DevContainerFeature
{
    internal DevContainerFeature(string reference, string id, JsonObject json, string folder, ImmutableDictionary<string, string> options)
    {
        Reference = reference;
        Id = id;
        Json = json;
        Folder = folder;
        Options = options;
    }

    /// <summary>The reference as written in <c>features</c> (<c>./node</c>, <c>ghcr.io/devcontainers/features/node:1</c>, a .tgz).</summary>
    public string Reference { get; }

    /// <summary>The feature's id (from its devcontainer-feature.json).</summary>
    public string Id { get; }

    /// <summary>Its devcontainer-feature.json.</summary>
    public JsonObject Json { get; }

    /// <summary>Where its files were put (install.sh and the rest).</summary>
    public string Folder { get; }

    /// <summary>The options, as the environment variables install.sh sees (upper-cased names).</summary>
    public ImmutableDictionary<string, string> Options { get; }

    /// <summary>Its name, else its id.</summary>
    public string Name => DevContainerMetadata.Str(Json["name"]) ?? Id;

    /// <summary>Its version.</summary>
    public string Version => DevContainerMetadata.Str(Json["version"]) ?? "";

    /// <summary>The reference without its tag or digest (how installsAfter and dependsOn name features).</summary>
    internal string Resource => Features.Resource(Reference);
}

/// <summary>Fetching features (local folders, tarballs, OCI artifacts), ordering them, and installing them as image layers.</summary>
internal static partial class Features
{
    /// <summary>The media type of a feature's layer in an OCI artifact.</summary>
    public const string LayerMediaType = "application/vnd.devcontainers.layer.v1+tar";

    /// <summary>The media type of a feature artifact's config.</summary>
    public const string ConfigMediaType = "application/vnd.devcontainers";

    /// <summary>A reference without tag or digest; a local folder as written.</summary>
    public static string Resource(string reference)
    {
        if (IsLocal(reference) || IsTarball(reference))
        {
            return reference;
        }

        var at = reference.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            return reference[..at];
        }

        var colon = reference.LastIndexOf(':');
        return colon > reference.LastIndexOf('/') ? reference[..colon] : reference;
    }

    private static bool IsLocal(string reference) => reference.StartsWith("./", StringComparison.Ordinal) || reference.StartsWith("../", StringComparison.Ordinal) || reference.StartsWith('/');

    private static bool IsTarball(string reference) =>
        reference.StartsWith("https://", StringComparison.Ordinal) || reference.StartsWith("http://", StringComparison.Ordinal) || reference.EndsWith(".tgz", StringComparison.Ordinal) || reference.EndsWith(".tar.gz", StringComparison.Ordinal);

    /// <summary>
    /// Fetches every feature of the configuration and what they depend on (<c>dependsOn</c>, fetched too), into
    /// folders under <paramref name="workFolder"/>, and orders them for installation.
    /// </summary>
    public static async Task<ImmutableArray<DevContainerFeature>> ResolveAsync(DevContainerConfig config, string workFolder, RegistryOptions registry, Action<string> log, CancellationToken ct)
    {
        var resolved = new List<DevContainerFeature>();
        using var artifacts = new RegistryArtifacts(registry);
        var pending = new Queue<(string Reference, JsonNode? Options)>(config.Features);
        while (pending.TryDequeue(out var item))
        {
            if (resolved.Any(f => f.Resource == Resource(item.Reference)))
            {
                continue;
            }

            var folder = Path.Combine(workFolder, $"{resolved.Count}-" + Regex.Replace(Resource(item.Reference), "[^A-Za-z0-9_.-]", "_"));
            Directory.CreateDirectory(folder);
            try
            {
                await FetchAsync(config, item.Reference, folder, artifacts, log, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not DevContainerException)
            {
                throw new DevContainerException($"feature '{item.Reference}': {e.Message}", e);
            }

            var jsonFile = Path.Combine(folder, "devcontainer-feature.json");
            if (!File.Exists(jsonFile))
            {
                throw new DevContainerException($"feature '{item.Reference}': no devcontainer-feature.json");
            }

            JsonObject json;
            try
            {
                json = JsonNode.Parse(File.ReadAllText(jsonFile), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                    ?? throw new DevContainerException($"feature '{item.Reference}': devcontainer-feature.json is not a JSON object");
            }
            catch (JsonException e)
            {
                throw new DevContainerException($"feature '{item.Reference}': devcontainer-feature.json: line {(e.LineNumber ?? 0) + 1}: {e.Message.Split(" LineNumber:", 2)[0]}", e);
            }

            if (!File.Exists(Path.Combine(folder, "install.sh")))
            {
                throw new DevContainerException($"feature '{item.Reference}': no install.sh");
            }

            var id = DevContainerMetadata.Str(json["id"]) ?? throw new DevContainerException($"feature '{item.Reference}': devcontainer-feature.json has no id");
            resolved.Add(new DevContainerFeature(item.Reference, id, json, folder, Options(item.Reference, json, item.Options)));
            if (json["dependsOn"] is JsonObject deps)
            {
                foreach (var (dep, options) in deps)
                {
                    pending.Enqueue((dep, options?.DeepClone()));
                }
            }
        }

        return Order(resolved, config.OverrideFeatureInstallOrder);
    }

    private static async Task FetchAsync(DevContainerConfig config, string reference, string folder, RegistryArtifacts artifacts, Action<string> log, CancellationToken ct)
    {
        if (IsLocal(reference) && !IsTarball(reference))
        {
            var source = Path.GetFullPath(Path.Combine(config.ConfigFolder, reference));
            if (!Directory.Exists(source))
            {
                throw new DevContainerException($"feature '{reference}': no folder {source}");
            }

            CopyFolder(source, folder);
            return;
        }

        if (IsTarball(reference))
        {
            Stream tgz;
            if (reference.StartsWith("http", StringComparison.Ordinal))
            {
                log($"Fetching feature {reference}");
                using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
                tgz = new MemoryStream(await http.GetByteArrayAsync(new Uri(reference), ct).ConfigureAwait(false));
            }
            else
            {
                var path = Path.GetFullPath(Path.Combine(config.ConfigFolder, reference));
                tgz = File.Exists(path) ? File.OpenRead(path) : throw new DevContainerException($"feature '{reference}': no file {path}");
            }

            await using (tgz.ConfigureAwait(false))
            {
                await ExtractAsync(new GZipStream(tgz, CompressionMode.Decompress), folder, ct).ConfigureAwait(false);
            }

            return;
        }

        var name = ImageReference.TryParse(reference) ?? throw new DevContainerException($"feature '{reference}': not a folder (./name), a tarball (.tgz) or an OCI reference (registry/namespace/id:tag)");
        log($"Fetching feature {reference}");
        var tag = name.Digest?.ToString() ?? name.Tag ?? "latest";
        var (body, _) = await artifacts.GetManifestAsync(name, tag, ct).ConfigureAwait(false);
        var manifest = JsonNode.Parse(body) as JsonObject ?? throw new DevContainerException($"feature '{reference}': the manifest is not a JSON object");
        var layer = (manifest["layers"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(l => DevContainerMetadata.Str(l["mediaType"]) == LayerMediaType)
            ?? throw new DevContainerException($"feature '{reference}': the artifact has no layer of media type {LayerMediaType}; is it a feature?");
        var digest = Digest.Parse(DevContainerMetadata.Str(layer["digest"]) ?? "");
        var blob = await artifacts.GetBlobAsync(name, digest, ct).ConfigureAwait(false);
        Stream content = new MemoryStream(blob);
        if (blob.Length > 2 && blob[0] == 0x1f && blob[1] == 0x8b)
        {
            content = new GZipStream(content, CompressionMode.Decompress);
        }

        await ExtractAsync(content, folder, ct).ConfigureAwait(false);
    }

    /// <summary>Extracts a feature's tar into <paramref name="folder"/>: regular files and folders only, names kept inside it.</summary>
    private static async Task ExtractAsync(Stream tar, string folder, CancellationToken ct)
    {
        await using var reader = new TarReader(tar);
        var root = Path.GetFullPath(folder) + "/";
        while (await reader.GetNextEntryAsync(copyData: false, ct).ConfigureAwait(false) is { } entry)
        {
            var target = Path.GetFullPath(Path.Combine(folder, entry.Name.TrimStart('/')));
            if (!target.StartsWith(root, StringComparison.Ordinal) && target + "/" != root)
            {
                throw new DevContainerException($"the feature's archive names a path outside it: {entry.Name}");
            }

            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    Directory.CreateDirectory(target);
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    await entry.ExtractToFileAsync(target, overwrite: true, ct).ConfigureAwait(false);
                    break;
                default:
                    break; // links and devices have no place in a feature
            }
        }
    }

    private static void CopyFolder(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var dir in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(target, Path.GetRelativePath(source, dir)));
        }

        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(target, Path.GetRelativePath(source, file)), overwrite: true);
        }
    }

    /// <summary>
    /// The environment install.sh gets: every option of devcontainer-feature.json with its default, overridden by the
    /// configuration's (a string alone is the <c>version</c> option); names upper-cased, other characters as _.
    /// </summary>
    private static ImmutableDictionary<string, string> Options(string reference, JsonObject json, JsonNode? given)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, option) in json["options"] as JsonObject ?? [])
        {
            if (option?["default"] is { } d)
            {
                values[name] = Value(d);
            }
        }

        switch (given)
        {
            case null:
                break;
            case JsonObject o:
                foreach (var (name, v) in o)
                {
                    if (v is not null)
                    {
                        values[name] = Value(v);
                    }
                }

                break;
            case JsonValue v when v.TryGetValue<string>(out var version):
                values["version"] = version;
                break;
            case JsonValue v when v.TryGetValue<bool>(out _):
                break;
            default:
                throw new DevContainerException($"feature '{reference}': its options must be an object (or a version string), not {given.ToJsonString()}");
        }

        return values.ToImmutableDictionary(kv => EnvName(kv.Key), kv => kv.Value);
    }

    private static string Value(JsonNode n) => n is JsonValue v && v.TryGetValue<string>(out var s) ? s : n.ToJsonString();

    /// <summary>An option's variable name: upper-cased, characters other than letters, digits and _ as _, no leading digit.</summary>
    public static string EnvName(string option) => LeadingDigits().Replace(NonWord().Replace(option, "_"), "_").ToUpperInvariant();

    /// <summary>
    /// The install order: <c>dependsOn</c> and <c>installsAfter</c> (of features present) first; among those free to
    /// go, the ones <c>overrideFeatureInstallOrder</c> names first, in its order, then the configuration's order.
    /// </summary>
    public static ImmutableArray<DevContainerFeature> Order(IReadOnlyList<DevContainerFeature> features, ImmutableArray<string> overrideOrder)
    {
        foreach (var o in overrideOrder)
        {
            if (!features.Any(f => f.Resource == Resource(o) || f.Id == o))
            {
                throw new DevContainerException($"overrideFeatureInstallOrder: '{o}' is not one of the features");
            }
        }

        bool Names(DevContainerFeature f, string r) => f.Resource == Resource(r) || f.Id == r || f.Id == Resource(r).Split('/')[^1];
        var after = features.ToDictionary(f => f, f =>
            ((f.Json["dependsOn"] as JsonObject)?.Select(kv => kv.Key) ?? [])
            .Concat((f.Json["installsAfter"] as JsonArray ?? []).Select(DevContainerMetadata.Str).OfType<string>())
            .SelectMany(r => features.Where(g => g != f && Names(g, r)))
            .ToHashSet());
        int Priority(DevContainerFeature f)
        {
            var i = overrideOrder.Select((o, n) => (o, n)).FirstOrDefault(p => Names(f, p.o), (o: "", n: -1)).n;
            return i < 0 ? int.MaxValue : i;
        }

        var order = new List<DevContainerFeature>();
        var left = features.ToList();
        while (left.Count > 0)
        {
            var next = left.Where(f => after[f].All(order.Contains)).OrderBy(Priority).ThenBy(features.ToList().IndexOf).FirstOrDefault()
                ?? throw new DevContainerException($"features: a cycle of dependsOn/installsAfter among {string.Join(", ", left.Select(f => f.Reference))}");
            order.Add(next);
            left.Remove(next);
        }

        return [.. order];
    }

    /// <summary>
    /// Writes the build context that installs <paramref name="features"/> on <paramref name="baseImage"/>, as the
    /// reference implementation does: a COPY and a RUN of devcontainer-features-install.sh per feature, each feature's
    /// containerEnv as ENV before it, the merged metadata as the devcontainer.metadata label, the image's user restored.
    /// Each feature is its own layers, so the layer cache makes a second build of the same features free.
    /// </summary>
    public static string WriteContext(string folder, string baseImage, string? imageUser, string remoteUser, string containerUser, IReadOnlyList<DevContainerFeature> features, string metadataLabel)
    {
        var context = Path.Combine(folder, "context");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "devcontainer-features.builtin.env"), $"_CONTAINER_USER={containerUser}\n_REMOTE_USER={remoteUser}\n");
        var df = new StringBuilder();
        df.Append(CultureInfo.InvariantCulture, $"FROM {baseImage}\nUSER root\n");
        df.Append("COPY devcontainer-features.builtin.env /tmp/dev-container-features/\n");
        df.Append(CultureInfo.InvariantCulture, $"RUN echo \"_CONTAINER_USER_HOME=$( (command -v getent >/dev/null 2>&1 && getent passwd '{containerUser}' || grep -E '^{containerUser}|^[^:]*:[^:]*:{containerUser}:' /etc/passwd || true) | cut -d: -f6)\" >> /tmp/dev-container-features/devcontainer-features.builtin.env && \\\n");
        df.Append(CultureInfo.InvariantCulture, $"    echo \"_REMOTE_USER_HOME=$( (command -v getent >/dev/null 2>&1 && getent passwd '{remoteUser}' || grep -E '^{remoteUser}|^[^:]*:[^:]*:{remoteUser}:' /etc/passwd || true) | cut -d: -f6)\" >> /tmp/dev-container-features/devcontainer-features.builtin.env\n");
        for (var i = 0; i < features.Count; i++)
        {
            var f = features[i];
            var dir = $"{Regex.Replace(f.Id, "[^A-Za-z0-9_.-]", "_")}_{i}";
            CopyFolder(f.Folder, Path.Combine(context, dir));
            File.WriteAllText(Path.Combine(context, dir, "devcontainer-features.env"), string.Concat(f.Options.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{ShellQuoted(kv.Value)}\"\n")));
            File.WriteAllText(Path.Combine(context, dir, "devcontainer-features-install.sh"), InstallScript(f));
            foreach (var (k, v) in f.Json["containerEnv"] as JsonObject ?? [])
            {
                df.Append(CultureInfo.InvariantCulture, $"ENV {k}=\"{DockerfileQuoted(DevContainerMetadata.Str(v) ?? "", keepVariables: true)}\"\n");
            }

            df.Append(CultureInfo.InvariantCulture, $"COPY {dir} /tmp/dev-container-features/{dir}\n");
            df.Append(CultureInfo.InvariantCulture, $"RUN chmod -R 0755 /tmp/dev-container-features/{dir} && cd /tmp/dev-container-features/{dir} && ./devcontainer-features-install.sh\n");
        }

        df.Append(CultureInfo.InvariantCulture, $"USER {(string.IsNullOrEmpty(imageUser) ? "root" : imageUser)}\n");
        df.Append(CultureInfo.InvariantCulture, $"LABEL {DevContainerMetadata.Label}=\"{DockerfileQuoted(metadataLabel, keepVariables: false)}\"\n");
        File.WriteAllText(Path.Combine(context, "Dockerfile"), df.ToString());
        return context;
    }

    private static string InstallScript(DevContainerFeature f)
    {
        var options = string.Concat(f.Options.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"echo '    {kv.Key}=\"{kv.Value.Replace("'", "'\\''", StringComparison.Ordinal)}\"'\n"));
        string Quote(string s) => s.Replace("'", "'\\''", StringComparison.Ordinal);
        return $"""
            #!/bin/sh
            set -e

            on_exit () {'{'}
            	[ $? -eq 0 ] && exit
            	echo 'ERROR: Feature "{Quote(f.Name)}" ({Quote(f.Reference)}) failed to install!'
            {'}'}

            trap on_exit EXIT

            echo ===========================================================================
            echo 'Feature       : {Quote(f.Name)}'
            echo 'Id            : {Quote(f.Reference)}'
            echo 'Version       : {Quote(f.Version)}'
            echo 'Options       :'
            {options}echo ===========================================================================

            set -a
            . ../devcontainer-features.builtin.env
            . ./devcontainer-features.env
            set +a

            chmod +x ./install.sh
            ./install.sh

            """.Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    private static string ShellQuoted(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("$", "\\$", StringComparison.Ordinal).Replace("`", "\\`", StringComparison.Ordinal);

    private static string DockerfileQuoted(string s, bool keepVariables)
    {
        var q = s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
        return keepVariables ? q : q.Replace("$", "\\$", StringComparison.Ordinal);
    }

    [GeneratedRegex(@"[^\w_]")]
    private static partial Regex NonWord();

    [GeneratedRegex(@"^[\d_]+")]
    private static partial Regex LeadingDigits();
}

/// <summary>Publishing features to an OCI registry, as <c>devcontainer features publish</c> does.</summary>
public static class DevContainerFeatures
{
    /// <summary>
    /// Publishes the feature in <paramref name="folder"/> (devcontainer-feature.json, install.sh and the rest) as the
    /// OCI artifact <paramref name="reference"/> (<c>registry/namespace/id:tag</c>): its files as a tar layer of media
    /// type <c>application/vnd.devcontainers.layer.v1+tar</c>, an empty config of type
    /// <c>application/vnd.devcontainers</c>, and devcontainer-feature.json in the manifest's
    /// <c>dev.containers.metadata</c> annotation. Returns the manifest's digest.
    /// </summary>
    /// <exception cref="DevContainerException">The folder is not a feature.</exception>
    /// <exception cref="ContainerException">The registry refused it.</exception>
    public static async Task<Digest> PublishAsync(string folder, string reference, RegistryOptions? registry = null, CancellationToken cancellationToken = default)
    {
        var json = Path.Combine(folder, "devcontainer-feature.json");
        if (!File.Exists(json) || !File.Exists(Path.Combine(folder, "install.sh")))
        {
            throw new DevContainerException($"{folder}: a feature needs devcontainer-feature.json and install.sh");
        }

        var metadata = JsonNode.Parse(await File.ReadAllTextAsync(json, cancellationToken).ConfigureAwait(false), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
            ?? throw new DevContainerException($"{json}: not a JSON object");
        var id = DevContainerMetadata.Str(metadata["id"]) ?? throw new DevContainerException($"{json}: no id");
        var name = ImageReference.TryParse(reference) ?? throw new DevContainerException($"'{reference}' is not an OCI reference (registry/namespace/id:tag)");
        using var tar = new MemoryStream();
        await using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, "./" + Path.GetRelativePath(folder, file))
                {
                    Mode = File.GetUnixFileMode(file),
                    ModificationTime = DateTimeOffset.UnixEpoch,
                    DataStream = File.OpenRead(file),
                };
                await using (entry.DataStream.ConfigureAwait(false))
                {
                    await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        using var artifacts = new RegistryArtifacts(registry);
        byte[] config = "{}"u8.ToArray();
        var layer = tar.ToArray();
        var configDigest = await artifacts.PushBlobAsync(name, config, cancellationToken).ConfigureAwait(false);
        var layerDigest = await artifacts.PushBlobAsync(name, layer, cancellationToken).ConfigureAwait(false);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = Features.ConfigMediaType, ["digest"] = configDigest.ToString(), ["size"] = config.Length },
            ["layers"] = new JsonArray(new JsonObject
            {
                ["mediaType"] = Features.LayerMediaType,
                ["digest"] = layerDigest.ToString(),
                ["size"] = layer.Length,
                ["annotations"] = new JsonObject { ["org.opencontainers.image.title"] = $"devcontainer-feature-{id}.tgz" },
            }),
            ["annotations"] = new JsonObject
            {
                ["dev.containers.metadata"] = metadata.ToJsonString(),
                ["com.github.package.type"] = "devcontainer_feature",
            },
        };
        return await artifacts.PutManifestAsync(name, name.Tag ?? "latest", System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()), "application/vnd.oci.image.manifest.v1+json", cancellationToken).ConfigureAwait(false);
    }
}
