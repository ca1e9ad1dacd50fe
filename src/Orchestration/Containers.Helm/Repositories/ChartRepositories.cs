using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using Containers.Helm.Charts;
using Containers.Helm.Functions;

namespace Containers.Helm.Repositories;

/// <summary>Where Helm keeps its repository list and index cache (HELM_REPOSITORY_CONFIG, HELM_REPOSITORY_CACHE, XDG defaults).</summary>
/// <param name="RepositoryConfig">repositories.yaml.</param>
/// <param name="RepositoryCache">The directory of NAME-index.yaml files.</param>
public sealed record HelmSettings(string RepositoryConfig, string RepositoryCache)
{
    /// <summary>Helm's defaults, honouring its environment variables.</summary>
    public static HelmSettings FromEnvironment()
    {
        string home = Environment.GetEnvironmentVariable("HOME") ?? "/root";
        string config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } c ? c : Path.Combine(home, ".config");
        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } k ? k : Path.Combine(home, ".cache");
        return new HelmSettings(
            Environment.GetEnvironmentVariable("HELM_REPOSITORY_CONFIG") is { Length: > 0 } rc ? rc : Path.Combine(config, "helm", "repositories.yaml"),
            Environment.GetEnvironmentVariable("HELM_REPOSITORY_CACHE") is { Length: > 0 } rk ? rk : Path.Combine(cache, "helm", "repository"));
    }
}

/// <summary>A repository entry of repositories.yaml.</summary>
/// <param name="Name">Its name (the REPO of REPO/CHART).</param>
/// <param name="Url">Its URL (index.yaml lives under it).</param>
public sealed record ChartRepository(string Name, string Url);

/// <summary>
/// HTTP chart repositories as Helm keeps them: repo add (fetches and caches index.yaml), update, list, remove;
/// REPO/CHART resolved to the newest version matching a constraint and downloaded, its digest checked; and
/// helm package and helm repo index for publishing one. Provenance files (.prov) are not verified.
/// </summary>
public sealed class ChartRepositories(HelmSettings settings, HttpClient http)
{
    /// <summary>The repositories configured.</summary>
    public List<ChartRepository> List()
    {
        if (!File.Exists(settings.RepositoryConfig))
        {
            return [];
        }

        var doc = GoYaml.Parse(File.ReadAllText(settings.RepositoryConfig)) as IDictionary<string, object?>;
        return (doc?.TryGetValue("repositories", out var r) == true ? r as List<object?> ?? [] : [])
            .OfType<IDictionary<string, object?>>()
            .Select(e => new ChartRepository(Cast.Str(e.TryGetValue("name", out var n) ? n : ""), Cast.Str(e.TryGetValue("url", out var u) ? u : ""))).ToList();
    }

    /// <summary>helm repo add: checks the index is reachable, caches it, records the repository.</summary>
    /// <exception cref="HelmException">The name exists with another URL, or the index cannot be read.</exception>
    public async Task AddAsync(string name, string url, bool forceUpdate = false, CancellationToken ct = default)
    {
        var repos = List();
        if (repos.FirstOrDefault(r => r.Name == name) is { } existing)
        {
            if (existing.Url.TrimEnd('/') == url.TrimEnd('/') && !forceUpdate)
            {
                return; // "already exists with the same configuration, skipping"
            }

            if (!forceUpdate)
            {
                throw new HelmException($"repository name ({name}) already exists, please specify a different name");
            }

            repos.Remove(existing);
        }

        await FetchIndexAsync(new ChartRepository(name, url), ct).ConfigureAwait(false);
        repos.Add(new ChartRepository(name, url));
        Save(repos);
    }

    /// <summary>helm repo update: re-fetches every (or the named) repository's index.</summary>
    public async Task UpdateAsync(IReadOnlyCollection<string>? names = null, CancellationToken ct = default)
    {
        var repos = List();
        if (repos.Count == 0)
        {
            throw new HelmException("no repositories found. You must add one before updating");
        }

        foreach (var repo in repos.Where(r => names is null || names.Count == 0 || names.Contains(r.Name)))
        {
            await FetchIndexAsync(repo, ct).ConfigureAwait(false);
        }
    }

