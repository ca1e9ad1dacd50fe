namespace Containers.Orchestration.Api;

/// <summary>
/// kube-apiserver's ServiceAccount admission for pods: <c>spec.serviceAccountName</c> defaults to <c>default</c>, and
/// unless <c>automountServiceAccountToken</c> is false (on the pod, or else on its service account) the pod gets the
/// projected volume <c>kube-api-access-XXXXX</c> (a bound token, the cluster CA and the namespace), mounted read-only
/// at <c>/var/run/secrets/kubernetes.io/serviceaccount</c> in every container that does not mount something there.
/// </summary>
internal static class ServiceAccountAdmission
{
    /// <summary>Where the token, ca.crt and namespace appear in a container.</summary>
    public const string MountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    private const string VolumePrefix = "kube-api-access-";

    /// <summary>Admits a pod being created (nothing is added twice: an update finds the volume there).</summary>
    public static void Admit(JsonObject pod, ObjectApi api)
    {
        var spec = Json.Obj(pod, "spec");
        string account = Json.Str(spec, "serviceAccountName") is { Length: > 0 } named ? named : Json.Str(spec, "serviceAccount") is { Length: > 0 } old ? old : "default";
        spec["serviceAccountName"] = account;
        spec["serviceAccount"] = account; // the deprecated alias kube-apiserver keeps in step
        var volumes = Json.At(spec, "volumes") as JsonArray;
        if (volumes?.OfType<JsonObject>().Any(v => Json.Str(v, "name")?.StartsWith(VolumePrefix, StringComparison.Ordinal) == true) == true)
        {
            return;
        }

        bool? mount = Json.Bool(spec, "automountServiceAccountToken");
        if (mount is null && Json.Namespace(pod) is { } ns && api.TryGet(ResourceType.Find("", "serviceaccounts")!, ns, account) is { } sa)
        {
            mount = Json.Bool(sa, "automountServiceAccountToken");
        }

        if (mount == false)
        {
            return;
        }

        string name = VolumePrefix + ObjectIds.RandomSuffix();
        var containers = Json.Items(spec, "initContainers").Concat(Json.Items(spec, "containers")).ToList();
        if (containers.All(c => Json.Items(c, "volumeMounts").Any(m => Json.Str(m, "mountPath") == MountPath)))
        {
            return;
        }

        if (volumes is null)
        {
            spec["volumes"] = volumes = [];
        }

        volumes.Add((JsonNode)new JsonObject
        {
            ["name"] = name,
            ["projected"] = new JsonObject
            {
                ["defaultMode"] = 420,
                ["sources"] = new JsonArray(
                    new JsonObject { ["serviceAccountToken"] = new JsonObject { ["expirationSeconds"] = 3607, ["path"] = "token" } },
                    new JsonObject { ["configMap"] = new JsonObject { ["name"] = "kube-root-ca.crt", ["items"] = new JsonArray(new JsonObject { ["key"] = "ca.crt", ["path"] = "ca.crt" }) } },
                    new JsonObject
                    {
                        ["downwardAPI"] = new JsonObject
                        {
                            ["items"] = new JsonArray(new JsonObject { ["path"] = "namespace", ["fieldRef"] = new JsonObject { ["apiVersion"] = "v1", ["fieldPath"] = "metadata.namespace" } }),
                        },
                    }),
            },
        });
        foreach (var c in containers.Where(c => !Json.Items(c, "volumeMounts").Any(m => Json.Str(m, "mountPath") == MountPath)))
        {
            if (Json.At(c, "volumeMounts") is not JsonArray mounts)
            {
                c["volumeMounts"] = mounts = [];
            }

            mounts.Add((JsonNode)new JsonObject { ["name"] = name, ["readOnly"] = true, ["mountPath"] = MountPath });
        }
    }
}
