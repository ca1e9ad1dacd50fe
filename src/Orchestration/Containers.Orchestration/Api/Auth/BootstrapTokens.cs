using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Containers.Orchestration.Api;

/// <summary>
/// kubeadm's bootstrap tokens (<c>abcdef.0123456789abcdef</c>): each is a Secret <c>bootstrap-token-ID</c> in
/// kube-system of type <c>bootstrap.kubernetes.io/token</c> (token-id, token-secret, expiration,
/// usage-bootstrap-authentication, usage-bootstrap-signing, auth-extra-groups). A valid one authenticates as
/// <c>system:bootstrap:ID</c> in <c>system:bootstrappers</c>, which may only ask for a node's client certificate
/// (a CertificateSigningRequest). The public ConfigMap <c>cluster-info</c> in kube-public holds a kubeconfig with the
/// API server and its CA, signed for each signing token (<c>jws-kubeconfig-ID</c>, a detached HS256 JWS keyed by the
/// token): a joining machine reads it anonymously and trusts that CA only when the signature of its token matches, so
/// the token's secret never goes over a connection it could not verify.
/// </summary>
public static partial class BootstrapTokens
{
    /// <summary>The group of bootstrap-token users.</summary>
    public const string Group = "system:bootstrappers";

    /// <summary>The Secret type of bootstrap tokens.</summary>
    public const string SecretType = "bootstrap.kubernetes.io/token";

    /// <summary>The anonymous-readable ConfigMap with the cluster's CA and API server.</summary>
    public const string ClusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/cluster-info";

    [GeneratedRegex("^([a-z0-9]{6})\\.([a-z0-9]{16})$")]
    private static partial Regex Format();

    /// <summary>Splits a token into its id and secret; false when it is not one (<c>[a-z0-9]{6}.[a-z0-9]{16}</c>).</summary>
    public static bool TryParse(string token, out string id, out string secret)
    {
        var m = Format().Match(token ?? "");
        id = m.Success ? m.Groups[1].Value : "";
        secret = m.Success ? m.Groups[2].Value : "";
        return m.Success;
    }

