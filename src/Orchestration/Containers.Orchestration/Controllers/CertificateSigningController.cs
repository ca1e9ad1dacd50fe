using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// kube-controller-manager's csrapproving and csrsigning controllers for nodes' client certificates
/// (<c>kubernetes.io/kube-apiserver-client-kubelet</c>): a request from a bootstrap token (<c>system:bootstrappers</c>)
/// for a new node, or from a node for its own name (a renewal), whose subject is exactly CN=system:node:NAME,
/// O=system:nodes and whose usages are client auth (with digital signature and key encipherment), is approved
/// (condition Approved, reason AutoApproved) and signed by the cluster CA; any other request of that signer is denied
/// with the reason. An approved request of <c>kubernetes.io/kube-apiserver-client</c> (approved by a person, with
/// <c>kubectl certificate approve</c>) is signed too; requests for other signers are left alone, as Kubernetes leaves
/// them to their signers.
/// </summary>
internal sealed class CertificateSigningController : IReconciler<string>
{
    private static readonly HashSet<string> AllowedUsages = ["client auth", "digital signature", "key encipherment"];
    private readonly ObjectApi api;
    private readonly Informer requests;
    private readonly X509Certificate2 authority;
    private readonly TimeSpan lifetime;

    public CertificateSigningController(ControllerBuilder b, X509Certificate2 authority, TimeSpan lifetime)
    {
        api = b.Api;
        Queue = b.Queue;
        this.authority = authority;
        this.lifetime = lifetime;
        requests = b.For(CertificateSigningRequestStrategy.Type, (_, csr) => Json.Str(csr, "status", "certificate") is null && !Decided(csr, "Denied") && !Decided(csr, "Failed"));
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string name, CancellationToken cancellationToken)
    {
        if (requests.Get(null, name) is not { } csr || Json.Str(csr, "status", "certificate") is not null || Decided(csr, "Denied") || Decided(csr, "Failed"))
        {
            return Task.FromResult(default(ReconcileResult));
        }

        if (Json.Str(csr, "spec", "signerName") == CertificateSigningRequestStrategy.KubeApiServerClientSigner)
        {
            return Task.FromResult(SignApprovedClient(csr, name));
        }

        if (Json.Str(csr, "spec", "signerName") != CertificateSigningRequestStrategy.KubeletClientSigner)
        {
            return Task.FromResult(default(ReconcileResult));
        }

        var (request, unreadable) = Parse(csr);
        string? refusal = unreadable ?? Refusal(csr, request!);

        try
        {
            if (refusal is not null)
            {
                api.Mutate(CertificateSigningRequestStrategy.Type, null, name, c => SetCondition(c, "Denied", "AutoDenied", refusal), "status");
                api.RecordEvent(csr, "Warning", "CertificateDenied", refusal, "certificatesigningrequest-approving-controller");
                return Task.FromResult(default(ReconcileResult));
            }

            if (!Decided(csr, "Approved"))
            {
                api.Mutate(CertificateSigningRequestStrategy.Type, null, name, c => SetCondition(c, "Approved", "AutoApproved", "Auto approving kubelet client certificate after SubjectAccessReview."), "status");
            }

            Issue(name, request!, lifetime);
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            return Task.FromResult(new ReconcileResult(TimeSpan.FromMilliseconds(100))); // gone, or changed meanwhile: looked at again
        }

        return Task.FromResult(default(ReconcileResult));
    }

    /// <summary>
    /// <c>kubernetes.io/kube-apiserver-client</c> (a user's client certificate, as the course makes one for a new user):
    /// never approved here; once someone allowed to approve for that signer has (<c>kubectl certificate approve</c>),
    /// signed for the subject asked, with client usages only, for spec.expirationSeconds (at least 10 minutes) or the
    /// cluster's signing duration, whichever is shorter. A request whose usages a client certificate cannot have fails.
    /// </summary>
    private ReconcileResult SignApprovedClient(JsonObject csr, string name)
    {
        if (!Decided(csr, "Approved"))
        {
            return default; // waits for a person
        }

        try
        {
            var usages = (Json.At(csr, "spec", "usages") as JsonArray ?? []).Select(u => u?.GetValue<string>() ?? "").ToList();
            var (request, unreadable) = Parse(csr);
            string? failure = usages.FirstOrDefault(u => !AllowedUsages.Contains(u)) is { } bad ? $"usage '{bad}' is not allowed for signer {CertificateSigningRequestStrategy.KubeApiServerClientSigner} (client auth, digital signature, key encipherment)"
                : !usages.Contains("client auth") ? $"signer {CertificateSigningRequestStrategy.KubeApiServerClientSigner} needs the usage 'client auth'" : unreadable;

            if (failure is not null)
            {
                api.Mutate(CertificateSigningRequestStrategy.Type, null, name, c => SetCondition(c, "Failed", "SignerValidationFailure", failure), "status");
                api.RecordEvent(csr, "Warning", "CertificateFailed", failure, "certificatesigningrequest-signing-controller");
                return default;
            }

            var asked = Json.Int(csr, "spec", "expirationSeconds") is { } seconds ? TimeSpan.FromSeconds(Math.Max(600, seconds)) : lifetime;
            Issue(name, request!, asked < lifetime ? asked : lifetime);
            return default;
        }
        catch (ApiException e) when (e.Code is 404 or 409)
        {
            return new ReconcileResult(TimeSpan.FromMilliseconds(100));
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            string why = $"the certificate could not be signed: {e.Message}";
            api.Mutate(CertificateSigningRequestStrategy.Type, null, name, c => SetCondition(c, "Failed", "SignerFailure", why), "status");
            return default;
        }
    }

