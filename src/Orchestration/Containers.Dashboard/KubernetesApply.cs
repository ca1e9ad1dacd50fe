using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Containers.Dashboard;

/// <summary>Manifests from the page's editor, applied server-side as <c>kubectl apply --server-side</c> does; and Helm's releases read from their Secrets.</summary>
internal static class KubernetesApply
{
    /// <summary>
    /// Applies every document of <paramref name="yaml"/> in order (PATCH application/apply-patch+yaml, field manager
    /// containers-dashboard). Stops at the first that fails: a YAML error with its line, a document without
    /// apiVersion, kind or name, a kind the cluster does not serve, or the API's own refusal, named with its document's line.
    /// </summary>
    public static async Task<ApplyAnswer> ApplyAsync(KubernetesEndpoint k8s, string yaml, CancellationToken ct)
    {
        var applied = new List<string>();
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            return new ApplyAnswer(applied, $"line {e.Start.Line}, column {e.Start.Column}: {e.InnerException?.Message ?? e.Message}", (int)e.Start.Line);
        }

        var discovery = new Dictionary<string, JsonElement>();
        int index = 0;
        foreach (var document in stream.Documents)
        {
            index++;
            if (document.RootNode is YamlScalarNode { Value: null or "" })
            {
                continue; // an empty document (a trailing ---)
            }

            int line = (int)document.RootNode.Start.Line;
            string where = $"document {index} (line {line})";
            if (document.RootNode is not YamlMappingNode root)
            {
                return new ApplyAnswer(applied, $"{where}: a manifest is a mapping with apiVersion, kind and metadata", line);
            }

            string? apiVersion = Scalar(root, "apiVersion"), kind = Scalar(root, "kind");
            var metadata = root.Children.TryGetValue(new YamlScalarNode("metadata"), out var m) ? m as YamlMappingNode : null;
            string? name = metadata is null ? null : Scalar(metadata, "name"), ns = metadata is null ? null : Scalar(metadata, "namespace");
            if (apiVersion is null || kind is null || name is null)
            {
                return new ApplyAnswer(applied, $"{where}: missing {(apiVersion is null ? "apiVersion" : kind is null ? "kind" : "metadata.name")}", line);
            }

            string groupVersion = apiVersion.Contains('/', StringComparison.Ordinal) ? "apis/" + apiVersion : "api/" + apiVersion;
            if (!discovery.TryGetValue(groupVersion, out var resources))
            {
                using var response = await k8s.Http.GetAsync(new Uri(groupVersion, UriKind.Relative), ct).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    return new ApplyAnswer(applied, $"{where}: the cluster does not serve {apiVersion}", line);
                }

                resources = discovery[groupVersion] = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).RootElement.GetProperty("resources").Clone();
            }

            var resource = resources.EnumerateArray().FirstOrDefault(r => r.GetProperty("kind").GetString() == kind && !r.GetProperty("name").GetString()!.Contains('/', StringComparison.Ordinal));
            if (resource.ValueKind != JsonValueKind.Object)
            {
                return new ApplyAnswer(applied, $"{where}: the cluster has no kind {kind} in {apiVersion}", line);
            }

            bool namespaced = resource.GetProperty("namespaced").GetBoolean();
            string path = $"{groupVersion}/{(namespaced ? $"namespaces/{Uri.EscapeDataString(ns ?? "default")}/" : "")}{resource.GetProperty("name").GetString()}/{Uri.EscapeDataString(name)}?fieldManager=containers-dashboard&force=true";
            var text = new StringWriter();
            new YamlStream(new YamlDocument(root)).Save(text, assignAnchors: false);
            using var patch = new HttpRequestMessage(HttpMethod.Patch, new Uri(path, UriKind.Relative))
            {
                Content = new StringContent(text.ToString(), Encoding.UTF8, new MediaTypeHeaderValue("application/apply-patch+yaml")),
            };
            using var answer = await k8s.Http.SendAsync(patch, ct).ConfigureAwait(false);
            string body = await answer.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (!answer.IsSuccessStatusCode)
            {
                string message = body;
                try
                {
                    message = JsonDocument.Parse(body).RootElement.GetProperty("message").GetString() ?? body;
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException)
                {
                    // not a Status: the body as it is
                }

                return new ApplyAnswer(applied, $"{where}: {kind} {name}: {message}", line);
            }

            applied.Add($"{kind.ToLowerInvariant()}/{name}{(namespaced ? $" ({ns ?? "default"})" : "")}");
        }

        return new ApplyAnswer(applied, applied.Count == 0 ? "no manifest in the text" : null, null);
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode s ? s.Value : null;

    /// <summary>Helm's releases (the newest revision of each), read from their Secrets (type helm.sh/release.v1, labels owner=helm).</summary>
    public static async Task<List<HelmRelease>> HelmReleasesAsync(KubernetesEndpoint k8s, CancellationToken ct)
    {
        using var response = await k8s.Http.GetAsync(new Uri("api/v1/secrets?labelSelector=owner%3Dhelm", UriKind.Relative), ct).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        using var list = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        var releases = new List<HelmRelease>();
        foreach (var secret in list.RootElement.GetProperty("items").EnumerateArray())
        {
            if (!secret.TryGetProperty("type", out var type) || type.GetString() != "helm.sh/release.v1"
                || !secret.GetProperty("metadata").TryGetProperty("labels", out var labels))
            {
                continue;
            }

            string name = labels.TryGetProperty("name", out var n) ? n.GetString() ?? "" : "";
            string ns = secret.GetProperty("metadata").GetProperty("namespace").GetString() ?? "";
            int revision = labels.TryGetProperty("version", out var v) && int.TryParse(v.GetString(), out var r) ? r : 0;
            string status = labels.TryGetProperty("status", out var s) ? s.GetString() ?? "" : "";
            string? chart = null, appVersion = null, updated = null;
            try
            {
                // data.release: base64 (the Secret's) of base64 (Helm's) of gzip of the release's JSON
                var inner = Convert.FromBase64String(Encoding.ASCII.GetString(Convert.FromBase64String(secret.GetProperty("data").GetProperty("release").GetString()!)));
                using var gzip = new GZipStream(new MemoryStream(inner), CompressionMode.Decompress);
                using var release = JsonDocument.Parse(gzip);
                var meta = release.RootElement.GetProperty("chart").GetProperty("metadata");
                chart = $"{meta.GetProperty("name").GetString()}-{meta.GetProperty("version").GetString()}";
                appVersion = meta.TryGetProperty("appVersion", out var a) ? a.GetString() : null;
                updated = release.RootElement.GetProperty("info").TryGetProperty("last_deployed", out var d) ? d.GetString() : null;
            }
            catch (Exception e) when (e is FormatException or JsonException or KeyNotFoundException or InvalidDataException or InvalidOperationException)
            {
                // a release we cannot read is still listed by its labels
            }

            releases.Add(new HelmRelease(name, ns, revision, status, chart, appVersion, updated));
        }

        return [.. releases.GroupBy(x => (x.Namespace, x.Name)).Select(g => g.MaxBy(x => x.Revision)!).OrderBy(x => x.Namespace, StringComparer.Ordinal).ThenBy(x => x.Name, StringComparer.Ordinal)];
    }
}
