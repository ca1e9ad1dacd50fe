using System.Security.Cryptography;
using System.Text;

namespace Containers.Orchestration.Api;

/// <summary>The user names of the control plane's components, as kube-apiserver's bootstrap policy binds them.</summary>
public static class ComponentIdentities
{
    /// <summary>kube-controller-manager.</summary>
    public const string ControllerManager = "system:kube-controller-manager";

    /// <summary>kube-scheduler.</summary>
    public const string Scheduler = "system:kube-scheduler";

    /// <summary>kube-proxy.</summary>
    public const string Proxy = "system:kube-proxy";

    /// <summary>kube-controller-manager as a user (its shared informers list and watch as it).</summary>
    public static KubeUser ControllerManagerUser { get; } = new(ControllerManager, ["system:authenticated"]);

    /// <summary>kube-scheduler as a user.</summary>
    public static KubeUser SchedulerUser { get; } = new(Scheduler, ["system:authenticated"]);

    /// <summary>kube-proxy as a user.</summary>
    public static KubeUser ProxyUser { get; } = new(Proxy, ["system:authenticated"]);

    /// <summary>The user of the node <paramref name="node"/> (in group <c>system:nodes</c>).</summary>
    public static KubeUser Node(string node) => new(NodeAuthorizer.NodePrefix + node, [NodeAuthorizer.NodesGroup, "system:authenticated"]);
}

/// <summary>Service accounts' user names and groups, as Kubernetes makes them.</summary>
public static class ServiceAccounts
{
    /// <summary>The user name of a service account: <c>system:serviceaccount:NS:NAME</c>.</summary>
    public static string UserName(string ns, string name) => $"system:serviceaccount:{ns}:{name}";

    /// <summary>The user of a service account: its name, and the groups system:serviceaccounts, system:serviceaccounts:NS and system:authenticated.</summary>
    public static KubeUser User(string ns, string name, string? uid = null) =>
        new(UserName(ns, name), ["system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"], uid);
}

/// <summary>
/// Service-account tokens as kube-apiserver's TokenRequest makes them: JWTs signed by the cluster's service-account key
/// (ES256), with the issuer, audiences, expiry and the service account (and the pod they are bound to) in the
/// <c>kubernetes.io</c> claim. A token authenticates while its signature, issuer, audience and time hold and while
/// the service account (and the bound pod) it names still exist with the same uid.
/// </summary>
public sealed class ServiceAccountTokens
{
    /// <summary>The issuer and the API's audience (kube-apiserver's default <c>--service-account-issuer</c>).</summary>
    public const string Issuer = "https://kubernetes.default.svc.cluster.local";

    /// <summary>The shortest lifetime a TokenRequest may ask for.</summary>
    public static readonly TimeSpan MinimumLifetime = TimeSpan.FromMinutes(10);

    private readonly ECDsa key;
    private readonly ObjectApi api;
    private readonly string keyId;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> verified = new(StringComparer.Ordinal);

