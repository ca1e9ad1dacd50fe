using System.Text;

namespace Containers.Orchestration.Api;

/// <summary>
/// Reads request bodies in Kubernetes' protobuf encoding (<c>application/vnd.kubernetes.protobuf</c>: the magic
/// <c>k8s\0</c>, then a runtime.Unknown holding the type and the object's bytes), which kubectl's typed commands send
/// (<c>create deployment|configmap|secret|namespace|service|serviceaccount</c>, <c>expose</c>). The object becomes
/// the JSON it stands for, from a table of the fields of the messages those commands use (the field numbers of
/// k8s.io/api's generated.proto). As with Go's zero values, empty strings, zero numbers and false booleans of
/// non-pointer fields are absent. A field not in the table fails the request (415, naming it) instead of being dropped.
/// </summary>
internal static class Protobuf
{
    private static readonly byte[] Magic = "k8s\0"u8.ToArray();

    private enum Kind
    {
        String,
        Int,
        Bool,
        Bytes,
        Message,
        StringMap,
        BytesMap,
        QuantityMap,
        IntOrString,
        Ignored,
    }

    /// <summary>Whether <paramref name="contentType"/> is Kubernetes' protobuf encoding.</summary>
    public static bool Is(string? contentType) => contentType?.StartsWith("application/vnd.kubernetes.protobuf", StringComparison.Ordinal) == true;

    /// <summary>The object a protobuf body holds, as JSON (apiVersion and kind from its envelope).</summary>
    public static JsonObject Decode(ReadOnlySpan<byte> body)
    {
        if (body.Length < Magic.Length || !body[..Magic.Length].SequenceEqual(Magic))
        {
            throw Unsupported("the body does not start with Kubernetes' protobuf magic (k8s\\0)");
        }

        string? apiVersion = null, kind = null;
        ReadOnlySpan<byte> raw = default;
        var reader = new Reader(body[Magic.Length..]);
        while (reader.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1:
                    var meta = new Reader(reader.Bytes());
                    while (meta.Next(out int f, out int w))
                    {
                        if (f == 1)
                        {
                            apiVersion = Encoding.UTF8.GetString(meta.Bytes());
                        }
                        else if (f == 2)
                        {
                            kind = Encoding.UTF8.GetString(meta.Bytes());
                        }
                        else
                        {
                            meta.Skip(w);
                        }
                    }

                    break;
                case 2:
                    raw = reader.Bytes();
                    break;
                case 3 or 4:
                    if (reader.Bytes().Length > 0 && field == 3)
                    {
                        throw Unsupported("a content encoding inside the protobuf envelope is not supported");
                    }

                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (kind is null || apiVersion is null || !Roots.TryGetValue(kind, out var root) || (kind == "HorizontalPodAutoscaler" && apiVersion != "autoscaling/v1"))
        {
            throw Unsupported($"objects of kind {kind ?? "(none)"} are not read from protobuf here");
        }

        var obj = Message(raw, root);
        if (kind != "CertificateSigningRequest")
        {
            obj.Remove("status"); // status is read only where a command writes it: a certificate request's approval conditions
        }

        var result = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind };
        foreach (var (name, value) in obj.ToList())
        {
            obj.Remove(name);
            result[name] = value;
        }

        return result;
    }

    private static ApiException Unsupported(string why) =>
        new(415, "UnsupportedMediaType", $"the protobuf body cannot be read: {why}; send application/json");

