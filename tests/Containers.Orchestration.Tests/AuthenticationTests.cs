using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Containers.Orchestration;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration;

/// <summary>
/// The Kubernetes API over HTTPS only, authenticating callers as kube-apiserver's x509 authenticator: the kubeconfig's
/// admin certificate gets in (kubectl and the KubernetesClient package unchanged); no certificate, or one of another
/// CA, gets 401 Unauthorized as a Status; /version stays public.
/// </summary>
public sealed class AuthenticationTests : RecordedCluster
{
    private const string Token = "5f0c1b2e9d8a7f6e"; // a static token of the token file, for user jane in group devs

    protected override ClusterBuilder Configure(ClusterBuilder builder)
    {
        var file = Path.Combine(Root, "tokens.csv");
        File.WriteAllText(file, $"# token,user,uid,groups\n{Token},jane,1001,\"devs,qa\"\n");
        return builder.WithTokenAuthFile(file);
    }

    [Fact]
    public async Task A_static_token_of_the_token_file_gets_in_as_its_user()
    {
        var bare = Path.Combine(Root, "token-kubeconfig");
        File.WriteAllLines(bare, File.ReadAllLines(Cluster.KubeconfigPath).Where(l => !l.TrimStart().StartsWith("client-", StringComparison.Ordinal)).Select(l => l.Trim() == "user:" ? l.TrimEnd() + " {}" : l));
        var (denied, _, deniedError) = await new Kubectl(bare).TryAsync("--token=" + Token, "get", "nodes", "-o", "name");
        Assert.NotEqual(0, denied); // authenticated, but nothing is bound to jane or her groups yet
        Assert.Contains("nodes is forbidden: User \"jane\" cannot list resource \"nodes\"", deniedError);
        await new Kubectl(Cluster.KubeconfigPath).RunAsync("create", "clusterrolebinding", "devs-view-nodes", "--clusterrole=system:node-proxier", "--group=devs");
        var (exit, output, error) = await new Kubectl(bare).TryAsync("--token=" + Token, "get", "nodes", "-o", "name");
        Assert.True(exit == 0, error);
        Assert.Equal("node/node-1", output.Trim());

        var malformed = Path.Combine(Root, "bad-tokens.csv");
        File.WriteAllText(malformed, "good,ann,1\nlonely\n");
        var e = Assert.Throws<InvalidContainerSpecException>(() => StaticTokens.Read(malformed));
        Assert.Contains(malformed + ":2:", e.Message, StringComparison.Ordinal);
        var jane = StaticTokens.Read(Path.Combine(Root, "tokens.csv"))[Token];
        Assert.Equal("jane", jane.Name);
        Assert.Equal(["devs", "qa", "system:authenticated"], jane.Groups);
    }

