namespace Containers.Orchestration.Api;

/// <summary>
/// Who may use a cluster's API and how they prove it: the cluster's certificates, the static tokens, the
/// service-account tokens it signs, the authorizer (Node, then RBAC, behind <c>system:masters</c>), and the audit log.
/// </summary>
public sealed class ApiAccess : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, KubeUser> staticTokens;
    private readonly ObjectApi api;

    /// <summary>Access to <paramref name="api"/> through <paramref name="pki"/>'s certificates and keys.</summary>
    /// <param name="api">The objects (roles, bindings, service accounts and pods are read from it).</param>
    /// <param name="pki">The cluster CA, the serving certificate and the service-account signing key.</param>
    /// <param name="staticTokens">The static bearer tokens (<c>--token-auth-file</c>), or null.</param>
    /// <param name="auditLogPath">Where the audit log goes, or null for none.</param>
    public ApiAccess(ObjectApi api, ClusterPki pki, IReadOnlyDictionary<string, KubeUser>? staticTokens = null, string? auditLogPath = null)
    {
        ArgumentNullException.ThrowIfNull(pki);
        Pki = pki;
        this.api = api;
        this.staticTokens = staticTokens ?? new Dictionary<string, KubeUser>();
        Authorizer = new Authorizer(api);
        Tokens = new ServiceAccountTokens(pki.ServiceAccountKey, api);
        Audit = auditLogPath is null ? null : new AuditLog(auditLogPath, api.Time);
    }

    /// <summary>The cluster's certificates.</summary>
    public ClusterPki Pki { get; }

    /// <summary>The authorizer.</summary>
    public Authorizer Authorizer { get; }

    /// <summary>The service-account tokens.</summary>
    public ServiceAccountTokens Tokens { get; }

    /// <summary>The audit log, or null when none is kept.</summary>
    public AuditLog? Audit { get; }

    /// <summary>The user of a bearer token: a static token, else a service-account token; null with the reason when neither.</summary>
    public (KubeUser? User, IReadOnlyList<string> Audiences, string Error) AuthenticateToken(string token, IReadOnlyList<string>? audiences = null)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (staticTokens.TryGetValue(token, out var user))
        {
            return (user, audiences is { Count: > 0 } ? audiences : [ServiceAccountTokens.Issuer], "");
        }

        if (BootstrapTokens.TryParse(token, out _, out _))
        {
            return BootstrapTokens.Authenticate(api, token) is { } bootstrap ? (bootstrap, audiences is { Count: > 0 } ? audiences : [ServiceAccountTokens.Issuer], "") : (null, [], "invalid bootstrap token");
        }

        return token.Count(c => c == '.') == 2 ? Tokens.Authenticate(token, audiences) : (null, [], "invalid bearer token");
    }

    /// <summary>Flushes and closes the audit log.</summary>
    public ValueTask DisposeAsync() => Audit?.DisposeAsync() ?? ValueTask.CompletedTask;
}
