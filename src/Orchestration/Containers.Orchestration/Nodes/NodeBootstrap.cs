using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Containers.Orchestration.Nodes;

/// <summary>What a machine that joined a cluster holds: the API server it talks to, the cluster CA it trusts, and its node's client certificate (with key).</summary>
/// <param name="Server">The API server (a virtual IP's, usually).</param>
/// <param name="Authority">The cluster CA.</param>
/// <param name="Certificate">The node's client certificate (CN system:node:NAME, O system:nodes) with its private key.</param>
public sealed record NodeCredential(Uri Server, X509Certificate2 Authority, X509Certificate2 Certificate)
{
    /// <summary>An HttpClient handler that trusts only the cluster CA and presents the node's certificate.</summary>
    public HttpClientHandler Handler() => Containers.Orchestration.Api.ClusterPki.ClientHandler(Authority, Certificate);
}

/// <summary>
/// kubeadm's TLS bootstrap for <c>cluster join --server URL --token T</c>: reads the public cluster-info (the CA and
/// the server) without trusting the connection, trusts its CA only when the token's signature over it matches, then,
/// over a connection verified against that CA and authenticated by the token, asks for the node's client certificate
/// with a CertificateSigningRequest (its key never leaves the machine) and waits until the controller signs it. The
/// credential is kept in the node's directory (ca.crt, kubelet.crt, kubelet.key and a kubeconfig), so a restart joins
/// without the token.
/// </summary>
public static class NodeBootstrap
{
    /// <summary>The node credential kept in <paramref name="directory"/>, or a new one obtained with <paramref name="token"/>.</summary>
    public static async Task<NodeCredential> JoinAsync(Uri server, string? token, string nodeName, string directory, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        string ca = Path.Combine(directory, "ca.crt"), crt = Path.Combine(directory, "kubelet.crt"), key = Path.Combine(directory, "kubelet.key");
        if (File.Exists(ca) && File.Exists(crt) && File.Exists(key))
        {
            var kept = X509Certificate2.CreateFromPemFile(crt, key);
            if (kept.NotAfter > DateTime.Now.AddMinutes(5) && kept.GetNameInfo(X509NameType.SimpleName, false) == Api.NodeAuthorizer.NodePrefix + nodeName)
            {
                return new NodeCredential(server, X509CertificateLoader.LoadCertificateFromFile(ca), kept);
            }
        }

        if (token is null)
        {
            throw new ContainerException($"this machine has no node credential in {directory}: join with --token (a bootstrap token from \"containers cluster token create\" on a control-plane machine)");
        }

        if (!Api.BootstrapTokens.TryParse(token, out string id, out _))
        {
            throw new InvalidContainerSpecException($"--token: '{token}' is not a bootstrap token ([a-z0-9]{{6}}.[a-z0-9]{{16}})");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var authority = await DiscoverAsync(server, token, id, deadline.Token).ConfigureAwait(false);
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X500DistinguishedNameBuilder();
        subject.AddOrganizationName(Api.NodeAuthorizer.NodesGroup);
        subject.AddCommonName(Api.NodeAuthorizer.NodePrefix + nodeName);
        string request = new CertificateRequest(subject.Build(), ecdsa, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        using var http = new HttpClient(Api.ClusterPki.ClientHandler(authority, null), disposeHandler: true) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        string name = $"node-csr-{nodeName}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var csr = new JsonObject
        {
            ["apiVersion"] = "certificates.k8s.io/v1",
            ["kind"] = "CertificateSigningRequest",
            ["metadata"] = new JsonObject { ["name"] = name },
            ["spec"] = new JsonObject
            {
                ["request"] = Convert.ToBase64String(Encoding.ASCII.GetBytes(request)),
                ["signerName"] = Api.Kinds.CertificateSigningRequestStrategy.KubeletClientSigner,
                ["usages"] = new JsonArray("digital signature", "key encipherment", "client auth"),
            },
        };
        using (var created = await http.PostAsync("/apis/certificates.k8s.io/v1/certificatesigningrequests", new StringContent(csr.ToJsonString(), Encoding.UTF8, "application/json"), deadline.Token).ConfigureAwait(false))
        {
            if (!created.IsSuccessStatusCode)
            {
                throw new ContainerException($"{server} refused the node's certificate request ({(int)created.StatusCode}): {await created.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false)}");
            }
        }

        string signed;
        while (true)
        {
            try
            {
                var current = JsonNode.Parse(await http.GetStringAsync($"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}", deadline.Token).ConfigureAwait(false));
                if (Json.Items(current, "status", "conditions").FirstOrDefault(c => Json.Str(c, "type") is "Denied" or "Failed") is { } refused)
                {
                    throw new ContainerException($"the cluster refused the certificate of node {nodeName} ({Json.Str(refused, "reason")}): {Json.Str(refused, "message")}");
                }

                if (Json.Str(current, "status", "certificate") is { Length: > 0 } b64)
                {
                    signed = Encoding.ASCII.GetString(Convert.FromBase64String(b64));
                    break;
                }

                await Task.Delay(100, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"the certificate request {name} of node {nodeName} was not signed within {timeout.TotalSeconds:0} s (does a control-plane machine run the controllers?)");
            }
        }

        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(ca, Api.ClusterPki.Pem(authority), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(crt, signed, cancellationToken).ConfigureAwait(false);
        File.WriteAllText(key, "", Encoding.ASCII);
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllTextAsync(key, ecdsa.ExportPkcs8PrivateKeyPem(), cancellationToken).ConfigureAwait(false);
        var certificate = X509Certificate2.CreateFromPem(signed, ecdsa.ExportPkcs8PrivateKeyPem());
        Api.Kubeconfig.Write(Path.Combine(directory, "kubeconfig"), server.ToString().TrimEnd('/'), Api.ClusterPki.Pem(authority), certificate, "default");
        return new NodeCredential(server, authority, certificate);
    }

    /// <summary>
    /// What the control plane publishes in cluster-info for machines that join (read over a connection verified
    /// against the cluster CA): its services' network (<c>service-cidr</c>) and the pods' (<c>cluster-cidr</c>), when given.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> ClusterSettingsAsync(NodeCredential credential, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(credential);
        using var http = new HttpClient(Api.ClusterPki.ClientHandler(credential.Authority, null), disposeHandler: true) { BaseAddress = credential.Server, Timeout = TimeSpan.FromSeconds(10) };
        var info = JsonNode.Parse(await http.GetStringAsync(Api.BootstrapTokens.ClusterInfoPath, cancellationToken).ConfigureAwait(false));
        return Json.Map(info, "data").Where(kv => kv.Key is "service-cidr" or "cluster-cidr").ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>
    /// Refuses a pod subnet a joining node names itself when another node of the cluster has a subnet that overlaps
    /// it (their pods' addresses and the machines' routes would clash), or when this node is registered already with
    /// another one (spec.podCIDR does not change). Throws <see cref="ContainerException"/> naming the node and subnet.
    /// </summary>
    public static async Task CheckPodSubnetAsync(NodeCredential credential, string nodeName, string podSubnet, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(credential);
        var wanted = System.Net.IPNetwork.Parse(podSubnet);
        using var http = new HttpClient(credential.Handler(), disposeHandler: true) { BaseAddress = credential.Server, Timeout = TimeSpan.FromSeconds(10) };
        var list = JsonNode.Parse(await http.GetStringAsync("/api/v1/nodes", cancellationToken).ConfigureAwait(false));
        foreach (var node in Json.Items(list, "items"))
        {
            if (Json.Str(node, "spec", "podCIDR") is not { } cidr || !System.Net.IPNetwork.TryParse(cidr, out var theirs))
            {
                continue;
            }

            bool overlaps = theirs.Contains(wanted.BaseAddress) || wanted.Contains(theirs.BaseAddress);
            if (Json.Name(node) == nodeName)
            {
                if (theirs != wanted)
                {
                    throw new ContainerException($"--pod-subnet {podSubnet}: node {nodeName} is registered with pod subnet {cidr} (spec.podCIDR does not change): join with that one, or delete the node first");
                }
            }
            else if (overlaps)
            {
                throw new ContainerException($"--pod-subnet {podSubnet} overlaps node {Json.Name(node)}'s pod subnet {cidr}: choose a subnet of its own, or leave --pod-subnet out to get one from the control plane");
            }
        }
    }

    /// <summary>
    /// The pod subnet the control plane gives this machine's node (spec.podCIDR, from its node IPAM): registers the
    /// Node when it is not there yet and waits up to <paramref name="timeout"/> for the subnet.
    /// </summary>
    public static async Task<string> PodCidrAsync(NodeCredential credential, string nodeName, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(credential);
        using var http = new HttpClient(credential.Handler(), disposeHandler: true) { BaseAddress = credential.Server, Timeout = TimeSpan.FromSeconds(10) };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        string path = "/api/v1/nodes/" + Uri.EscapeDataString(nodeName);
        try
        {
            while (true)
            {
                using var got = await http.GetAsync(path, deadline.Token).ConfigureAwait(false);
                if (got.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    var node = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Node", ["metadata"] = new JsonObject { ["name"] = nodeName, ["labels"] = new JsonObject { ["kubernetes.io/hostname"] = nodeName } } };
                    using var created = await http.PostAsync("/api/v1/nodes", new StringContent(node.ToJsonString(), Encoding.UTF8, "application/json"), deadline.Token).ConfigureAwait(false);
                    if (!created.IsSuccessStatusCode && created.StatusCode != System.Net.HttpStatusCode.Conflict)
                    {
                        throw new ContainerException($"the cluster refused to register node {nodeName} ({(int)created.StatusCode}): {await created.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false)}");
                    }
                }
                else if (got.IsSuccessStatusCode && Json.Str(JsonNode.Parse(await got.Content.ReadAsStringAsync(deadline.Token).ConfigureAwait(false)), "spec", "podCIDR") is { } cidr)
                {
                    return cidr;
                }

                await Task.Delay(200, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"node {nodeName} got no pod subnet (spec.podCIDR) within {timeout.TotalSeconds:0} s: the control plane gives them out only with a cluster CIDR (cluster server --cluster-cidr); else join with --pod-subnet");
        }
    }

    /// <summary>
    /// The cluster CA <paramref name="server"/> serves, trusted because its cluster-info is signed for
    /// <paramref name="token"/> (kubeadm's token discovery): what a control-plane machine that joins checks the store against.
    /// </summary>
    public static async Task<X509Certificate2> DiscoverAuthorityAsync(Uri server, string token, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (!Api.BootstrapTokens.TryParse(token, out string id, out _))
        {
            throw new InvalidContainerSpecException($"--token: '{token}' is not a bootstrap token ([a-z0-9]{{6}}.[a-z0-9]{{16}})");
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        return await DiscoverAsync(server, token, id, deadline.Token).ConfigureAwait(false);
    }

    /// <summary>The cluster CA from <paramref name="server"/>'s cluster-info, trusted only when signed for the token.</summary>
    private static async Task<X509Certificate2> DiscoverAsync(Uri server, string token, string id, CancellationToken cancellationToken)
    {
        // nothing is trusted yet: the answer is checked by the token's signature, and the token itself is not sent
        using var insecure = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true }, disposeHandler: true) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
        JsonNode? info = null;
        Exception? last = null;
        while (info is null)
        {
            try
            {
                using var response = await insecure.GetAsync(Api.BootstrapTokens.ClusterInfoPath, cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    throw new ContainerException($"{server} has no readable cluster-info ({(int)response.StatusCode}): is it a cluster's API server?");
                }

                info = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (HttpRequestException e)
            {
                last = e;
                try
                {
                    await Task.Delay(500, cancellationToken).ConfigureAwait(false); // the server may still be starting
                }
                catch (OperationCanceledException)
                {
                    throw new ContainerException($"cannot reach the API server {server}: {last.Message}");
                }
            }
        }

        string kubeconfig = Json.Str(info, "data", "kubeconfig") ?? throw new ContainerException($"{server}'s cluster-info has no kubeconfig");
        string signature = Json.Str(info, "data", "jws-kubeconfig-" + id)
            ?? throw new ContainerException($"{server}'s cluster-info is not signed for token id {id}: the token does not exist there, expired, or is not for signing");
        if (!Api.BootstrapTokens.Verify(kubeconfig, signature, token))
        {
            throw new ContainerException($"{server}'s cluster-info signature for token id {id} does not match the token: a wrong token, or not the cluster it claims to be");
        }

        string caData = kubeconfig.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("certificate-authority-data:", StringComparison.Ordinal))?["certificate-authority-data:".Length..].Trim()
            ?? throw new ContainerException($"{server}'s cluster-info names no certificate authority");
        return X509Certificate2.CreateFromPem(Encoding.ASCII.GetString(Convert.FromBase64String(caData)));
    }
}
