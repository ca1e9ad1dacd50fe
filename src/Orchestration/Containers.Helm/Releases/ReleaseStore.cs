using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace Containers.Helm.Releases;

/// <summary>
/// Helm 3's secrets driver (pkg/storage/driver/secrets.go): one Secret per revision named
/// sh.helm.release.v1.NAME.vREV, type helm.sh/release.v1, labels owner=helm, name, status, version (and createdAt or
/// modifiedAt), data.release = base64 of the gzipped release JSON (so Helm itself reads what we write).
/// </summary>
public sealed class ReleaseStore(KubeClient kube, TimeProvider? time = null)
{
    /// <summary>The largest Secret Kubernetes accepts (its data, 1 MiB).</summary>
    public const int MaxSecretSize = 1024 * 1024;

    private readonly TimeProvider time = time ?? TimeProvider.System;

    /// <summary>Stores a new revision.</summary>
    /// <exception cref="KubeException">It exists already (409), or it is over 1 MiB (422, Kubernetes' message).</exception>
    public Task CreateAsync(Release release, CancellationToken ct) => WriteAsync(release, create: true, ct);

    /// <summary>Replaces a stored revision (its status changed).</summary>
    public Task UpdateAsync(Release release, CancellationToken ct) => WriteAsync(release, create: false, ct);

    private async Task WriteAsync(Release release, bool create, CancellationToken ct)
    {
        string encoded = Encode(release);
        if (Encoding.ASCII.GetByteCount(encoded) > MaxSecretSize)
        {
            throw new KubeException(422, $"{(create ? "create: failed to create" : "update: failed to update")}: Secret \"{release.StorageKey}\" is invalid: data: Too long: must have at most {MaxSecretSize} bytes");
        }

        var labels = new JsonObject
        {
            [create ? "createdAt" : "modifiedAt"] = time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
            ["name"] = release.Name,
            ["owner"] = "helm",
            ["status"] = release.Info.Status,
            ["version"] = release.Version.ToString(CultureInfo.InvariantCulture),
        };
        var secret = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = release.StorageKey, ["namespace"] = release.Namespace, ["labels"] = labels },
            ["type"] = "helm.sh/release.v1",
            ["data"] = new JsonObject { ["release"] = Convert.ToBase64String(Encoding.ASCII.GetBytes(encoded)) },
        };
        if (create)
        {
            await kube.CreateAsync(secret, release.Namespace, ct).ConfigureAwait(false);
            return;
        }

        var existing = await kube.GetAsync("v1", "Secret", release.Namespace, release.StorageKey, ct).ConfigureAwait(false);
        if (existing is null)
        {
            await kube.CreateAsync(secret, release.Namespace, ct).ConfigureAwait(false);
            return;
        }

        if ((string?)existing["metadata"]?["labels"]?["createdAt"] is { } created)
        {
            labels["createdAt"] = created;
        }

        secret["metadata"]!["resourceVersion"] = (string?)existing["metadata"]?["resourceVersion"];
        await kube.UpdateAsync(secret, release.Namespace, ct).ConfigureAwait(false);
    }

    /// <summary>Every revision of <paramref name="name"/> in <paramref name="ns"/>, oldest first.</summary>
    public async Task<List<Release>> HistoryAsync(string name, string ns, CancellationToken ct) =>
        (await ListAsync(ns, $"owner=helm,name={name}", ct).ConfigureAwait(false)).OrderBy(r => r.Version).ToList();

    /// <summary>Every stored revision in <paramref name="ns"/> (every namespace when null).</summary>
    public Task<List<Release>> ListAsync(string? ns, CancellationToken ct) => ListAsync(ns, "owner=helm", ct);

    private async Task<List<Release>> ListAsync(string? ns, string selector, CancellationToken ct)
    {
        var secrets = await kube.ListAsync("v1", "Secret", ns, selector, ct).ConfigureAwait(false);
        return secrets.Where(s => (string?)s["type"] == "helm.sh/release.v1" && (string?)s["data"]?["release"] is not null)
            .Select(s => Decode(Encoding.ASCII.GetString(Convert.FromBase64String((string)s["data"]!["release"]!)))).ToList();
    }

    /// <summary>One revision, or null.</summary>
    public async Task<Release?> GetAsync(string name, string ns, int version, CancellationToken ct)
    {
        var secret = await kube.GetAsync("v1", "Secret", ns, Release.Key(name, version), ct).ConfigureAwait(false);
        return (string?)secret?["data"]?["release"] is { } data ? Decode(Encoding.ASCII.GetString(Convert.FromBase64String(data))) : null;
    }

    /// <summary>Deletes one revision's Secret.</summary>
    public Task DeleteAsync(Release release, CancellationToken ct) => kube.DeleteAsync("v1", "Secret", release.Namespace, release.StorageKey, ct);

    /// <summary>Helm's encodeRelease: JSON, gzip at best compression, base64.</summary>
    public static string Encode(Release release)
    {
        byte[] json = Encoding.UTF8.GetBytes(release.ToJson().ToJsonString());
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(json);
        }

        return Convert.ToBase64String(buffer.ToArray());
    }

    /// <summary>Helm's decodeRelease: base64, gunzip when gzipped, JSON.</summary>
    public static Release Decode(string data)
    {
        byte[] bytes = Convert.FromBase64String(data);
        if (bytes.Length > 3 && bytes[0] == 0x1f && bytes[1] == 0x8b && bytes[2] == 0x08)
        {
            using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gzip.CopyTo(output);
            bytes = output.ToArray();
        }

        return Release.FromJson(JsonNode.Parse(bytes) as JsonObject ?? throw new InvalidDataException("a release that is not a JSON object"));
    }
}