    /// <summary>Tokens signed with <paramref name="key"/>, checked against the service accounts and pods of <paramref name="api"/>.</summary>
    public ServiceAccountTokens(ECDsa key, ObjectApi api)
    {
        ArgumentNullException.ThrowIfNull(key);
        this.key = key;
        this.api = api;
        keyId = Base64Url(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>
    /// A token for the service account <paramref name="name"/> of <paramref name="ns"/> (which must exist), valid for
    /// <paramref name="lifetime"/> and for <paramref name="audiences"/> (the API's when empty), bound to
    /// <paramref name="pod"/> when given (it stops authenticating once that pod is gone). Returns it with its expiry.
    /// </summary>
    public (string Token, DateTimeOffset Expires) Issue(string ns, string name, TimeSpan lifetime, IReadOnlyList<string>? audiences = null, JsonObject? pod = null)
    {
        var account = api.Get(ResourceType.Find("", "serviceaccounts")!, ns, name);
        var now = api.Time.GetUtcNow();
        var expires = now + lifetime;
        var kubernetes = new JsonObject
        {
            ["namespace"] = ns,
            ["serviceaccount"] = new JsonObject { ["name"] = name, ["uid"] = Json.Uid(account) },
        };
        if (pod is not null)
        {
            kubernetes["pod"] = new JsonObject { ["name"] = Json.Name(pod), ["uid"] = Json.Uid(pod) };
            if (Json.Str(pod, "spec", "nodeName") is { } node)
            {
                kubernetes["node"] = new JsonObject { ["name"] = node, ["uid"] = api.TryGet(ResourceType.Nodes, null, node) is { } n ? Json.Uid(n) : "" };
            }
        }

        var claims = new JsonObject
        {
            ["aud"] = new JsonArray([.. (audiences is { Count: > 0 } ? audiences : [Issuer]).Select(a => (JsonNode)a)]),
            ["exp"] = expires.ToUnixTimeSeconds(),
            ["iat"] = now.ToUnixTimeSeconds(),
            ["iss"] = Issuer,
            ["jti"] = Guid.NewGuid().ToString(),
            ["kubernetes.io"] = kubernetes,
            ["nbf"] = now.ToUnixTimeSeconds(),
            ["sub"] = ServiceAccounts.UserName(ns, name),
        };
        string header = Base64Url(Encoding.UTF8.GetBytes(new JsonObject { ["alg"] = "ES256", ["kid"] = keyId }.ToJsonString()));
        string payload = Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        string signature = Base64Url(key.SignData(Encoding.ASCII.GetBytes(header + "." + payload), HashAlgorithmName.SHA256));
        return ($"{header}.{payload}.{signature}", DateTimeOffset.FromUnixTimeSeconds(expires.ToUnixTimeSeconds()));
    }

    /// <summary>
    /// The service account a token authenticates, with the audiences it was made for, or null with the reason it does
    /// not (a bad signature, another issuer, no audience of <paramref name="audiences"/>, expired, or naming a service
    /// account or pod that is gone).
    /// </summary>
    public (KubeUser? User, IReadOnlyList<string> Audiences, string Error) Authenticate(string token, IReadOnlyList<string>? audiences = null)
    {
        ArgumentNullException.ThrowIfNull(token);
        string[] parts = token.Split('.');
        if (parts.Length != 3)
        {
            return (null, [], "not a JWT");
        }

        // a signature is checked once (ES256 verification is about 60 us); time, audience and the objects it names, every time
        JsonObject? claims;
        if (verified.TryGetValue(token, out var payload))
        {
            claims = JsonNode.Parse(payload) as JsonObject; // each caller its own tree (JsonNode is not safe to share)
        }
        else
        {
            try
            {
                if (!key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), FromBase64Url(parts[2]), HashAlgorithmName.SHA256))
                {
                    return (null, [], "invalid bearer token: the token's signature is invalid");
                }

                payload = FromBase64Url(parts[1]);
                claims = JsonNode.Parse(payload) as JsonObject ?? throw new FormatException("the claims are not an object");
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or CryptographicException)
            {
                return (null, [], "invalid bearer token: " + e.Message);
            }

            if (verified.Count >= 10_000)
            {
                verified.Clear(); // a bound on what is kept; the next uses verify again
            }

            verified[token] = payload;
        }

        if (claims is null)
        {
            return (null, [], "invalid bearer token: the claims are not an object");
        }

        long now = api.Time.GetUtcNow().ToUnixTimeSeconds();
        var aud = (Json.At(claims, "aud") as JsonArray ?? []).Select(a => a?.GetValue<string>() ?? "").ToList();
        var wanted = audiences is { Count: > 0 } ? audiences : [Issuer];
        if (Json.Str(claims, "iss") != Issuer)
        {
            return (null, [], "invalid bearer token: the token's issuer is not this cluster's");
        }

        if (!aud.Intersect(wanted).Any())
        {
            return (null, [], "invalid bearer token: token audiences [" + string.Join(",", aud) + "] are invalid for the target audiences [" + string.Join(",", wanted) + "]");
        }

        if (Json.Int(claims, "exp") is not { } exp || exp <= now || (Json.Int(claims, "nbf") ?? 0) > now + 60)
        {
            return (null, [], "invalid bearer token: token has expired");
        }

        string ns = Json.Str(claims, "kubernetes.io", "namespace") ?? "", name = Json.Str(claims, "kubernetes.io", "serviceaccount", "name") ?? "";
        string uid = Json.Str(claims, "kubernetes.io", "serviceaccount", "uid") ?? "";
        var account = api.TryGet(ResourceType.Find("", "serviceaccounts")!, ns, name);
        if (account is null || Json.Uid(account) != uid || Json.Has(account, "metadata", "deletionTimestamp"))
        {
            return (null, [], $"invalid bearer token: service account {ns}/{name} has been deleted");
        }

        if (Json.Str(claims, "kubernetes.io", "pod", "name") is { } podName)
        {
            var pod = api.TryGet(ResourceType.Pods, ns, podName);
            if (pod is null || Json.Uid(pod) != Json.Str(claims, "kubernetes.io", "pod", "uid") || Json.Has(pod, "metadata", "deletionTimestamp"))
            {
                return (null, [], $"invalid bearer token: pod {ns}/{podName} has been deleted");
            }
        }

        return (ServiceAccounts.User(ns, name, uid), [.. aud.Intersect(wanted)], "");
    }

    /// <summary>The signing key's public half as a JSON Web Key Set (kube-apiserver's /openid/v1/jwks).</summary>
    public JsonObject Jwks()
    {
        var p = key.ExportParameters(includePrivateParameters: false);
        return new JsonObject
        {
            ["keys"] = new JsonArray(new JsonObject
            {
                ["use"] = "sig", ["kty"] = "EC", ["kid"] = keyId, ["crv"] = "P-256", ["alg"] = "ES256",
                ["x"] = Base64Url(p.Q.X!), ["y"] = Base64Url(p.Q.Y!),
            }),
        };
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        string b64 = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '='));
    }
}
