using System.Runtime.CompilerServices;
using Containers.Helm.Charts;
using Containers.Helm.Repositories;
using Containers.Orchestration;

namespace Containers.Helm;

/// <summary><c>cluster.Helm</c>: Helm against a cluster running in this process (as its admin, over its API).</summary>
public static class ClusterHelmExtensions
{
    private static readonly ConditionalWeakTable<Cluster, HelmClient> Clients = [];

    extension(Cluster cluster)
    {
        /// <summary>The Helm client of this cluster (one per cluster, disposed with the process).</summary>
        public HelmClient Helm => Clients.GetValue(cluster, c => new HelmClient(new Releases.KubeClient(c.CreateAdminHttpClient(), c.Url)));
    }

    /// <summary>
    /// helm upgrade --install NAME CHART: <paramref name="chart"/> is a directory, a .tgz, a URL, oci://... or
    /// REPO/CHART (repositories from Helm's settings).
    /// </summary>
    /// <exception cref="HelmException">The chart cannot be found, or the release fails.</exception>
    /// <exception cref="ChartException">The chart or values are wrong.</exception>
    public static async Task<Releases.Release> UpgradeInstallAsync(this HelmClient helm, string name, string chart, IDictionary<string, object?>? values = null, HelmOptions? options = null, string? version = null, CancellationToken ct = default)
    {
        using var http = new HttpClient();
        var locator = new ChartLocator(HelmSettings.FromEnvironment(), http);
        var loaded = await locator.LocateAsync(chart, version, ct: ct).ConfigureAwait(false);
        var given = values is null ? new Dictionary<string, object?>(StringComparer.Ordinal) : new Dictionary<string, object?>(values, StringComparer.Ordinal);
        return await helm.UpgradeAsync(name, loaded, given, (options ?? new HelmOptions()) with { Install = true }, ct).ConfigureAwait(false);
    }
}
