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
}
