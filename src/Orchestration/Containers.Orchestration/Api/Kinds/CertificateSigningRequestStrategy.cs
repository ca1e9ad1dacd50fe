namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// CertificateSigningRequest (certificates.k8s.io/v1), cluster-scoped: a PEM PKCS#10 request (spec.request, base64),
/// the signer asked (spec.signerName) and the usages; spec.username, uid and groups are the requester's, set by the
/// API server from the authenticated caller (never taken from the body). Its status carries the Approved, Denied or
/// Failed condition and, once signed, the certificate: the node bootstrap of <c>cluster join</c> (as kubeadm's TLS
/// bootstrap) asks for its client certificate this way, and <c>kubectl get csr</c> lists them.
/// </summary>
internal sealed class CertificateSigningRequestStrategy : KindStrategy
{
    /// <summary>The signer of nodes' client certificates (CN system:node:NAME, O system:nodes).</summary>
    public const string KubeletClientSigner = "kubernetes.io/kube-apiserver-client-kubelet";

    /// <summary>The signer of other client certificates of the API (users'), issued once a person approves them.</summary>
    public const string KubeApiServerClientSigner = "kubernetes.io/kube-apiserver-client";

    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false) { ShortNames = ["csr"], Strategy = new CertificateSigningRequestStrategy(), HasStatus = true };

    /// <summary>Sets the requester (spec.username, uid, groups) from the caller, as kube-apiserver's CSR strategy does on create.</summary>
    public static void SetRequester(JsonObject csr, KubeUser? user)
    {
        var spec = Json.Obj(csr, "spec");
        spec.Remove("username");
        spec.Remove("uid");
        spec.Remove("groups");
        if (user is not null)
        {
            spec["username"] = user.Name;
            if (user.Uid is { } uid)
            {
                spec["uid"] = uid;
            }

            spec["groups"] = new JsonArray([.. user.Groups.Select(g => (JsonNode)g)]);
        }
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        if (Json.Str(obj, "spec", "request") is not { Length: > 0 } request)
        {
            errors.Add(("spec.request", "Required value"));
        }
        else
        {
            try
            {
                string pem = System.Text.Encoding.ASCII.GetString(Convert.FromBase64String(request));
                System.Security.Cryptography.X509Certificates.CertificateRequest.LoadSigningRequestPem(pem, System.Security.Cryptography.HashAlgorithmName.SHA256,
                    System.Security.Cryptography.X509Certificates.CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
            }
            catch (Exception e) when (e is FormatException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                errors.Add(("spec.request", $"Invalid value: <omitted>: {e.Message}"));
            }
        }

        if (Json.Str(obj, "spec", "signerName") is not { Length: > 0 })
        {
            errors.Add(("spec.signerName", "Required value"));
        }

        if (old is not null && (Json.Str(obj, "spec", "request") != Json.Str(old, "spec", "request") || Json.Str(obj, "spec", "username") != Json.Str(old, "spec", "username")))
        {
            errors.Add(("spec", "Invalid value: field is immutable"));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.ObjectAge,
        TableColumn.Text("SignerName", "spec", "signerName"),
        TableColumn.Text("Requestor", "spec", "username"),
        new("Condition", "string", 0, (o, _) => Condition(o)),
    ];

    /// <summary>kubectl's CONDITION column: Approved, Denied or Failed (with Issued once signed), else Pending.</summary>
    private static string Condition(JsonObject csr)
    {
        var kinds = Json.Items(csr, "status", "conditions").Select(c => Json.Str(c, "type")).OfType<string>().ToList();
        if (Json.Str(csr, "status", "certificate") is { Length: > 0 })
        {
            kinds.Add("Issued");
        }

        return kinds.Count == 0 ? "Pending" : string.Join(',', kinds);
    }
}