    /// <summary>The PKCS#10 request of a CSR (spec.request, base64 of PEM), or why it cannot be read.</summary>
    private static (CertificateRequest? Request, string? Unreadable) Parse(JsonObject csr)
    {
        try
        {
            string pem = Encoding.ASCII.GetString(Convert.FromBase64String(Json.Str(csr, "spec", "request") ?? ""));
            return (CertificateRequest.LoadSigningRequestPem(pem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions), null);
        }
        catch (Exception e) when (e is FormatException or CryptographicException or ArgumentException)
        {
            return (null, $"the request is not a PEM certificate request: {e.Message}");
        }
    }

    /// <summary>Signs <paramref name="request"/> as a client certificate of the cluster CA and writes it to the CSR's status.certificate.</summary>
    private void Issue(string name, CertificateRequest request, TimeSpan validFor)
    {
        using var certificate = Containers.Orchestration.Api.ClusterPki.SignClientRequest(authority, request, validFor);
        string signed = Containers.Orchestration.Api.ClusterPki.Pem(certificate);
        api.Mutate(CertificateSigningRequestStrategy.Type, null, name, c =>
        {
            Json.Obj(c, "status")["certificate"] = Convert.ToBase64String(Encoding.ASCII.GetBytes(signed));
            return true;
        }, "status");
    }

    /// <summary>Why a node client request is not approved, or null when it is a node's as it should be.</summary>
    private static string? Refusal(JsonObject csr, CertificateRequest request)
    {
        var subject = request.SubjectName;
        var cn = subject.EnumerateRelativeDistinguishedNames().Where(r => r.GetSingleElementType().Value == "2.5.4.3").Select(r => r.GetSingleElementValue()).ToList();
        var o = subject.EnumerateRelativeDistinguishedNames().Where(r => r.GetSingleElementType().Value == "2.5.4.10").Select(r => r.GetSingleElementValue()).ToList();
        var others = subject.EnumerateRelativeDistinguishedNames().Count(r => r.GetSingleElementType().Value is not ("2.5.4.3" or "2.5.4.10"));
        if (cn.Count != 1 || !(cn[0] ?? "").StartsWith(NodeAuthorizer.NodePrefix, StringComparison.Ordinal) || cn[0]!.Length == NodeAuthorizer.NodePrefix.Length
            || o.Count != 1 || o[0] != NodeAuthorizer.NodesGroup || others > 0)
        {
            return $"a {CertificateSigningRequestStrategy.KubeletClientSigner} request must be for exactly CN=system:node:NAME, O=system:nodes; this one is for {subject.Name}";
        }

        if (request.CertificateExtensions.OfType<X509SubjectAlternativeNameExtension>().Any())
        {
            return "a node client certificate request may not carry subject alternative names";
        }

        foreach (var u in (Json.At(csr, "spec", "usages") as JsonArray ?? []).Select(u => u?.GetValue<string>() ?? ""))
        {
            if (!AllowedUsages.Contains(u))
            {
                return $"usage '{u}' is not allowed for a node client certificate (client auth, digital signature, key encipherment)";
            }
        }

        var groups = (Json.At(csr, "spec", "groups") as JsonArray ?? []).Select(g => g?.GetValue<string>()).ToList();
        string user = Json.Str(csr, "spec", "username") ?? "";
        if (groups.Contains(Containers.Orchestration.Api.BootstrapTokens.Group) || user == cn[0])
        {
            return null; // a bootstrap token's new node, or a node renewing its own certificate
        }

        return $"{user} may not ask for a node client certificate: only bootstrap tokens ({Containers.Orchestration.Api.BootstrapTokens.Group}) and the node itself may";
    }

    private static bool Decided(JsonObject csr, string type) => Json.Items(csr, "status", "conditions").Any(c => Json.Str(c, "type") == type && Json.Str(c, "status") != "False");

    private bool SetCondition(JsonObject csr, string type, string reason, string message)
    {
        var now = Json.Time(api.Time.GetUtcNow());
        var status = Json.Obj(csr, "status");
        var conditions = status["conditions"] as JsonArray ?? [];
        conditions.Add((JsonNode)new JsonObject { ["type"] = type, ["status"] = "True", ["reason"] = reason, ["message"] = message, ["lastUpdateTime"] = now, ["lastTransitionTime"] = now });
        status["conditions"] = conditions;
        return true;
    }
}