    /// <summary>A new random token.</summary>
    public static string Generate()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(alphabet, 6) + "." + RandomNumberGenerator.GetString(alphabet, 16);
    }

    /// <summary>The user of a bootstrap token, or null when no valid, unexpired authentication token of that id and secret exists.</summary>
    public static KubeUser? Authenticate(ObjectApi api, string token)
    {
        ArgumentNullException.ThrowIfNull(api);
        if (!TryParse(token, out string id, out string secret)
            || api.TryGet(ResourceType.Secrets, "kube-system", "bootstrap-token-" + id) is not { } s || Json.Str(s, "type") != SecretType)
        {
            return null;
        }

        var data = Data(s);
        if (data.GetValueOrDefault("token-id") != id || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(data.GetValueOrDefault("token-secret") ?? ""), Encoding.UTF8.GetBytes(secret))
            || data.GetValueOrDefault("usage-bootstrap-authentication") != "true" || Expired(data, api.Time.GetUtcNow()))
        {
            return null;
        }

        var groups = new List<string> { Group };
        groups.AddRange((data.GetValueOrDefault("auth-extra-groups") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(g => g.StartsWith("system:bootstrappers:", StringComparison.Ordinal)));
        groups.Add("system:authenticated");
        return new KubeUser("system:bootstrap:" + id, groups);
    }

    /// <summary>
    /// Stores <paramref name="token"/> as a bootstrap token (for authentication and signing) valid for
    /// <paramref name="ttl"/> (null: no expiry), or leaves it when it is there already; then signs cluster-info for it.
    /// </summary>
    public static void Ensure(ObjectApi api, string token, TimeSpan? ttl, string description = "")
    {
        ArgumentNullException.ThrowIfNull(api);
        try
        {
            api.Create(ResourceType.Secrets, "kube-system", Secret(token, ttl is { } t ? api.Time.GetUtcNow() + t : null, description));
        }
        catch (ApiException e) when (e.Code == 409)
        {
            // there already (another API server, or a restart)
        }
    }

    /// <summary>
    /// The Secret that stores <paramref name="token"/> for authentication and signing, as kubeadm writes it (expiring at
    /// <paramref name="expires"/> when given); <see cref="Ensure"/> creates it, <c>cluster token create</c> posts it.
    /// </summary>
    public static JsonObject Secret(string token, DateTimeOffset? expires, string description = "")
    {
        if (!TryParse(token, out string id, out string secret))
        {
            throw new InvalidContainerSpecException($"'{token}' is not a bootstrap token: it must match [a-z0-9]{{6}}.[a-z0-9]{{16}}");
        }

        var data = new JsonObject
        {
            ["token-id"] = B64(id),
            ["token-secret"] = B64(secret),
            ["usage-bootstrap-authentication"] = B64("true"),
            ["usage-bootstrap-signing"] = B64("true"),
        };
        if (expires is { } at)
        {
            data["expiration"] = B64(Json.Time(at));
        }

        if (description.Length > 0)
        {
            data["description"] = B64(description);
        }

        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = "bootstrap-token-" + id, ["namespace"] = "kube-system" },
            ["type"] = SecretType,
            ["data"] = data,
        };
    }

    /// <summary>
    /// Writes kube-public/cluster-info: a kubeconfig with <paramref name="serverUrl"/> and the CA <paramref name="caPem"/>,
    /// with a <c>jws-kubeconfig-ID</c> signature for every unexpired signing token (as kubeadm's bootstrap signer), and
    /// the <paramref name="settings"/> machines that join take (service-cidr, cluster-cidr; null values left out).
    /// </summary>
    public static void SignClusterInfo(ObjectApi api, string serverUrl, string caPem, IReadOnlyDictionary<string, string?>? settings = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        string kubeconfig = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: ""
              cluster:
                server: {serverUrl}
                certificate-authority-data: {Convert.ToBase64String(Encoding.ASCII.GetBytes(caPem))}
            contexts: []
            current-context: ""
            preferences: {"{}"}
            users: []

            """;
        var data = new JsonObject { ["kubeconfig"] = kubeconfig };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            if (value is not null)
            {
                data[key] = value;
            }
        }
        var now = api.Time.GetUtcNow();
        foreach (var s in api.List(ResourceType.Secrets, "kube-system").Items.Where(s => Json.Str(s, "type") == SecretType))
        {
            var d = Data(s);
            if (d.GetValueOrDefault("usage-bootstrap-signing") == "true" && !Expired(d, now) && d.GetValueOrDefault("token-id") is { } id && d.GetValueOrDefault("token-secret") is { } secret)
            {
                data["jws-kubeconfig-" + id] = Sign(kubeconfig, id, secret);
            }
        }

        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (api.TryGet(ResourceType.ConfigMaps, "kube-public", "cluster-info") is { } current)
                {
                    if (!JsonNode.DeepEquals(current["data"], data))
                    {
                        current["data"] = data.DeepClone();
                        api.Update(ResourceType.ConfigMaps, "kube-public", "cluster-info", current);
                    }
                }
                else
                {
                    api.Create(ResourceType.ConfigMaps, "kube-public", new JsonObject
                    {
                        ["apiVersion"] = "v1",
                        ["kind"] = "ConfigMap",
                        ["metadata"] = new JsonObject { ["name"] = "cluster-info", ["namespace"] = "kube-public" },
                        ["data"] = data.DeepClone(),
                    });
                }

                return;
            }
            catch (ApiException e) when (e.Code == 409 && attempt < 10)
            {
                // another API server wrote it meanwhile
            }
        }
    }

    /// <summary>The detached JWS (HS256, kid = token id) of <paramref name="content"/> keyed by the token, as kubeadm's bootstrap signer makes it: <c>header..signature</c>.</summary>
    public static string Sign(string content, string id, string secret)
    {
        ArgumentNullException.ThrowIfNull(content);
        string header = Base64Url(Encoding.UTF8.GetBytes($$"""{"alg":"HS256","kid":"{{id}}"}"""));
        string payload = Base64Url(Encoding.UTF8.GetBytes(content));
        byte[] mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes($"{id}.{secret}"), Encoding.ASCII.GetBytes(header + "." + payload));
        return header + ".." + Base64Url(mac);
    }

    /// <summary>Whether <paramref name="signature"/> is <paramref name="content"/>'s detached JWS for <paramref name="token"/>.</summary>
    public static bool Verify(string content, string signature, string token)
    {
        ArgumentNullException.ThrowIfNull(signature);
        return TryParse(token, out string id, out string secret)
            && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(content, id, secret)), Encoding.ASCII.GetBytes(signature));
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string B64(string value) => Convert.ToBase64String(Encoding.UTF8.GetBytes(value));

    private static bool Expired(Dictionary<string, string> data, DateTimeOffset now) =>
        data.GetValueOrDefault("expiration") is { } e && Json.ParseTime(e) is { } at && at <= now;

    private static Dictionary<string, string> Data(JsonObject secret)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in Json.Map(secret, "data"))
        {
            try
            {
                result[k] = Encoding.UTF8.GetString(Convert.FromBase64String(v));
            }
            catch (FormatException)
            {
            }
        }

        return result;
    }
}
