using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>The caller of a request, as kube-apiserver's authenticators name it (user.Info: name, uid and groups).</summary>
/// <param name="Name">The user name (a client certificate's CN, a service account's system:serviceaccount:NS:NAME).</param>
/// <param name="Groups">The groups (a certificate's O values), <c>system:authenticated</c> included.</param>
/// <param name="Uid">The user's uid, when its authenticator knows one (a service account's, a static token's).</param>
public sealed record KubeUser(string Name, IReadOnlyList<string> Groups, string? Uid = null)
{
    /// <summary>The user of requests without credentials (on the paths anyone may read).</summary>
    public static KubeUser Anonymous { get; } = new("system:anonymous", ["system:unauthenticated"]);
}

/// <summary>
/// kube-apiserver's authentication and authorization filters: a client certificate that chains to the cluster CA, a
/// static token or a service-account token names the caller, else 401 Unauthorized (a Status) but for the health and
/// version endpoints that anyone may read; then the <see cref="Authorizer"/> allows the request or answers 403 Forbidden.
/// </summary>
internal static class Authentication
{
    private const string UserKey = "kube-user", AttributesKey = "kube-request", RequesterKey = "kube-requester";

    private static readonly string[] Public = ["/healthz", "/livez", "/readyz", "/version"];

    /// <summary>The authenticated caller of <paramref name="http"/>, or null for an anonymous request on a public path.</summary>
    public static KubeUser? User(HttpContext http) => http.Items.TryGetValue(UserKey, out var u) ? u as KubeUser : null;

    /// <summary>Who sent a request that impersonates another user (the audit log's user; <see cref="User"/> is then the impersonated one), else null.</summary>
    public static KubeUser? Requester(HttpContext http) => http.Items.TryGetValue(RequesterKey, out var u) ? u as KubeUser : null;

    /// <summary>What the request asks, once it was authenticated (for the audit log).</summary>
    public static RequestAttributes? Attributes(HttpContext http) => http.Items.TryGetValue(AttributesKey, out var a) ? a as RequestAttributes : null;

    /// <summary>kube-apiserver's union of authenticators (client certificate, then bearer token), then its authorizer.</summary>
    public static async Task AuthenticateAsync(ApiAccess access, HttpContext http, RequestDelegate next)
    {
        var certificate = http.Connection.ClientCertificate ?? await http.Connection.GetClientCertificateAsync(http.RequestAborted).ConfigureAwait(false);
        string authorization = http.Request.Headers.Authorization.ToString();
        KubeUser? user = null;
        if (access.Pki.Authenticate(certificate) is { } who)
        {
            user = new KubeUser(who.User, [.. who.Groups, "system:authenticated"]);
        }
        else if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            user = access.AuthenticateToken(authorization["Bearer ".Length..].Trim()).User;
        }

        if (user is null)
        {
            // cluster-info is read anonymously by machines that join (kubeadm's RBAC lets system:anonymous get it)
            if (!IsPublic(http.Request.Path) && !(HttpMethods.IsGet(http.Request.Method) && http.Request.Path.Equals(BootstrapTokens.ClusterInfoPath, StringComparison.Ordinal)))
            {
                http.Items[AttributesKey] = RequestAttributes.Of(http, KubeUser.Anonymous);
                await ApiHttp.WriteAsync(http, 401, new ApiException(401, "Unauthorized", "Unauthorized").ToStatus()).ConfigureAwait(false);
                return;
            }

            await next(http).ConfigureAwait(false);
            return;
        }

        if (HasImpersonation(http.Request.Headers))
        {
            http.Items[RequesterKey] = user;
            var (impersonated, denial) = Impersonate(access, http, user);
            if (impersonated is null)
            {
                http.Items[AttributesKey] = RequestAttributes.Of(http, user);
                await ApiHttp.WriteAsync(http, denial!.Code, denial.ToStatus()).ConfigureAwait(false);
                return;
            }

            user = impersonated;
        }

        http.Items[UserKey] = user;
        var attributes = RequestAttributes.Of(http, user);
        http.Items[AttributesKey] = attributes;
        var (allowed, reason) = access.Authorizer.Authorize(attributes);
        if (!allowed)
        {
            await ApiHttp.WriteAsync(http, 403, Authorizer.Forbidden(attributes, reason).ToStatus()).ConfigureAwait(false);
            return;
        }

