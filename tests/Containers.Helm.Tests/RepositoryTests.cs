using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Containers.Helm.Charts;
using Containers.Helm.Repositories;
using Containers.Tests;
using Containers.Tests.Images;

namespace Containers.Helm.Tests;

/// <summary>
/// Where charts come from: packaged archives, an HTTP chart repository served here (helm repo index, add, update,
/// list, remove; version constraints; digests checked), and an OCI registry (Debian's docker-registry; push and
/// pull as Helm 3.8+ stores charts, checked with skopeo).
/// </summary>
public sealed class RepositoryTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("helm-repo-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private (string V1, string V2) PackageTwoVersions(string published)
    {
        string chart = ChartScaffold.Create("web", Path.Combine(root, "src"));
        string v1 = ChartRepositories.Package(chart, published);
        File.WriteAllText(Path.Combine(chart, "Chart.yaml"), File.ReadAllText(Path.Combine(chart, "Chart.yaml")).Replace("version: 0.1.0", "version: 0.2.0", StringComparison.Ordinal));
        string v2 = ChartRepositories.Package(chart, published);
        return (v1, v2);
    }

    [Fact]
    public async Task An_http_chart_repository_is_indexed_added_resolved_by_version_and_removed()
    {
        string published = Path.Combine(root, "published");
        var (v1, v2) = PackageTwoVersions(published);
        Assert.Equal("web-0.1.0.tgz", Path.GetFileName(v1));
        using var server = new StaticFileServer(published);
        string url = $"http://127.0.0.1:{server.Port}/charts";
        Directory.CreateDirectory(Path.Combine(published, "charts"));
        File.Move(v1, Path.Combine(published, "charts", Path.GetFileName(v1)));
        File.Move(v2, Path.Combine(published, "charts", Path.GetFileName(v2)));
        ChartRepositories.Index(Path.Combine(published, "charts"), url);

        var settings = new HelmSettings(Path.Combine(root, "config", "repositories.yaml"), Path.Combine(root, "cache"));
        using var http = new HttpClient();
        var repos = new ChartRepositories(settings, http);
        await repos.AddAsync("local", url);
        Assert.Equal([new ChartRepository("local", url)], repos.List());
        Assert.True(File.Exists(Path.Combine(root, "cache", "local-index.yaml")));
        Assert.Contains("name: local", await File.ReadAllTextAsync(settings.RepositoryConfig), StringComparison.Ordinal);

        var (newest, _) = await repos.FetchAsync("local/web", null);
        Assert.Equal("0.2.0", newest.Metadata.Version);
        var (older, archive) = await repos.FetchAsync("local/web", "~0.1.0");
        Assert.Equal("0.1.0", older.Metadata.Version);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(published, "charts", "web-0.1.0.tgz")), archive);
        Assert.Contains(older.Templates, t => t.Name == "templates/deployment.yaml");

        Assert.Equal("chart \"nope\" not found in local index. (try 'helm repo update')", (await Assert.ThrowsAsync<HelmException>(() => repos.FetchAsync("local/nope", null))).Message);
        Assert.Equal("repo other not found", (await Assert.ThrowsAsync<HelmException>(() => repos.FetchAsync("other/web", null))).Message);
        Assert.Equal("repository name (local) already exists, please specify a different name", (await Assert.ThrowsAsync<HelmException>(() => repos.AddAsync("local", url + "/elsewhere"))).Message);

        // a tampered archive: its digest no longer matches the index
        await File.WriteAllBytesAsync(Path.Combine(published, "charts", "web-0.2.0.tgz"), await File.ReadAllBytesAsync(Path.Combine(published, "charts", "web-0.1.0.tgz")));
        Assert.Contains("digest mismatch", (await Assert.ThrowsAsync<HelmException>(() => repos.FetchAsync("local/web", "0.2.0"))).Message, StringComparison.Ordinal);

        await repos.UpdateAsync();
        repos.Remove("local");
        Assert.Empty(repos.List());
        Assert.False(File.Exists(Path.Combine(root, "cache", "local-index.yaml")));
    }

    [Fact]
    public async Task Charts_are_pushed_to_and_pulled_from_an_oci_registry_as_helm_stores_them()
    {
        using var registry = new TestRegistry();
        string published = Path.Combine(root, "published");
        var (v1, v2) = PackageTwoVersions(published);
        using var oci = new OciCharts();
        var (reference, digest) = await oci.PushAsync(v1, $"oci://{registry.Host}/charts");
        Assert.Equal($"{registry.Host}/charts/web:0.1.0", reference);
        Assert.StartsWith("sha256:", digest, StringComparison.Ordinal);
        await oci.PushAsync(v2, $"oci://{registry.Host}/charts");

        // skopeo sees Helm's media types
        var psi = new ProcessStartInfo("skopeo", ["inspect", "--raw", "--tls-verify=false", $"docker://{registry.Host}/charts/web:0.1.0"]) { RedirectStandardOutput = true };
        using (var skopeo = Process.Start(psi)!)
        {
            var manifest = JsonNode.Parse(await skopeo.StandardOutput.ReadToEndAsync())!;
            await skopeo.WaitForExitAsync();
            Assert.Equal(OciCharts.ConfigMediaType, (string?)manifest["config"]!["mediaType"]);
            Assert.Equal(OciCharts.ChartMediaType, (string?)manifest["layers"]![0]!["mediaType"]);
        }

        var (pulled, archive) = await oci.PullAsync($"oci://{registry.Host}/charts/web", "0.1.0");
        Assert.Equal(await File.ReadAllBytesAsync(v1), archive);
        Assert.Equal("0.1.0", pulled.Metadata.Version);
        var (newest, _) = await oci.PullAsync($"oci://{registry.Host}/charts/web", null);
        Assert.Equal("0.2.0", newest.Metadata.Version);
        var (matching, _) = await oci.PullAsync($"oci://{registry.Host}/charts/web", "<0.2.0");
        Assert.Equal("0.1.0", matching.Metadata.Version);
        await Assert.ThrowsAnyAsync<Exception>(() => oci.PullAsync($"oci://{registry.Host}/charts/web", "9.9.9"));
    }

    [Fact]
    public async Task Dependencies_are_fetched_from_a_repository_and_a_directory_locked_and_rebuilt()
    {
        string published = Path.Combine(root, "published");
        PackageTwoVersions(published);
        ChartRepositories.Index(published, null);
        using var server = new StaticFileServer(published);
        string url = $"http://127.0.0.1:{server.Port}";
        var settings = new HelmSettings(Path.Combine(root, "config", "repositories.yaml"), Path.Combine(root, "cache"));
        using var http = new HttpClient();
        var locator = new ChartLocator(settings, http);
        await locator.Repositories.AddAsync("local", url);

        // a parent: web (~0.1.0) from the repository by its URL, and a chart from a directory beside it
        string library = Path.Combine(root, "lib");
        Directory.CreateDirectory(Path.Combine(library, "templates"));
        File.WriteAllText(Path.Combine(library, "Chart.yaml"), "apiVersion: v2\nname: lib\nversion: 2.0.0\n");
        File.WriteAllText(Path.Combine(library, "templates", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-lib\n");
        string parent = Path.Combine(root, "parent");
        Directory.CreateDirectory(Path.Combine(parent, "templates"));
        File.WriteAllText(Path.Combine(parent, "Chart.yaml"), $"apiVersion: v2\nname: parent\nversion: 1.0.0\ndependencies:\n- name: web\n  version: ~0.1.0\n  repository: {url}\n- name: lib\n  version: 2.x\n  repository: file://../lib\n");
        Assert.Equal(["web missing", "lib missing"], ChartDependencies.List(parent).Select(d => d.Name + " " + d.Status));

        var dependencies = new ChartDependencies(locator);
        var resolved = await dependencies.UpdateAsync(parent, useLock: false);
        Assert.Equal([("web", "0.1.0", url), ("lib", "2.0.0", "file://../lib")], resolved);
        Assert.True(File.Exists(Path.Combine(parent, "charts", "web-0.1.0.tgz")));
        Assert.True(File.Exists(Path.Combine(parent, "charts", "lib-2.0.0.tgz")));
        Assert.Contains("- name: web\n  repository: " + url + "\n  version: 0.1.0\n", File.ReadAllText(Path.Combine(parent, "Chart.lock")), StringComparison.Ordinal);
        Assert.Equal(["web ok", "lib ok"], ChartDependencies.List(parent).Select(d => d.Name + " " + d.Status));

        // the chart renders with both subcharts
        var chart = Chart.Load(parent);
        var rendered = Releases.ReleaseRenderer.Render(chart, [], new Engine.ReleaseOptions("rel", "default"), Engine.Capabilities.Default, new Engine.HelmEngine());
        Assert.Contains(rendered.Objects, o => o.Name == "rel-lib");
        Assert.Contains(rendered.Objects, o => o.Kind == "Deployment" && o.Source == "parent/charts/web/templates/deployment.yaml");

        // build: charts/ again from Chart.lock's versions
        Directory.Delete(Path.Combine(parent, "charts"), recursive: true);
        await dependencies.UpdateAsync(parent, useLock: true);
        Assert.True(File.Exists(Path.Combine(parent, "charts", "web-0.1.0.tgz")));
    }
}
