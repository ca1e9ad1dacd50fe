using Containers.Orchestration.Api.Kinds;
using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>
/// The answers to the kinds that are questions (<see cref="ReviewStrategy"/>) and the <c>serviceaccounts/token</c>
/// subresource: may I (SelfSubjectAccessReview, <c>kubectl auth can-i</c>), may they (SubjectAccessReview,
/// LocalSubjectAccessReview), what may I (SelfSubjectRulesReview, <c>kubectl auth can-i --list</c>), who am I
/// (SelfSubjectReview, <c>kubectl auth whoami</c>), whose token is this (TokenReview), and a token for a service
/// account (TokenRequest, <c>kubectl create token</c>).
/// </summary>
internal sealed class ReviewEndpoints(ObjectApi api, ApiAccess access)
{
    /// <summary>Answers a POST of <paramref name="body"/> to the virtual kind <paramref name="type"/> (201 with its status).</summary>
    public async Task ReviewAsync(HttpContext http, ResourceType type, string? ns, JsonObject body)
    {
        var caller = Authentication.User(http) ?? KubeUser.Anonymous;
        var answer = Json.Clone(body);
        answer["apiVersion"] = type.ApiVersion;
        answer["kind"] = type.Kind;
        answer["metadata"] = new JsonObject { ["creationTimestamp"] = null };
        var spec = Json.At(body, "spec") as JsonObject ?? new JsonObject();
        answer["status"] = type.Kind switch
        {
            "SelfSubjectAccessReview" => Access(caller, spec, null),
            "SubjectAccessReview" => Access(Subject(spec), spec, null),
            "LocalSubjectAccessReview" => Access(Subject(spec), spec, ns),
            "SelfSubjectRulesReview" => Rules(caller, Json.Str(spec, "namespace") ?? ""),
            "SelfSubjectReview" => new JsonObject { ["userInfo"] = AuditLog.UserInfo(caller) },
            "TokenReview" => TokenReview(spec),
            _ => throw ApiHttp.NotServed(),
        };
        await ApiHttp.WriteAsync(http, 201, answer).ConfigureAwait(false);
    }

