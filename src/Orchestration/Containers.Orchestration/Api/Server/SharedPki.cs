namespace Containers.Orchestration.Api;

/// <summary>
/// The cluster CA and the service-account signing key shared by every API server of one store, as kubeadm's
/// <c>upload-certs</c> shares them with joining control-plane machines: the first server to start on the store puts
/// its ca.crt, ca.key and sa.key into the Secret kube-system/containers-cluster-pki (a create, so two first servers
/// cannot both win), and every server writes the Secret's files into its PKI directory before it loads it. Each server
/// then issues its own serving certificate (for its addresses and the virtual IP) from the shared CA, and a client
/// certificate or service-account token one server issued is accepted by all. The Secret is readable only by those
/// who may read secrets in kube-system, who can act as any service account there already.
/// </summary>
internal static class SharedPki
{
    /// <summary>The Secret's name in kube-system.</summary>
    public const string SecretName = "containers-cluster-pki";

    private static readonly string[] Files = ["ca.crt", "ca.key", "sa.key"];

    /// <summary>Makes <paramref name="directory"/> hold the store's shared CA and signing key (publishing this one's when the store has none yet).</summary>
    public static void Sync(ObjectApi api, string directory)
    {
        Directory.CreateDirectory(directory);
        var secret = api.TryGet(ResourceType.Secrets, "kube-system", SecretName);
        if (secret is null)
        {
            ClusterPki.LoadOrCreate(directory, []).Dispose(); // this machine's CA and key, made when missing
            var data = new JsonObject();
            foreach (var file in Files)
            {
                data[file] = Convert.ToBase64String(File.ReadAllBytes(Path.Combine(directory, file)));
            }

            try
            {
                api.Create(ResourceType.Secrets, "kube-system", new JsonObject
                {
                    ["metadata"] = new JsonObject { ["name"] = SecretName, ["labels"] = new JsonObject { ["app.kubernetes.io/managed-by"] = "containers-dotnet" } },
                    ["type"] = "Opaque",
                    ["data"] = data,
                });
                return;
            }
            catch (ApiException e) when (e.Code == 409)
            {
                secret = api.Get(ResourceType.Secrets, "kube-system", SecretName); // another server was first: take its
            }
        }

        bool changed = false;
        foreach (var file in Files)
        {
            var bytes = Convert.FromBase64String(Json.Str(secret, "data", file) ?? throw new ContainerException($"the Secret kube-system/{SecretName} has no {file}"));
            string path = Path.Combine(directory, file);
            if (!File.Exists(path) || !File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
            {
                using (var f = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
                {
                    f.Write(bytes);
                }

                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                changed = true;
            }
        }

        if (changed)
        {
            // the admin's certificate was issued by this machine's own CA: issued again by the shared one at load
            File.Delete(Path.Combine(directory, "admin.crt"));
            File.Delete(Path.Combine(directory, "admin.key"));
        }
    }
}
