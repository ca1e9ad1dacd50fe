using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>The caller of a request, as kube-apiserver's authenticators name it (user.Info: name and groups).</summary>
/// <param name="Name">The user name (a client certificate's CN).</param>
/// <param name="Groups">The groups (its O values), <c>system:authenticated</c> included.</param>
public sealed record KubeUser(string Name, IReadOnlyList<string> Groups);

/// <summary>
/// kube-apiserver's x509 authentication: a client certificate that chains to the cluster CA names the user; a request
/// without one gets 401 Unauthorized (a Status), but for the health and version endpoints that anyone may read.
/// </summary>
internal static class Authentication
{
    private const string UserKey = "kube-user";

    private static readonly string[] Anonymous = ["/healthz", "/livez", "/readyz", "/version"];

    /// <summary>The authenticated caller of <paramref name="http"/>, or null for an anonymous request on a public path.</summary>
    public static KubeUser? User(HttpContext http) => http.Items.TryGetValue(UserKey, out var u) ? u as KubeUser : null;

    public static async Task AuthenticateAsync(ClusterPki pki, HttpContext http, RequestDelegate next)
    {
        var certificate = http.Connection.ClientCertificate ?? await http.Connection.GetClientCertificateAsync(http.RequestAborted).ConfigureAwait(false);
        if (pki.Authenticate(certificate) is { } who)
        {
            http.Items[UserKey] = new KubeUser(who.User, [.. who.Groups, "system:authenticated"]);
        }
        else if (!IsPublic(http.Request.Path))
        {
            await ApiHttp.WriteAsync(http, 401, new ApiException(401, "Unauthorized", "Unauthorized").ToStatus()).ConfigureAwait(false);
            return;
        }

        await next(http).ConfigureAwait(false);
    }

    private static bool IsPublic(PathString path) =>
        Anonymous.Any(p => path.Equals(p, StringComparison.Ordinal) || path.StartsWithSegments(p, StringComparison.Ordinal));
}
