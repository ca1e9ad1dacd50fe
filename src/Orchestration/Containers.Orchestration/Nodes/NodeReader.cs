using System.Text;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// What a node agent holds to act as its node (<c>system:node:NAME</c>): the authorizer its reads go through (so the
/// Node authorizer limits it to the Secrets and ConfigMaps of its own pods) and the issuer of its pods' service-account
/// tokens. The control plane in the same process hands them over; a node elsewhere would use its kubeconfig instead.
/// </summary>
/// <param name="Authorizer">The API's authorizer.</param>
/// <param name="Tokens">The service-account token issuer.</param>
public sealed record NodeCredentials(Authorizer Authorizer, ServiceAccountTokens Tokens);

/// <summary>A node's reads of the objects its pods use, authorized as the node, and the tokens of its pods' service accounts.</summary>
internal sealed class NodeReader(ObjectApi api, string node, NodeCredentials? credentials, Func<string, string, long, string?, JsonObject, (string Token, DateTimeOffset Expires)>? requestToken = null)
{
    private readonly KubeUser user = ComponentIdentities.Node(node);

    // what the node was allowed to read for a pod (a pod's spec and node do not change, so neither does the answer)
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Pod, string Resource, string Name), bool> allowedFor = new();

    /// <summary>The object <paramref name="pod"/> uses (null when absent); a <see cref="PodVolumeException"/> when the node may not read it.</summary>
    public JsonObject? Get(ResourceType type, string ns, string name, JsonObject pod)
    {
        if (credentials is not null && !allowedFor.ContainsKey((Json.Uid(pod), type.Plural, name)))
        {
            var attributes = RequestAttributes.ForResource(user, "get", type, type.Namespaced ? ns : null, name);
            var (allowed, reason) = credentials.Authorizer.Authorize(attributes, pod);
            if (!allowed)
            {
                throw new PodVolumeException(Authorizer.Forbidden(attributes, reason).Message);
            }

            if (allowedFor.Count >= 100_000)
            {
                allowedFor.Clear(); // a bound: pods come and go
            }

            allowedFor[(Json.Uid(pod), type.Plural, name)] = true;
        }

        return api.Unchecked.TryGet(type, ns, name); // authorized above for this pod (the view would search the node's pods again)
    }

    /// <summary>
    /// The token of a projected serviceAccountToken source: <paramref name="current"/> until it is due for renewal
    /// (at 80% of its life, as the kubelet renews them), else a new one bound to the pod, with when to renew it.
    /// </summary>
    public (byte[] Token, long RenewAt) Token(JsonObject pod, JsonObject source, (byte[] Token, long RenewAt) current)
    {
        var now = api.Time.GetUtcNow().ToUnixTimeSeconds();
        if (current.Token is not null && now < current.RenewAt)
        {
            return current;
        }

        if (credentials is null && requestToken is not null)
        {
            // a node on another machine asks the API server (which authorizes it as this node for this pod)
            string tokenNs = Json.Namespace(pod) ?? "default", tokenAccount = Json.Str(pod, "spec", "serviceAccountName") ?? "default";
            long lifetime = Math.Max(Json.Int(source, "expirationSeconds") ?? 3600, (long)ServiceAccountTokens.MinimumLifetime.TotalSeconds);
            try
            {
                var (issued, _) = requestToken(tokenNs, tokenAccount, lifetime, Json.Str(source, "audience"), pod);
                return (Encoding.ASCII.GetBytes(issued), now + (lifetime * 8 / 10));
            }
            catch (ApiException e)
            {
                throw new PodVolumeException($"failed to fetch token: {e.Message}");
            }
        }

        if (credentials is null)
        {
            throw new PodVolumeException("this node has no credentials to request service-account tokens");
        }

        string ns = Json.Namespace(pod) ?? "default", account = Json.Str(pod, "spec", "serviceAccountName") ?? "default";
        var attributes = RequestAttributes.ForResource(user, "create", ResourceType.Find("", "serviceaccounts")!, ns, account, "token");
        var (allowed, reason) = credentials.Authorizer.Authorize(attributes, pod);
        if (!allowed)
        {
            throw new PodVolumeException(Authorizer.Forbidden(attributes, reason).Message);
        }

        long seconds = Math.Max(Json.Int(source, "expirationSeconds") ?? 3600, (long)ServiceAccountTokens.MinimumLifetime.TotalSeconds);
        string? audience = Json.Str(source, "audience");
        try
        {
            var (token, _) = credentials.Tokens.Issue(ns, account, TimeSpan.FromSeconds(seconds), audience is { Length: > 0 } ? [audience] : null, pod);
            return (Encoding.ASCII.GetBytes(token), now + (seconds * 8 / 10));
        }
        catch (ApiException e)
        {
            throw new PodVolumeException($"failed to fetch token: {e.Message}");
        }
    }
}