    /// <summary>helm repo remove.</summary>
    /// <exception cref="HelmException">No such repository.</exception>
    public void Remove(string name)
    {
        var repos = List();
        if (repos.RemoveAll(r => r.Name == name) == 0)
        {
            throw new HelmException($"no repo named \"{name}\" found");
        }

        Save(repos);
        File.Delete(IndexPath(name));
    }

    private string IndexPath(string name) => Path.Combine(settings.RepositoryCache, name + "-index.yaml");

    private async Task FetchIndexAsync(ChartRepository repo, CancellationToken ct)
    {
        string url = repo.Url.TrimEnd('/') + "/index.yaml";
        string text;
        try
        {
            text = await http.GetStringAsync(url, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new HelmException($"looks like \"{repo.Url}\" is not a valid chart repository or cannot be reached: {e.Message}", e);
        }

        if (GoYaml.Parse(text) is not IDictionary<string, object?> index || !index.ContainsKey("entries"))
        {
            throw new HelmException($"looks like \"{repo.Url}\" is not a valid chart repository or cannot be reached: no API version specified");
        }

        Directory.CreateDirectory(settings.RepositoryCache);
        string tmp = IndexPath(repo.Name) + ".tmp";
        await File.WriteAllTextAsync(tmp, text, ct).ConfigureAwait(false);
        File.Move(tmp, IndexPath(repo.Name), overwrite: true);
    }

    private void Save(List<ChartRepository> repos)
    {
        var doc = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["apiVersion"] = "",
            ["generated"] = "0001-01-01T00:00:00Z",
            ["repositories"] = repos.Select(r => (object?)new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["caFile"] = "", ["certFile"] = "", ["insecure_skip_tls_verify"] = false, ["keyFile"] = "", ["name"] = r.Name,
                ["pass_credentials_all"] = false, ["password"] = "", ["url"] = r.Url, ["username"] = "",
            }).ToList(),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(settings.RepositoryConfig))!);
        File.WriteAllText(settings.RepositoryConfig, GoYaml.Serialize(doc));
    }

    /// <summary>Resolves REPO/CHART (newest version matching <paramref name="version"/>, stable only unless <paramref name="devel"/>) and downloads it.</summary>
    /// <exception cref="HelmException">No such repository, chart or version, or the download's digest is wrong.</exception>
    public async Task<(Chart Chart, byte[] Archive)> FetchAsync(string reference, string? version, bool devel = false, CancellationToken ct = default)
    {
        int slash = reference.IndexOf('/', StringComparison.Ordinal);
        string repoName = reference[..slash], chartName = reference[(slash + 1)..];
        var repo = List().FirstOrDefault(r => r.Name == repoName) ?? throw new HelmException($"repo {repoName} not found");
        if (!File.Exists(IndexPath(repoName)))
        {
            await FetchIndexAsync(repo, ct).ConfigureAwait(false);
        }

        var index = GoYaml.Parse(await File.ReadAllTextAsync(IndexPath(repoName), ct).ConfigureAwait(false)) as IDictionary<string, object?>;
        var entries = (index?.TryGetValue("entries", out var e) == true ? e as IDictionary<string, object?> : null)?.TryGetValue(chartName, out var list) == true ? list as List<object?> : null;
        if (entries is null || entries.Count == 0)
        {
            throw new HelmException($"chart \"{chartName}\" not found in {repoName} index. (try 'helm repo update')");
        }

        var candidates = entries.OfType<IDictionary<string, object?>>()
            .Select(x => (Entry: x, Version: GoSemver.Parse(Cast.Str(x.TryGetValue("version", out var v) ? v : ""))))
            .Where(x => x.Version is not null && (devel || x.Version.Prerelease.Length == 0 || version is not null))
            .Where(x => version is null || version.Length == 0 || Matches(version, x.Version!))
            .OrderByDescending(x => x.Version!).ToList();
        if (candidates.Count == 0)
        {
            throw new HelmException($"chart \"{chartName}\" matching {version} not found in {repoName} index. (try 'helm repo update')");
        }

        var entry = candidates[0].Entry;
        string url = Cast.Str((entry.TryGetValue("urls", out var urls) ? urls as List<object?> : null)?.FirstOrDefault());
        var absolute = Uri.TryCreate(url, UriKind.Absolute, out var abs) ? abs : new Uri(new Uri(repo.Url.TrimEnd('/') + "/"), url);
        byte[] archive = await http.GetByteArrayAsync(absolute, ct).ConfigureAwait(false);
        if (entry.TryGetValue("digest", out var digest) && digest is string expected && expected.Length > 0 && Convert.ToHexStringLower(SHA256.HashData(archive)) != expected)
        {
            throw new HelmException($"{absolute}: digest mismatch: the index says sha256:{expected}");
        }

        using var ms = new MemoryStream(archive);
        return (Chart.LoadArchive(ms, absolute.ToString()), archive);
    }

    private static bool Matches(string constraint, GoSemver version)
    {
        try
        {
            return GoSemver.Satisfies(constraint, version.ToString());
        }
        catch (Templates.TemplateFunctionException)
        {
            return version.Original == constraint;
        }
    }

    /// <summary>helm package: the chart directory as NAME-VERSION.tgz (entries under NAME/, .helmignore honoured) in <paramref name="destination"/>.</summary>
    /// <exception cref="ChartException">The directory is not a valid chart.</exception>
    public static string Package(string chartDir, string destination)
    {
        var chart = Chart.Load(chartDir);
        if (!Directory.Exists(chartDir))
        {
            throw new ChartException($"{chartDir}: helm package takes a chart directory");
        }

        Directory.CreateDirectory(destination);
        string target = Path.Combine(Path.GetFullPath(destination), $"{chart.Name}-{chart.Metadata.Version}.tgz");
        string root = Path.GetFullPath(chartDir);
        var ignore = HelmIgnore.Load(Path.Combine(root, ".helmignore"));
        string tmp = target + ".tmp";
        using (var file = File.Create(tmp))
        using (var gzip = new GZipStream(file, CompressionLevel.Optimal))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (string path in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string rel = Path.GetRelativePath(root, path).Replace('\\', '/');
                var parts = rel.Split('/');
                if (ignore.Ignored(rel, isDirectory: false) || Enumerable.Range(1, parts.Length - 1).Any(i => ignore.Ignored(string.Join('/', parts.Take(i)), isDirectory: true)))
                {
                    continue;
                }

                var entry = new PaxTarEntry(TarEntryType.RegularFile, chart.Name + "/" + rel) { Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, ModificationTime = File.GetLastWriteTimeUtc(path) };
                using var data = File.OpenRead(path);
                entry.DataStream = data;
                tar.WriteEntry(entry);
            }
        }

        File.Move(tmp, target, overwrite: true);
        return target;
    }

    /// <summary>helm repo index: index.yaml for the .tgz charts of <paramref name="dir"/>, their URLs under <paramref name="url"/>.</summary>
    public static string Index(string dir, string? url, TimeProvider? time = null)
    {
        string created = Templates.GoTime.Rfc3339Nano((time ?? TimeProvider.System).GetUtcNow());
        var entries = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (string tgz in Directory.EnumerateFiles(dir, "*.tgz").Order(StringComparer.Ordinal))
        {
            byte[] bytes = File.ReadAllBytes(tgz);
            using var ms = new MemoryStream(bytes);
            var chart = Chart.LoadArchive(ms, tgz);
            var entry = (Dictionary<string, object?>)GoJson.Convert(System.Text.Json.JsonDocument.Parse(chart.Metadata.ToJson().ToJsonString()).RootElement)!;
            entry["created"] = created;
            entry["digest"] = Convert.ToHexStringLower(SHA256.HashData(bytes));
            entry["urls"] = new List<object?> { url is null ? Path.GetFileName(tgz) : url.TrimEnd('/') + "/" + Path.GetFileName(tgz) };
            if (!entries.TryGetValue(chart.Name, out var list))
            {
                entries[chart.Name] = list = new List<object?>();
            }

            ((List<object?>)list!).Add(entry);
        }

        var index = new Dictionary<string, object?>(StringComparer.Ordinal) { ["apiVersion"] = "v1", ["entries"] = entries, ["generated"] = created };
        string path = Path.Combine(dir, "index.yaml");
        File.WriteAllText(path, GoYaml.Serialize(index));
        return path;
    }
}