    private static JsonObject Message(ReadOnlySpan<byte> data, string type)
    {
        var fields = Schema[type];
        var obj = new JsonObject();
        var reader = new Reader(data);
        while (reader.Next(out int number, out int wire))
        {
            if (!fields.TryGetValue(number, out var f))
            {
                throw Unsupported($"field {number} of {type} is not known");
            }

            JsonNode? value;
            switch (f.Kind)
            {
                case Kind.Ignored:
                    reader.Skip(wire);
                    continue;
                case Kind.String:
                    string s = Encoding.UTF8.GetString(reader.Bytes());
                    value = s.Length == 0 && !f.Pointer && !f.Repeated ? null : s;
                    break;
                case Kind.Int:
                    long n = (long)reader.Varint();
                    value = n == 0 && !f.Pointer ? null : n;
                    break;
                case Kind.Bool:
                    bool b = reader.Varint() != 0;
                    value = !b && !f.Pointer ? null : b;
                    break;
                case Kind.Bytes:
                    value = Convert.ToBase64String(reader.Bytes());
                    break;
                case Kind.Message:
                    value = Message(reader.Bytes(), f.Type!);
                    break;
                case Kind.IntOrString:
                    value = IntOrString(reader.Bytes());
                    break;
                case Kind.StringMap or Kind.BytesMap or Kind.QuantityMap:
                    var (key, entry) = MapEntry(reader.Bytes(), f.Kind);
                    if (obj[f.Name] is not JsonObject map)
                    {
                        map = [];
                        obj[f.Name] = map;
                    }

                    map[key] = entry;
                    continue;
                default:
                    throw Unsupported($"field {number} of {type}");
            }

            if (value is null)
            {
                continue;
            }

            if (f.Repeated)
            {
                if (obj[f.Name] is not JsonArray list)
                {
                    list = [];
                    obj[f.Name] = list;
                }

                list.Add(value);
            }
            else
            {
                obj[f.Name] = value;
            }
        }

        return obj;
    }

    private static JsonNode IntOrString(ReadOnlySpan<byte> data)
    {
        long type = 0, intVal = 0;
        string strVal = "";
        var reader = new Reader(data);
        while (reader.Next(out int f, out int w))
        {
            switch (f)
            {
                case 1:
                    type = (long)reader.Varint();
                    break;
                case 2:
                    intVal = (long)reader.Varint();
                    break;
                case 3:
                    strVal = Encoding.UTF8.GetString(reader.Bytes());
                    break;
                default:
                    reader.Skip(w);
                    break;
            }
        }

        return type == 1 ? JsonValue.Create(strVal) : JsonValue.Create(intVal);
    }

    private static (string Key, JsonNode? Value) MapEntry(ReadOnlySpan<byte> data, Kind kind)
    {
        string key = "";
        JsonNode? value = kind == Kind.BytesMap ? "" : kind == Kind.StringMap ? "" : null;
        var reader = new Reader(data);
        while (reader.Next(out int f, out int w))
        {
            if (f == 1)
            {
                key = Encoding.UTF8.GetString(reader.Bytes());
            }
            else if (f == 2)
            {
                var bytes = reader.Bytes();
                value = kind switch
                {
                    Kind.BytesMap => Convert.ToBase64String(bytes),
                    Kind.QuantityMap => Message(bytes, "Quantity")["string"]?.DeepClone() ?? "0",
                    _ => Encoding.UTF8.GetString(bytes),
                };
            }
            else
            {
                reader.Skip(w);
            }
        }

        return (key, value);
    }

    private sealed record F(string Name, Kind Kind, string? Type = null, bool Repeated = false, bool Pointer = false);

    private static F S(string name) => new(name, Kind.String);

    private static F I(string name, bool pointer = false) => new(name, Kind.Int, Pointer: pointer);

    private static F B(string name, bool pointer = false) => new(name, Kind.Bool, Pointer: pointer);

    private static F M(string name, string type, bool repeated = false) => new(name, Kind.Message, type, repeated);

    private static F Strings(string name) => new(name, Kind.String, Repeated: true);

    private static F Map(string name) => new(name, Kind.StringMap);

