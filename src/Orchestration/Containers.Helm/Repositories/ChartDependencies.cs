using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Containers.Helm.Charts;
using Containers.Helm.Functions;

namespace Containers.Helm.Repositories;

/// <summary>One row of <c>helm dependency list</c>.</summary>
/// <param name="Name">The dependency's name.</param>
/// <param name="Version">The version constraint Chart.yaml asks for.</param>
/// <param name="Repository">Where it comes from.</param>
/// <param name="Status">ok, missing, or wrong version.</param>
public sealed record DependencyStatus(string Name, string Version, string Repository, string Status);

/// <summary>
/// <c>helm dependency list|update|build</c>: the charts Chart.yaml depends on, fetched into charts/ from HTTP
/// repositories (by URL or @NAME), OCI registries and file:// directories, with Chart.lock recording the versions.
/// </summary>
public sealed class ChartDependencies(ChartLocator locator, TimeProvider? time = null)
{
    private readonly TimeProvider time = time ?? TimeProvider.System;

    /// <summary>helm dependency list: each dependency and whether charts/ holds a matching version.</summary>
    /// <exception cref="ChartException">The directory is not a chart.</exception>
    public static List<DependencyStatus> List(string chartDir)
    {
        var chart = Chart.Load(chartDir);
        return chart.Metadata.Dependencies.Select(d =>
        {
            var present = chart.Dependencies.FirstOrDefault(c => c.Name == d.Name);
            string status = present is null ? "missing"
                : d.Version.Length == 0 || Satisfies(d.Version, present.Metadata.Version) ? "ok" : "wrong version";
            return new DependencyStatus(d.Name, d.Version, d.Repository, status);
        }).ToList();
    }

    /// <summary>
    /// helm dependency update (<paramref name="useLock"/> false: the newest versions matching Chart.yaml) or build
    /// (true: the versions Chart.lock records): the archives written to charts/, Chart.lock written.
    /// </summary>
    /// <exception cref="HelmException">A dependency cannot be found or fetched.</exception>
    public async Task<List<(string Name, string Version, string Repository)>> UpdateAsync(string chartDir, bool useLock, CancellationToken ct = default)
    {
        var chart = Chart.Load(chartDir);
        var locked = new Dictionary<string, string>(StringComparer.Ordinal);
        string lockPath = Path.Combine(chartDir, "Chart.lock");
        if (useLock)
        {
            if (!File.Exists(lockPath))
            {
                throw new HelmException($"{chartDir}: no Chart.lock: run helm dependency update first");
            }

            var doc = GoYaml.Parse(await File.ReadAllTextAsync(lockPath, ct).ConfigureAwait(false)) as IDictionary<string, object?>;
            foreach (var entry in (doc?.TryGetValue("dependencies", out var deps) == true ? deps as List<object?> : null) ?? [])
            {
                if (entry is IDictionary<string, object?> e && e.TryGetValue("name", out var n) && e.TryGetValue("version", out var v))
                {
                    locked[Cast.Str(n)] = Cast.Str(v);
                }
            }
        }

        string charts = Path.Combine(chartDir, "charts");
        Directory.CreateDirectory(charts);
        var resolved = new List<(string, string, string)>();
        foreach (var dep in chart.Metadata.Dependencies)
        {
            string constraint = useLock && locked.TryGetValue(dep.Name, out var exact) ? exact : dep.Version;
            var (fetched, archive) = await FetchAsync(chartDir, dep, constraint, ct).ConfigureAwait(false);
            // the old archives of this dependency go: one version of each in charts/
            foreach (string old in Directory.EnumerateFiles(charts, dep.Name + "-*.tgz"))
            {
                File.Delete(old);
            }

            await File.WriteAllBytesAsync(Path.Combine(charts, $"{fetched.Name}-{fetched.Metadata.Version}.tgz"), archive, ct).ConfigureAwait(false);
            resolved.Add((dep.Name, fetched.Metadata.Version, dep.Repository));
        }

        if (!useLock)
        {
            await File.WriteAllTextAsync(lockPath, Lock(chart, resolved), ct).ConfigureAwait(false);
        }

        return resolved;
    }

    private async Task<(Chart Chart, byte[] Archive)> FetchAsync(string chartDir, ChartDependency dep, string constraint, CancellationToken ct)
    {
        string repository = dep.Repository;
        if (repository.StartsWith("file://", StringComparison.Ordinal))
        {
            string path = Path.GetFullPath(Path.Combine(chartDir, repository["file://".Length..]));
            string packaged = ChartRepositories.Package(path, Path.Combine(Path.GetTempPath(), "helm-dep-" + Guid.NewGuid().ToString("N")[..8]));
            try
            {
                byte[] bytes = await File.ReadAllBytesAsync(packaged, ct).ConfigureAwait(false);
                using var ms = new MemoryStream(bytes);
                return (Chart.LoadArchive(ms, packaged), bytes);
            }
            finally
            {
                Directory.Delete(Path.GetDirectoryName(packaged)!, recursive: true);
            }
        }

        if (repository.StartsWith("oci://", StringComparison.Ordinal))
        {
            var (c, a) = await locator.FetchAsync(repository.TrimEnd('/') + "/" + dep.Name, constraint, ct: ct).ConfigureAwait(false);
            return (c, a!);
        }

        // @NAME or alias:NAME name a configured repository; a URL finds the one configured with it
        string? name = repository.StartsWith('@') ? repository[1..] : repository.StartsWith("alias:", StringComparison.Ordinal) ? repository["alias:".Length..]
            : locator.Repositories.List().FirstOrDefault(r => r.Url.TrimEnd('/') == repository.TrimEnd('/'))?.Name;
        if (name is null)
        {
            throw new HelmException($"no repository definition for {repository}. Please add the missing repos via 'helm repo add'");
        }

        var (chart, archive) = await locator.Repositories.FetchAsync(name + "/" + dep.Name, constraint.Length == 0 ? null : constraint, ct: ct).ConfigureAwait(false);
        return (chart, archive);
    }

    private string Lock(Chart chart, List<(string Name, string Version, string Repository)> resolved)
    {
        var dependencies = resolved.Select(r => (object?)new Dictionary<string, object?>(StringComparer.Ordinal) { ["name"] = r.Name, ["repository"] = r.Repository, ["version"] = r.Version }).ToList();
        var requested = chart.Metadata.Dependencies.Select(d => d.Name + "@" + d.Version + "@" + d.Repository);
        string digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", requested) + "\n" + GoJson.Serialize(dependencies))));
        var doc = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["dependencies"] = dependencies,
            ["digest"] = digest,
            ["generated"] = Templates.GoTime.Rfc3339Nano(time.GetUtcNow()),
        };
        return GoYaml.Serialize(doc);
    }

    private static bool Satisfies(string constraint, string version)
    {
        try
        {
            return GoSemver.Satisfies(constraint, version);
        }
        catch (Templates.TemplateFunctionException)
        {
            return constraint == version;
        }
    }
}
