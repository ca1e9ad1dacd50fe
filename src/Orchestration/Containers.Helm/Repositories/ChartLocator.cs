using Containers.Helm.Charts;

namespace Containers.Helm.Repositories;

/// <summary>Finds a chart as helm install does: a directory or .tgz path, an http(s) URL, oci://..., or REPO/CHART.</summary>
public sealed class ChartLocator(HelmSettings settings, HttpClient http, Containers.Images.Registry.RegistryOptions? registry = null)
{
    /// <summary>The HTTP repositories.</summary>
    public ChartRepositories Repositories { get; } = new(settings, http);

    /// <summary>Loads the chart <paramref name="reference"/> (at <paramref name="version"/> for repositories and OCI).</summary>
    /// <exception cref="HelmException">It cannot be found.</exception>
    /// <exception cref="ChartException">It is not a valid chart.</exception>
    public async Task<Chart> LocateAsync(string reference, string? version = null, bool devel = false, CancellationToken ct = default) =>
        (await FetchAsync(reference, version, devel, ct).ConfigureAwait(false)).Chart;

    /// <summary>Loads the chart and returns its archive when it came as one (null for a directory).</summary>
    public async Task<(Chart Chart, byte[]? Archive)> FetchAsync(string reference, string? version = null, bool devel = false, CancellationToken ct = default)
    {
        if (reference.StartsWith("oci://", StringComparison.Ordinal))
        {
            using var oci = new OciCharts(registry);
            return await oci.PullAsync(reference, version, ct).ConfigureAwait(false);
        }

        if (Directory.Exists(reference))
        {
            return (Chart.Load(reference), null);
        }

        if (File.Exists(reference))
        {
            byte[] bytes = await File.ReadAllBytesAsync(reference, ct).ConfigureAwait(false);
            using var ms = new MemoryStream(bytes);
            return (Chart.LoadArchive(ms, reference), bytes);
        }

        if (reference.StartsWith("http://", StringComparison.Ordinal) || reference.StartsWith("https://", StringComparison.Ordinal))
        {
            byte[] bytes = await http.GetByteArrayAsync(reference, ct).ConfigureAwait(false);
            using var ms = new MemoryStream(bytes);
            return (Chart.LoadArchive(ms, reference), bytes);
        }

        if (reference.Contains('/', StringComparison.Ordinal) && !reference.StartsWith('.') && !reference.StartsWith('/'))
        {
            return await Repositories.FetchAsync(reference, version, devel, ct).ConfigureAwait(false);
        }

        throw new HelmException($"path \"{reference}\" not found");
    }
}