    /// <summary>
    /// A TokenRequest for the service account <paramref name="name"/> of <paramref name="ns"/>: its spec's audiences
    /// (the API's when none), expirationSeconds (3600 by default, at least 600) and boundObjectRef (a Pod that must exist).
    /// </summary>
    public async Task TokenRequestAsync(HttpContext http, string ns, string name, JsonObject body)
    {
        var spec = Json.At(body, "spec") as JsonObject ?? new JsonObject();
        long seconds = Json.Int(spec, "expirationSeconds") ?? 3600;
        if (seconds < ServiceAccountTokens.MinimumLifetime.TotalSeconds)
        {
            throw ApiException.Invalid(ResourceType.Find("", "serviceaccounts")!, name, [("spec.expirationSeconds", $"Invalid value: {seconds}: may not specify a duration less than 10 minutes")]);
        }

        seconds = Math.Min(seconds, (long)TimeSpan.FromDays(365).TotalSeconds);
        var audiences = (Json.At(spec, "audiences") as JsonArray ?? []).Select(a => a?.GetValue<string>() ?? "").Where(a => a.Length > 0).ToList();
        JsonObject? pod = null;
        if (Json.At(spec, "boundObjectRef") is JsonObject bound)
        {
            if (Json.Str(bound, "kind") != "Pod")
            {
                throw ApiException.Invalid(ResourceType.Find("", "serviceaccounts")!, name, [("spec.boundObjectRef.kind", $"Unsupported value: \"{Json.Str(bound, "kind")}\": supported values: \"Pod\"")]);
            }

            pod = api.Get(ResourceType.Pods, ns, Json.Str(bound, "name") ?? "");
            if (Json.Str(bound, "uid") is { Length: > 0 } uid && uid != Json.Uid(pod))
            {
                throw new ApiException(409, "Conflict", $"the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated");
            }

            if (Json.Str(pod, "spec", "serviceAccountName") is { } podAccount && podAccount != name)
            {
                throw ApiException.BadRequest($"cannot bind token for serviceaccount \"{name}\" to pod running with different serviceaccount name.");
            }
        }

        var (token, expires) = access.Tokens.Issue(ns, name, TimeSpan.FromSeconds(seconds), audiences, pod);
        var answer = new JsonObject
        {
            ["kind"] = "TokenRequest",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["creationTimestamp"] = Json.Time(api.Time.GetUtcNow()) },
            ["spec"] = new JsonObject
            {
                ["audiences"] = new JsonArray([.. (audiences.Count > 0 ? audiences : [ServiceAccountTokens.Issuer]).Select(a => (JsonNode)a)]),
                ["expirationSeconds"] = seconds,
                ["boundObjectRef"] = Json.At(spec, "boundObjectRef")?.DeepClone(),
            },
            ["status"] = new JsonObject { ["token"] = token, ["expirationTimestamp"] = Json.Time(expires) },
        };
        await ApiHttp.WriteAsync(http, 201, answer).ConfigureAwait(false);
    }

    /// <summary>Refuses (403) a write of a Role, ClusterRole or binding that would grant what its writer does not hold (see <see cref="EscalationCheck"/>).</summary>
    public void GuardRbacWrite(HttpContext http, ResourceType type, string? ns, JsonObject obj)
    {
        if (Authentication.User(http) is { } user)
        {
            EscalationCheck.Require(api, access.Authorizer, user, type, ns, obj);
        }
    }

    /// <summary>
    /// Approving or denying a certificate request (its <c>approval</c> subresource) also needs the verb <c>approve</c>
    /// on the signer (resource <c>signers</c> of certificates.k8s.io, named for the signer or for its domain with
    /// <c>/*</c>), as kube-apiserver's CSR approval admission asks.
    /// </summary>
    public void GuardSignerApproval(HttpContext http, string signer)
    {
        if (Authentication.User(http) is not { } user)
        {
            return;
        }

        string domainWide = signer.Contains('/', StringComparison.Ordinal) ? signer[..signer.IndexOf('/', StringComparison.Ordinal)] + "/*" : signer;
        string reason = "";
        foreach (string name in new[] { signer, domainWide })
        {
            var a = new RequestAttributes(user, "approve", true, "", "certificates.k8s.io", "v1", "signers", "", "", name);
            (bool allowed, reason) = access.Authorizer.Authorize(a);
            if (allowed)
            {
                return;
            }
        }

        throw new ApiException(403, "Forbidden", $"certificatesigningrequests.certificates.k8s.io is forbidden: user not permitted to approve requests with signerName \"{signer}\"{(reason.Length > 0 ? ": " + reason : "")}");
    }

    private static KubeUser Subject(JsonObject spec) => new(
        Json.Str(spec, "user") ?? "",
        [.. (Json.At(spec, "groups") as JsonArray ?? []).Select(g => g?.GetValue<string>() ?? "")],
        Json.Str(spec, "uid"));

    private JsonObject Access(KubeUser user, JsonObject spec, string? ns)
    {
        RequestAttributes a;
        if (Json.At(spec, "resourceAttributes") is JsonObject r)
        {
            a = new RequestAttributes(user, Json.Str(r, "verb") ?? "", true, "", Json.Str(r, "group") ?? "", Json.Str(r, "version") ?? "",
                Json.Str(r, "resource") ?? "", Json.Str(r, "subresource") ?? "", ns ?? Json.Str(r, "namespace") ?? "", Json.Str(r, "name") ?? "");
        }
        else if (Json.At(spec, "nonResourceAttributes") is JsonObject n)
        {
            a = new RequestAttributes(user, Json.Str(n, "verb") ?? "", false, Json.Str(n, "path") ?? "");
        }
        else
        {
            throw ApiException.Invalid(ReviewStrategy.SelfSubjectAccessReview, "", [("spec.resourceAttributes", "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified")]);
        }

        var (allowed, reason) = access.Authorizer.Authorize(a);
        var status = new JsonObject { ["allowed"] = allowed };
        if (allowed && !user.Groups.Contains(Authorizer.SuperuserGroup))
        {
            status["reason"] = "RBAC: allowed";
        }
        else if (!allowed && reason.Length > 0)
        {
            status["reason"] = reason;
        }

        return status;
    }

    private JsonObject Rules(KubeUser user, string ns)
    {
        var resourceRules = new JsonArray();
        var nonResourceRules = new JsonArray();
        foreach (var rule in access.Authorizer.RulesFor(user, ns))
        {
            (rule.NonResourceUrls.Count > 0 ? nonResourceRules : resourceRules).Add((JsonNode)rule.ToJson());
        }

        return new JsonObject { ["resourceRules"] = resourceRules, ["nonResourceRules"] = nonResourceRules, ["incomplete"] = false };
    }

    private JsonObject TokenReview(JsonObject spec)
    {
        var audiences = (Json.At(spec, "audiences") as JsonArray ?? []).Select(a => a?.GetValue<string>() ?? "").ToList();
        var (user, granted, error) = access.AuthenticateToken(Json.Str(spec, "token") ?? "", audiences);
        if (user is null)
        {
            return new JsonObject { ["user"] = new JsonObject(), ["error"] = error.Length > 0 ? error : "invalid bearer token" };
        }

        return new JsonObject
        {
            ["authenticated"] = true,
            ["user"] = AuditLog.UserInfo(user),
            ["audiences"] = new JsonArray([.. granted.Select(a => (JsonNode)a)]),
        };
    }
}