    private static readonly Dictionary<string, string> Roots = new(StringComparer.Ordinal)
    {
        ["ConfigMap"] = "ConfigMap",
        ["Secret"] = "Secret",
        ["Namespace"] = "Namespace",
        ["ServiceAccount"] = "ServiceAccount",
        ["Deployment"] = "Deployment",
        ["Job"] = "Job",
        ["CronJob"] = "CronJob",
        ["HorizontalPodAutoscaler"] = "HorizontalPodAutoscaler",
        ["Service"] = "Service",
        ["Pod"] = "Pod",
        ["Role"] = "Role",
        ["ClusterRole"] = "ClusterRole",
        ["RoleBinding"] = "RoleBinding",
        ["ClusterRoleBinding"] = "RoleBinding",
        ["SelfSubjectAccessReview"] = "SelfSubjectAccessReview",
        ["SubjectAccessReview"] = "SubjectAccessReview",
        ["LocalSubjectAccessReview"] = "SubjectAccessReview",
        ["SelfSubjectRulesReview"] = "SelfSubjectRulesReview",
        ["SelfSubjectReview"] = "SelfSubjectReview",
        ["TokenReview"] = "TokenReview",
        ["TokenRequest"] = "TokenRequest",
        ["CertificateSigningRequest"] = "CertificateSigningRequest",
    };