        await next(http).ConfigureAwait(false);
    }

    private const string ImpersonateUser = "Impersonate-User", ImpersonateGroup = "Impersonate-Group", ImpersonateUid = "Impersonate-Uid", ImpersonateExtra = "Impersonate-Extra-";

    private static bool HasImpersonation(IHeaderDictionary headers) =>
        headers.ContainsKey(ImpersonateUser) || headers.ContainsKey(ImpersonateGroup) || headers.ContainsKey(ImpersonateUid)
        || headers.Keys.Any(k => k.StartsWith(ImpersonateExtra, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// kube-apiserver's impersonation filter (<c>kubectl --as</c>, <c>--as-group</c>, <c>--as-uid</c>): the requester must
    /// be allowed to <c>impersonate</c> the user (or the service account), each group, the uid and each extra value;
    /// the request then goes on as that user. Returns the user, or the error to answer (400 or 403).
    /// </summary>
    private static (KubeUser? User, ApiException? Error) Impersonate(ApiAccess access, HttpContext http, KubeUser requester)
    {
        var headers = http.Request.Headers;
        string name = headers[ImpersonateUser].ToString();
        var groups = headers[ImpersonateGroup].Where(g => !string.IsNullOrEmpty(g)).Select(g => g!).ToList();
        string uid = headers[ImpersonateUid].ToString();
        var extras = headers.Where(h => h.Key.StartsWith(ImpersonateExtra, StringComparison.OrdinalIgnoreCase)).ToList();
        if (name.Length == 0)
        {
            var asked = new List<string>();
            asked.AddRange(groups.Select(g => $"{ImpersonateGroup}={g}"));
            if (uid.Length > 0)
            {
                asked.Add($"{ImpersonateUid}={uid}");
            }

            asked.AddRange(extras.Select(e => $"{e.Key}={e.Value}"));
            return (null, ApiException.BadRequest($"requested [{string.Join(" ", asked)}] without impersonating a user"));
        }

        // what to check, as kube's: a service account by its namespace and name, else a user; then groups, uid, extras
        var checks = new List<RequestAttributes>();
        var impersonatedGroups = new List<string>();
        const string ServiceAccountPrefix = "system:serviceaccount:";
        if (name.StartsWith(ServiceAccountPrefix, StringComparison.Ordinal) && name[ServiceAccountPrefix.Length..].Split(':') is [{ Length: > 0 } saNamespace, { Length: > 0 } saName])
        {
            checks.Add(new RequestAttributes(requester, "impersonate", true, http.Request.Path, "", "v1", "serviceaccounts", "", saNamespace, saName));
            impersonatedGroups.AddRange(["system:serviceaccounts", "system:serviceaccounts:" + saNamespace]);
        }
        else
        {
            checks.Add(new RequestAttributes(requester, "impersonate", true, http.Request.Path, "", "v1", "users", "", "", name));
        }

        checks.AddRange(groups.Select(g => new RequestAttributes(requester, "impersonate", true, http.Request.Path, "", "v1", "groups", "", "", g)));
        if (uid.Length > 0)
        {
            checks.Add(new RequestAttributes(requester, "impersonate", true, http.Request.Path, "authentication.k8s.io", "v1", "uids", "", "", uid));
        }

        foreach (var (key, values) in extras)
        {
            string extra = Uri.UnescapeDataString(key[ImpersonateExtra.Length..]).ToLowerInvariant();
            checks.AddRange(values.Select(v => new RequestAttributes(requester, "impersonate", true, http.Request.Path, "authentication.k8s.io", "v1", "userextras", extra, "", v ?? "")));
        }

        foreach (var check in checks)
        {
            var (allowed, reason) = access.Authorizer.Authorize(check);
            if (!allowed)
            {
                return (null, Authorizer.Forbidden(check, reason));
            }
        }

        impersonatedGroups.AddRange(groups);
        if (name != KubeUser.Anonymous.Name && !impersonatedGroups.Any(g => g is "system:authenticated" or "system:unauthenticated"))
        {
            impersonatedGroups.Add("system:authenticated");
        }

        return (new KubeUser(name, [.. impersonatedGroups.Distinct(StringComparer.Ordinal)], uid.Length > 0 ? uid : null), null);
    }

    private static bool IsPublic(PathString path) =>
        Public.Any(p => path.Equals(p, StringComparison.Ordinal) || path.StartsWithSegments(p, StringComparison.Ordinal));
}

/// <summary>kube-apiserver's <c>--token-auth-file</c>: one <c>token,user,uid,"group1,group2"</c> a line.</summary>
public static class StaticTokens
{
    /// <summary>The tokens of <paramref name="path"/>; throws <see cref="InvalidContainerSpecException"/> naming the file and line of a bad one.</summary>
    public static IReadOnlyDictionary<string, KubeUser> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidContainerSpecException($"--token-auth-file {path}: no such file");
        }

        var tokens = new Dictionary<string, KubeUser>(StringComparer.Ordinal);
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            var fields = Csv(line);
            if (fields.Count < 3 || fields[0].Length == 0 || fields[1].Length == 0)
            {
                throw new InvalidContainerSpecException($"{path}:{number}: expected token,user,uid[,\"group1,group2\"]");
            }

            if (!tokens.TryAdd(fields[0], new KubeUser(fields[1], [.. (fields.Count > 3 ? fields[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : []), "system:authenticated"], fields[2])))
            {
                throw new InvalidContainerSpecException($"{path}:{number}: the token is given twice");
            }
        }

        return tokens;
    }

    /// <summary>The fields of one CSV line (double quotes around a field with commas; "" for a quote).</summary>
    private static List<string> Csv(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"')
            {
                field.Append('"');
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(field.ToString().Trim());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString().Trim());
        return fields;
    }
}