    [Fact]
    public async Task Only_clients_with_a_certificate_of_the_cluster_ca_get_in()
    {
        Assert.StartsWith("https://", Cluster.Url, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Cluster.KubeconfigPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Root, "cluster", "pki", "admin.key")));

        var k = new Kubectl(Cluster.KubeconfigPath);
        var (exit, output, error) = await k.TryAsync("get", "nodes", "-o", "name");
        Assert.True(exit == 0, error);
        Assert.Equal("node/node-1", output.Trim());

        using (var anonymous = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, cert, _, _) => Cluster.Pki!.ValidatesServer(cert) }))
        {
            using var refused = await anonymous.GetAsync(new Uri(Cluster.Url + "/api/v1/namespaces/default/pods"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            var status = System.Text.Json.Nodes.JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal("Status", (string?)status["kind"]);
            Assert.Equal("Unauthorized", (string?)status["reason"]);
            Assert.Equal(401, (int)status["code"]!);
            using var version = await anonymous.GetAsync(new Uri(Cluster.Url + "/version"));
            Assert.Equal(HttpStatusCode.OK, version.StatusCode);
        }

        // a certificate with the admin's name and group, signed by another CA
        using var forged = Forged();
        using (var handler = new HttpClientHandler { ClientCertificateOptions = ClientCertificateOption.Manual, ServerCertificateCustomValidationCallback = (_, cert, _, _) => Cluster.Pki!.ValidatesServer(cert) })
        {
            handler.ClientCertificates.Add(forged);
            using var other = new HttpClient(handler);
            using var refused = await other.GetAsync(new Uri(Cluster.Url + "/api/v1/nodes"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var admin = Cluster.Pki!.Authenticate(Cluster.Pki.Admin);
        Assert.Equal(ClusterPki.AdminUser, admin?.User);
        Assert.Equal([ClusterPki.AdminGroup], admin?.Groups ?? []);
        Assert.Null(Cluster.Pki.Authenticate(forged));

        // kubectl with the cluster's CA and a token the cluster does not know: refused as kube-apiserver refuses it
        var bare = Path.Combine(Root, "bare-kubeconfig");
        File.WriteAllLines(bare, File.ReadAllLines(Cluster.KubeconfigPath).Where(l => !l.TrimStart().StartsWith("client-", StringComparison.Ordinal)).Select(l => l.Trim() == "user:" ? l.TrimEnd() + " {}" : l));
        var (bareExit, _, bareError) = await new Kubectl(bare).TryAsync("--token=not-a-token", "get", "pods");
        Assert.NotEqual(0, bareExit);
        Assert.True(bareError.Contains("You must be logged in to the server", StringComparison.Ordinal), bareError);
    }

    private static X509Certificate2 Forged()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=containers-dotnet-ca", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={ClusterPki.AdminUser}, O={ClusterPki.AdminGroup}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }

    [Fact]
    public async Task A_user_certificate_is_requested_approved_with_kubectl_certificate_approve_signed_and_gets_in()
    {
        var k = new Kubectl(Cluster.KubeconfigPath);
        // maria's key and request, as the course makes them with openssl req
        using var key = RSA.Create(2048);
        string request = new CertificateRequest("CN=maria,O=devs", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequestPem();
        string Manifest(string name) => $$"""
            apiVersion: certificates.k8s.io/v1
            kind: CertificateSigningRequest
            metadata: {name: {{name}}}
            spec:
              request: {{Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes(request))}}
              signerName: kubernetes.io/kube-apiserver-client
              expirationSeconds: 86400
              usages: [client auth]
            """;
        Assert.Equal(0, (await k.TryWithInputAsync(Manifest("maria"), "apply", "-f", "-")).Exit);
        Assert.Equal(0, (await k.TryWithInputAsync(Manifest("mallory"), "apply", "-f", "-")).Exit);
        await Task.Delay(300); // nothing approves or signs it on its own
        Assert.Contains("Pending", await k.RunAsync("get", "csr", "maria"), StringComparison.Ordinal);
        Assert.Equal("", (await k.RunAsync("get", "csr", "maria", "-o", "jsonpath={.status.certificate}")).Trim());

        // jane may update certificatesigningrequests/approval but not approve for the signer: refused
        await k.RunAsync("create", "clusterrole", "csr-approval-only", "--verb=get,list,update", "--resource=certificatesigningrequests,certificatesigningrequests/approval");
        await k.RunAsync("create", "clusterrolebinding", "jane-csr-approval-only", "--clusterrole=csr-approval-only", "--user=jane");
        var bare = Path.Combine(Root, "token-kubeconfig"); // no client certificate: the token is who calls
        File.WriteAllLines(bare, File.ReadAllLines(Cluster.KubeconfigPath).Where(l => !l.TrimStart().StartsWith("client-", StringComparison.Ordinal)).Select(l => l.Trim() == "user:" ? l.TrimEnd() + " {}" : l));
        var (refusedExit, refusedOut, refused) = await new Kubectl(bare).TryAsync("--token=" + Token, "certificate", "approve", "maria");
        Assert.True(refusedExit != 0, refusedOut + refused);
        Assert.Contains("user not permitted to approve requests with signerName \"kubernetes.io/kube-apiserver-client\"", refused, StringComparison.Ordinal);

        // the admin approves one and denies the other; the approved one is signed for the subject asked
        await k.RunAsync("certificate", "approve", "maria");
        await k.RunAsync("certificate", "deny", "mallory");
        await k.WaitForAsync("true", TimeSpan.FromSeconds(10), "get", "csr", "maria", "-o", "go-template={{if .status.certificate}}true{{else}}{{.status}}{{end}}");
        Assert.Contains("Approved,Issued", await k.RunAsync("get", "csr", "maria"), StringComparison.Ordinal);
        Assert.Contains("Denied", await k.RunAsync("get", "csr", "mallory"), StringComparison.Ordinal);
        Assert.Equal("", (await k.RunAsync("get", "csr", "mallory", "-o", "jsonpath={.status.certificate}")).Trim());
        var (undoExit, undoOut, undo) = await k.TryWithInputAsync("{\"status\":{\"conditions\":[]}}", "replace", "--raw", "/apis/certificates.k8s.io/v1/certificatesigningrequests/mallory/approval", "-f", "-");
        Assert.True(undoExit != 0, undoOut); // a decision stays
        Assert.Contains("may not remove a condition of type \"Denied\"", undo, StringComparison.Ordinal);

        using var certificate = X509Certificate2.CreateFromPem(System.Text.Encoding.ASCII.GetString(Convert.FromBase64String((await k.RunAsync("get", "csr", "maria", "-o", "jsonpath={.status.certificate}")).Trim())));
        Assert.Equal("CN=maria, O=devs", certificate.Subject);
        Assert.InRange((certificate.NotAfter - certificate.NotBefore).TotalHours, 24, 24.2); // expirationSeconds (and 5 minutes of clock skew)

        // her kubeconfig: she gets in as maria of devs
        File.WriteAllText(Path.Combine(Root, "maria.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(Root, "maria.key"), key.ExportPkcs8PrivateKeyPem());
        string kubeconfig = Path.Combine(Root, "maria-kubeconfig");
        File.Copy(Cluster.KubeconfigPath, kubeconfig);
        var maria = new Kubectl(kubeconfig);
        await maria.RunAsync("config", "set-credentials", "maria", "--client-certificate", Path.Combine(Root, "maria.crt"), "--client-key", Path.Combine(Root, "maria.key"), "--embed-certs");
        await maria.RunAsync("config", "set-context", "--current", "--user", "maria");
        var whoami = await maria.RunAsync("auth", "whoami");
        Assert.Contains("maria", whoami, StringComparison.Ordinal);
        Assert.Contains("[devs system:authenticated]", whoami, StringComparison.Ordinal);
    }
}