    /// <summary>Field numbers of the messages read (k8s.io/api core/v1, apps/v1 and apimachinery meta/v1 generated.proto).</summary>
    private static readonly Dictionary<string, Dictionary<int, F>> Schema = new(StringComparer.Ordinal)
    {
        ["ObjectMeta"] = new()
        {
            [1] = S("name"), [2] = S("generateName"), [3] = S("namespace"), [4] = new("selfLink", Kind.Ignored), [5] = S("uid"),
            [6] = S("resourceVersion"), [7] = I("generation"), [8] = new("creationTimestamp", Kind.Ignored), [9] = new("deletionTimestamp", Kind.Ignored),
            [10] = I("deletionGracePeriodSeconds", pointer: true), [11] = Map("labels"), [12] = Map("annotations"),
            [13] = M("ownerReferences", "OwnerReference", repeated: true), [14] = Strings("finalizers"), [17] = new("managedFields", Kind.Ignored),
        },
        ["OwnerReference"] = new()
        {
            [1] = S("kind"), [3] = S("name"), [4] = S("uid"), [5] = S("apiVersion"), [6] = B("controller", pointer: true), [7] = B("blockOwnerDeletion", pointer: true),
        },
        ["Quantity"] = new() { [1] = S("string") },

        // rbac.authorization.k8s.io/v1
        ["Role"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("rules", "PolicyRule", repeated: true) },
        ["ClusterRole"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("rules", "PolicyRule", repeated: true), [3] = M("aggregationRule", "AggregationRule") },
        ["PolicyRule"] = new() { [1] = Strings("verbs"), [2] = Strings("apiGroups"), [3] = Strings("resources"), [4] = Strings("resourceNames"), [5] = Strings("nonResourceURLs") },
        ["AggregationRule"] = new() { [1] = M("clusterRoleSelectors", "LabelSelector", repeated: true) },
        ["RoleBinding"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("subjects", "Subject", repeated: true), [3] = M("roleRef", "RoleRef") },
        ["Subject"] = new() { [1] = S("kind"), [2] = S("apiGroup"), [3] = S("name"), [4] = S("namespace") },
        ["RoleRef"] = new() { [1] = S("apiGroup"), [2] = S("kind"), [3] = S("name") },

        // authorization.k8s.io/v1 and authentication.k8s.io/v1
        ["SelfSubjectAccessReview"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "SelfSubjectAccessReviewSpec"), [3] = new("status", Kind.Ignored) },
        ["SelfSubjectAccessReviewSpec"] = new() { [1] = M("resourceAttributes", "ResourceAttributes"), [2] = M("nonResourceAttributes", "NonResourceAttributes") },
        ["SubjectAccessReview"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "SubjectAccessReviewSpec"), [3] = new("status", Kind.Ignored) },
        ["SubjectAccessReviewSpec"] = new()
        {
            [1] = M("resourceAttributes", "ResourceAttributes"), [2] = M("nonResourceAttributes", "NonResourceAttributes"), [3] = S("user"), [4] = Strings("groups"),
            [5] = new("extra", Kind.Ignored), [6] = S("uid"),
        },
        ["ResourceAttributes"] = new()
        {
            [1] = S("namespace"), [2] = S("verb"), [3] = S("group"), [4] = S("version"), [5] = S("resource"), [6] = S("subresource"), [7] = S("name"),
            [8] = new("fieldSelector", Kind.Ignored), [9] = new("labelSelector", Kind.Ignored),
        },
        ["NonResourceAttributes"] = new() { [1] = S("path"), [2] = S("verb") },
        ["SelfSubjectRulesReview"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "SelfSubjectRulesReviewSpec"), [3] = new("status", Kind.Ignored) },
        ["SelfSubjectRulesReviewSpec"] = new() { [1] = S("namespace") },
        ["SelfSubjectReview"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = new("status", Kind.Ignored) },
        ["TokenReview"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "TokenReviewSpec"), [3] = new("status", Kind.Ignored) },
        ["TokenReviewSpec"] = new() { [1] = S("token"), [2] = Strings("audiences") },
        // certificates.k8s.io/v1 (kubectl certificate approve|deny sends the whole request to its approval subresource)
        ["CertificateSigningRequest"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "CertificateSigningRequestSpec"), [3] = M("status", "CertificateSigningRequestStatus") },
        ["CertificateSigningRequestSpec"] = new()
        {
            [1] = new("request", Kind.Bytes), [2] = S("username"), [3] = S("uid"), [4] = Strings("groups"), [5] = Strings("usages"), [6] = new("extra", Kind.Ignored),
            [7] = S("signerName"), [8] = I("expirationSeconds", pointer: true),
        },
        ["CertificateSigningRequestStatus"] = new() { [1] = M("conditions", "CertificateSigningRequestCondition", repeated: true), [2] = new("certificate", Kind.Bytes) },
        ["CertificateSigningRequestCondition"] = new()
        {
            [1] = S("type"), [2] = S("reason"), [3] = S("message"), [4] = new("lastUpdateTime", Kind.Ignored), [5] = new("lastTransitionTime", Kind.Ignored), [6] = S("status"),
        },
        ["TokenRequest"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "TokenRequestSpec"), [3] = new("status", Kind.Ignored) },
        ["TokenRequestSpec"] = new() { [1] = Strings("audiences"), [3] = M("boundObjectRef", "BoundObjectReference"), [4] = I("expirationSeconds", pointer: true) },
        ["BoundObjectReference"] = new() { [1] = S("kind"), [2] = S("apiVersion"), [3] = S("name"), [4] = S("uid") },
        ["ConfigMap"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = Map("data"), [3] = new("binaryData", Kind.BytesMap), [4] = B("immutable", pointer: true) },
        ["Secret"] = new()
        {
            [1] = M("metadata", "ObjectMeta"), [2] = new("data", Kind.BytesMap), [3] = S("type"), [4] = Map("stringData"), [5] = B("immutable", pointer: true),
        },
        ["Namespace"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "NamespaceSpec"), [3] = new("status", Kind.Ignored) },
        ["NamespaceSpec"] = new() { [1] = Strings("finalizers") },
        ["ServiceAccount"] = new()
        {
            [1] = M("metadata", "ObjectMeta"), [2] = M("secrets", "ObjectReference", repeated: true), [3] = M("imagePullSecrets", "LocalObjectReference", repeated: true),
            [4] = B("automountServiceAccountToken", pointer: true),
        },
        ["ObjectReference"] = new()
        {
            [1] = S("kind"), [2] = S("namespace"), [3] = S("name"), [4] = S("uid"), [5] = S("apiVersion"), [6] = S("resourceVersion"), [7] = S("fieldPath"),
        },
        ["LocalObjectReference"] = new() { [1] = S("name") },
        ["Deployment"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "DeploymentSpec"), [3] = new("status", Kind.Ignored) },
        ["DeploymentSpec"] = new()
        {
            [1] = I("replicas", pointer: true), [2] = M("selector", "LabelSelector"), [3] = M("template", "PodTemplateSpec"), [4] = M("strategy", "DeploymentStrategy"),
            [5] = I("minReadySeconds"), [6] = I("revisionHistoryLimit", pointer: true), [7] = B("paused"), [9] = I("progressDeadlineSeconds", pointer: true),
        },
        ["DeploymentStrategy"] = new() { [1] = S("type"), [2] = M("rollingUpdate", "RollingUpdateDeployment") },
        ["RollingUpdateDeployment"] = new() { [1] = new("maxUnavailable", Kind.IntOrString), [2] = new("maxSurge", Kind.IntOrString) },
        // batch/v1
        ["Job"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "JobSpec"), [3] = new("status", Kind.Ignored) },
        ["JobSpec"] = new()
        {
            [1] = I("parallelism", pointer: true), [2] = I("completions", pointer: true), [3] = I("activeDeadlineSeconds", pointer: true), [4] = M("selector", "LabelSelector"),
            [5] = B("manualSelector", pointer: true), [6] = M("template", "PodTemplateSpec"), [7] = I("backoffLimit", pointer: true),
            [8] = I("ttlSecondsAfterFinished", pointer: true), [9] = S("completionMode"), [10] = B("suspend", pointer: true),
            [12] = I("backoffLimitPerIndex", pointer: true), [13] = I("maxFailedIndexes", pointer: true), [14] = S("podReplacementPolicy"), [15] = S("managedBy"),
        },
        ["CronJob"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "CronJobSpec"), [3] = new("status", Kind.Ignored) },
        ["CronJobSpec"] = new()
        {
            [1] = S("schedule"), [2] = I("startingDeadlineSeconds", pointer: true), [3] = S("concurrencyPolicy"), [4] = B("suspend", pointer: true),
            [5] = M("jobTemplate", "JobTemplateSpec"), [6] = I("successfulJobsHistoryLimit", pointer: true), [7] = I("failedJobsHistoryLimit", pointer: true), [8] = S("timeZone"),
        },
        ["JobTemplateSpec"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "JobSpec") },
        // autoscaling/v1 (kubectl autoscale)
        ["HorizontalPodAutoscaler"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "HorizontalPodAutoscalerSpec"), [3] = new("status", Kind.Ignored) },
        ["HorizontalPodAutoscalerSpec"] = new()
        {
            [1] = M("scaleTargetRef", "CrossVersionObjectReference"), [2] = I("minReplicas", pointer: true), [3] = I("maxReplicas"), [4] = I("targetCPUUtilizationPercentage", pointer: true),
        },
        ["CrossVersionObjectReference"] = new() { [1] = S("kind"), [2] = S("name"), [3] = S("apiVersion") },
        ["LabelSelector"] = new() { [1] = Map("matchLabels"), [2] = M("matchExpressions", "LabelSelectorRequirement", repeated: true) },
        ["LabelSelectorRequirement"] = new() { [1] = S("key"), [2] = S("operator"), [3] = Strings("values") },
        ["PodTemplateSpec"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "PodSpec") },
        ["Pod"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "PodSpec"), [3] = new("status", Kind.Ignored) },
        ["PodSpec"] = new()
        {
            [2] = M("containers", "Container", repeated: true), [3] = S("restartPolicy"), [4] = I("terminationGracePeriodSeconds", pointer: true),
            [5] = I("activeDeadlineSeconds", pointer: true), [6] = S("dnsPolicy"), [7] = Map("nodeSelector"), [8] = S("serviceAccountName"),
            [9] = S("serviceAccount"), [10] = S("nodeName"), [11] = B("hostNetwork"), [12] = B("hostPID"), [13] = B("hostIPC"),
            [14] = M("securityContext", "PodSecurityContext"), [16] = S("hostname"),
            [17] = S("subdomain"), [19] = S("schedulerName"), [20] = M("initContainers", "Container", repeated: true),
            [21] = B("automountServiceAccountToken", pointer: true), [22] = M("tolerations", "Toleration", repeated: true), [24] = S("priorityClassName"), [25] = I("priority", pointer: true),
            [30] = B("enableServiceLinks", pointer: true), [37] = B("hostUsers", pointer: true),
        },
        ["PodSecurityContext"] = new()
        {
            [2] = I("runAsUser", pointer: true), [3] = B("runAsNonRoot", pointer: true), [4] = new("supplementalGroups", Kind.Int, Repeated: true),
            [5] = I("fsGroup", pointer: true), [6] = I("runAsGroup", pointer: true),
        },
        ["Toleration"] = new() { [1] = S("key"), [2] = S("operator"), [3] = S("value"), [4] = S("effect"), [5] = I("tolerationSeconds", pointer: true) },
        ["Container"] = new()
        {
            [1] = S("name"), [2] = S("image"), [3] = Strings("command"), [4] = Strings("args"), [5] = S("workingDir"),
            [6] = M("ports", "ContainerPort", repeated: true), [7] = M("env", "EnvVar", repeated: true), [8] = M("resources", "ResourceRequirements"),
            [13] = S("terminationMessagePath"), [14] = S("imagePullPolicy"), [16] = B("stdin"), [17] = B("stdinOnce"), [18] = B("tty"),
            [20] = S("terminationMessagePolicy"),
        },
        ["ContainerPort"] = new() { [1] = S("name"), [2] = I("hostPort"), [3] = I("containerPort"), [4] = S("protocol"), [5] = S("hostIP") },
        ["EnvVar"] = new() { [1] = S("name"), [2] = S("value") },
        ["ResourceRequirements"] = new() { [1] = new("limits", Kind.QuantityMap), [2] = new("requests", Kind.QuantityMap) },
        ["Service"] = new() { [1] = M("metadata", "ObjectMeta"), [2] = M("spec", "ServiceSpec"), [3] = new("status", Kind.Ignored) },
        ["ServiceSpec"] = new()
        {
            [1] = M("ports", "ServicePort", repeated: true), [2] = Map("selector"), [3] = S("clusterIP"), [4] = S("type"), [5] = Strings("externalIPs"),
            [7] = S("sessionAffinity"), [8] = S("loadBalancerIP"), [9] = Strings("loadBalancerSourceRanges"), [10] = S("externalName"),
            [11] = S("externalTrafficPolicy"), [12] = I("healthCheckNodePort"), [13] = B("publishNotReadyAddresses"), [18] = Strings("clusterIPs"),
            [19] = Strings("ipFamilies"), [20] = S("ipFamilyPolicy"), [21] = B("allocateLoadBalancerNodePorts", pointer: true),
            [22] = S("loadBalancerClass"), [23] = S("internalTrafficPolicy"),
        },
        ["ServicePort"] = new()
        {
            [1] = S("name"), [2] = S("protocol"), [3] = I("port"), [4] = new("targetPort", Kind.IntOrString), [5] = I("nodePort"), [6] = S("appProtocol"),
        },
    };

    /// <summary>A forward reader of protobuf's wire format.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> data = data;
        private int at;

        public bool Next(out int field, out int wire)
        {
            if (at >= data.Length)
            {
                field = wire = 0;
                return false;
            }

            ulong key = Varint();
            field = (int)(key >> 3);
            wire = (int)(key & 7);
            return true;
        }

        public ulong Varint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (at >= data.Length)
                {
                    throw Unsupported("a varint runs past the end");
                }

                byte b = data[at++];
                result |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return result;
                }
            }

            throw Unsupported("a varint is too long");
        }

        public ReadOnlySpan<byte> Bytes()
        {
            int length = checked((int)Varint());
            if (length < 0 || at + length > data.Length)
            {
                throw Unsupported("a length runs past the end");
            }

            var slice = data.Slice(at, length);
            at += length;
            return slice;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0:
                    Varint();
                    break;
                case 1:
                    at += 8;
                    break;
                case 2:
                    Bytes();
                    break;
                case 5:
                    at += 4;
                    break;
                default:
                    throw Unsupported($"wire type {wire}");
            }

            if (at > data.Length)
            {
                throw Unsupported("a field runs past the end");
            }
        }
    }
}
