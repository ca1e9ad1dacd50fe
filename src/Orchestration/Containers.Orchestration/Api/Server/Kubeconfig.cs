using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Containers.Orchestration.Api;

/// <summary>kubeconfig files, as kubectl and the KubernetesClient package read them.</summary>
public static class Kubeconfig
{
    /// <summary>
    /// Writes a kubeconfig for the API at <paramref name="server"/> to <paramref name="path"/>, mode 0600: the CA
    /// (<paramref name="caPem"/>) and the client certificate with its key (<paramref name="client"/>), when given,
    /// under the context, cluster and user <paramref name="contextName"/>. Returns the path.
    /// </summary>
    public static string Write(string path, string server, string? caPem, X509Certificate2? client, string contextName = "containers-dotnet")
    {
        ArgumentNullException.ThrowIfNull(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        static string B64(string pem) => Convert.ToBase64String(Encoding.UTF8.GetBytes(pem));
        string ca = caPem is not null ? $"\n    certificate-authority-data: {B64(caPem)}" : "";
        string user = client is not null ? $"\n    client-certificate-data: {B64(ClusterPki.Pem(client))}\n    client-key-data: {B64(ClusterPki.KeyPem(client))}" : " {}";
        string text = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {contextName}
              cluster:
                server: {server}{ca}
            users:
            - name: {contextName}
              user:{user}
            contexts:
            - name: {contextName}
              context:
                cluster: {contextName}
                user: {contextName}
                namespace: default
            current-context: {contextName}
            preferences: {"{}"}

            """;
        using (var f = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        using (var w = new StreamWriter(f))
        {
            w.Write(text);
        }

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // it may hold a private key
        return path;
    }

    /// <summary>
    /// Writes a kubeconfig for another user of the cluster whose pki directory is <paramref name="pkiDirectory"/> (as
    /// <c>kubeadm kubeconfig user</c>): a new client certificate of the cluster CA for <paramref name="user"/> in
    /// <paramref name="groups"/>, valid for <paramref name="lifetime"/>, for the API at <paramref name="server"/>.
    /// Throws <see cref="ContainerException"/> when the directory holds no cluster CA.
    /// </summary>
    public static string WriteForUser(string path, string pkiDirectory, string server, string user, IEnumerable<string> groups, TimeSpan lifetime)
    {
        string crt = Path.Combine(pkiDirectory, "ca.crt"), key = Path.Combine(pkiDirectory, "ca.key");
        if (!File.Exists(crt) || !File.Exists(key))
        {
            throw new ContainerException($"{pkiDirectory} holds no cluster CA (ca.crt and ca.key): run \"containers cluster up\" first");
        }

        using var authority = X509Certificate2.CreateFromPemFile(crt, key);
        using var client = ClusterPki.IssueClientCertificate(authority, user, groups, lifetime: lifetime);
        return Write(path, server, ClusterPki.Pem(authority), client, user);
    }
}
