using System.Text.Json.Nodes;
using Tomlyn.Serialization;

namespace Containers.Images.Registry;

/// <summary>
/// Where a pull goes: the mirrors of the reference's registry in order, then the registry itself (or the location it is
/// remapped to), from <see cref="RegistryOptions.Mirrors"/>, containers/image's registries.conf (v2: <c>[[registry]]</c>
/// with <c>prefix</c>, <c>location</c>, <c>insecure</c>, <c>blocked</c> and <c>[[registry.mirror]]</c>) and docker's
/// daemon.json (<c>registry-mirrors</c>, for docker.io; <c>insecure-registries</c>). The longest matching prefix wins,
/// as in containers/image. Pushes never go to mirrors.
/// </summary>
internal sealed class RegistrySources
{
    private readonly List<Entry> entries;

    private RegistrySources(List<Entry> entries, ImmutableArray<string> insecure)
    {
        this.entries = entries;
        Insecure = insecure;
    }

    /// <summary>Registries (host[:port]) the files mark insecure, mirrors included.</summary>
    public ImmutableArray<string> Insecure { get; }

    /// <summary>Reads the options and the files they name. Throws <see cref="RegistryException"/> naming the file for a malformed one.</summary>
    public static RegistrySources Load(RegistryOptions options)
    {
        var entries = new List<Entry>();
        var insecure = new List<string>();
        foreach (var (prefix, mirrors) in options.Mirrors)
        {
            entries.Add(new Entry(prefix, prefix, false, false, [.. mirrors.Select(m => new Mirror(StripScheme(m, out var http), http))], "EngineOptions.Registry.Mirrors"));
        }

        if (options.RegistriesConfPath is { } conf && File.Exists(conf))
        {
            ReadRegistriesConf(conf, entries);
        }

        if (options.DaemonConfigPath is { } daemon && File.Exists(daemon))
        {
            ReadDaemonJson(daemon, entries, insecure);
        }

        insecure.AddRange(entries.Where(e => e.Insecure).Select(e => Host(e.Location)));
        insecure.AddRange(entries.SelectMany(e => e.Mirrors).Where(m => m.Insecure).Select(m => Host(m.Location)));
        return new RegistrySources(entries, [.. insecure.Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// The references to try for a pull of <paramref name="reference"/>, mirrors first; the last one is the registry.
    /// Throws <see cref="RegistryException"/> when a configuration blocks the registry.
    /// </summary>
    public IReadOnlyList<ImageReference> For(ImageReference reference)
    {
        var name = reference.Name;
        var matches = entries.Where(e => name == e.Prefix || name.StartsWith(e.Prefix + "/", StringComparison.Ordinal)).ToArray();
        if (matches.Length == 0)
        {
            return [reference];
        }

        var longest = matches.Max(e => e.Prefix.Length);
        var chosen = matches.Where(e => e.Prefix.Length == longest).ToArray();
        if (chosen.FirstOrDefault(e => e.Blocked) is { } blocked)
        {
            throw new RegistryException($"pull {reference}: {blocked.Prefix} is blocked in {blocked.Source}", 0);
        }

        var rest = name[longest..];
        var location = chosen.Select(e => e.Location).LastOrDefault(l => l != chosen[0].Prefix) ?? chosen[0].Location;
        var sources = chosen.SelectMany(e => e.Mirrors).Select(m => Rewrite(reference, m.Location + rest)).ToList();
        sources.Add(location == chosen[0].Prefix ? reference : Rewrite(reference, location + rest));
        return [.. sources.Distinct()];
    }

    private static ImageReference Rewrite(ImageReference reference, string name) =>
        ImageReference.Parse(name + (reference.Tag is { } t ? ":" + t : "") + (reference.Digest is { } d ? "@" + d : ""));

    private static string Host(string location) => location.Split('/')[0];

    private static string StripScheme(string location, out bool http)
    {
        http = location.StartsWith("http://", StringComparison.OrdinalIgnoreCase);
        var i = location.IndexOf("://", StringComparison.Ordinal);
        return (i >= 0 ? location[(i + 3)..] : location).TrimEnd('/');
    }

    private static void ReadRegistriesConf(string path, List<Entry> entries)
    {
        RegistriesConf doc;
        try
        {
            doc = Tomlyn.TomlSerializer.Deserialize(File.ReadAllText(path), RegistriesTomlContext.Default.RegistriesConf) ?? new RegistriesConf();
        }
        catch (Exception e) when (e is Tomlyn.TomlException or IOException or InvalidOperationException or FormatException)
        {
            throw new RegistryException($"{path}: {e.Message}", 0, e);
        }

        var n = 0;
        foreach (var r in doc.Registry ?? [])
        {
            n++;
            var prefix = r.Prefix ?? r.Location ?? throw new RegistryException($"{path}: [[registry]] #{n} has neither prefix nor location", 0);
            var mirrors = (r.Mirror ?? []).Select(m => new Mirror(
                StripScheme(m.Location ?? throw new RegistryException($"{path}: registry {prefix}: a [[registry.mirror]] has no location", 0), out var http),
                http || m.Insecure)).ToImmutableArray();
            entries.Add(new Entry(prefix.TrimEnd('/'), (r.Location ?? prefix).TrimEnd('/'), r.Insecure, r.Blocked, mirrors, path));
        }
    }

    private static void ReadDaemonJson(string path, List<Entry> entries, List<string> insecure)
    {
        JsonNode? doc;
        try
        {
            doc = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new RegistryException($"{path}: {e.Message}", 0, e);
        }

        if (doc?["registry-mirrors"] is JsonArray mirrors)
        {
            entries.Add(new Entry(ImageReference.DockerHub, ImageReference.DockerHub, false, false,
                [.. mirrors.Select(m => m?.GetValueKind() == JsonValueKind.String ? (string)m! : throw new RegistryException($"{path}: registry-mirrors holds strings (URLs)", 0))
                    .Select(m => new Mirror(StripScheme(m, out var http), http))], path));
        }

        if (doc?["insecure-registries"] is JsonArray hosts)
        {
            insecure.AddRange(hosts.Select(h => h?.GetValueKind() == JsonValueKind.String ? (string)h! : throw new RegistryException($"{path}: insecure-registries holds strings", 0)));
        }
    }

    private sealed record Mirror(string Location, bool Insecure);

    private sealed record Entry(string Prefix, string Location, bool Insecure, bool Blocked, ImmutableArray<Mirror> Mirrors, string Source);
}

/// <summary>registries.conf v2, the parts read here (other keys are ignored).</summary>
internal sealed class RegistriesConf
{
    [TomlPropertyName("registry")]
    public List<RegistryTable>? Registry { get; set; }
}

/// <summary>A <c>[[registry]]</c> table.</summary>
internal sealed class RegistryTable
{
    [TomlPropertyName("prefix")]
    public string? Prefix { get; set; }

    [TomlPropertyName("location")]
    public string? Location { get; set; }

    [TomlPropertyName("insecure")]
    public bool Insecure { get; set; }

    [TomlPropertyName("blocked")]
    public bool Blocked { get; set; }

    [TomlPropertyName("mirror")]
    public List<MirrorTable>? Mirror { get; set; }
}

/// <summary>A <c>[[registry.mirror]]</c> table.</summary>
internal sealed class MirrorTable
{
    [TomlPropertyName("location")]
    public string? Location { get; set; }

    [TomlPropertyName("insecure")]
    public bool Insecure { get; set; }
}

/// <summary>Source-generated TOML metadata (NativeAOT: no reflection).</summary>
[TomlSerializable(typeof(RegistriesConf))]
internal sealed partial class RegistriesTomlContext : TomlSerializerContext;
