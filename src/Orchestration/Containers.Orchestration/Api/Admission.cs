using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Containers.Orchestration.Api;

/// <summary>The API server's defaults and validation for the kinds served, as kube-apiserver applies them.</summary>
internal static partial class Admission
{
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigKey();

    [GeneratedRegex("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();

    /// <summary>Fills in what kube-apiserver defaults.</summary>
    public static void Default(ResourceType type, JsonObject obj, long tolerationSeconds = 300)
    {
        switch (type.Kind)
        {
            case "Pod":
                DefaultPodSpec(Json.Obj(obj, "spec"), pod: true, tolerationSeconds);
                break;
            case "Deployment":
            {
                var spec = Json.Obj(obj, "spec");
                spec["replicas"] ??= 1;
                spec["revisionHistoryLimit"] ??= 10;
                spec["progressDeadlineSeconds"] ??= 600;
                var strategy = Json.Obj(spec, "strategy");
                strategy["type"] ??= "RollingUpdate";
                if (Json.Str(strategy, "type") == "RollingUpdate")
                {
                    var ru = Json.Obj(strategy, "rollingUpdate");
                    ru["maxSurge"] ??= "25%";
                    ru["maxUnavailable"] ??= "25%";
                }

                DefaultPodSpec(Json.Obj(spec, "template", "spec"), pod: false, tolerationSeconds);
                break;
            }

            case "ReplicaSet":
            {
                var spec = Json.Obj(obj, "spec");
                spec["replicas"] ??= 1;
                DefaultPodSpec(Json.Obj(spec, "template", "spec"), pod: false, tolerationSeconds);
                break;
            }

            case "Service":
            {
                var spec = Json.Obj(obj, "spec");
                spec["type"] ??= "ClusterIP";
                spec["sessionAffinity"] ??= "None";
                if (Json.Str(spec, "type") != "ExternalName")
                {
                    spec["internalTrafficPolicy"] ??= "Cluster";
                    spec["ipFamilies"] ??= new JsonArray("IPv4");
                    spec["ipFamilyPolicy"] ??= "SingleStack";
                }

                if (Json.Str(spec, "type") is "NodePort" or "LoadBalancer")
                {
                    spec["externalTrafficPolicy"] ??= "Cluster";
                }

                foreach (var port in Json.Items(spec, "ports"))
                {
                    port["protocol"] ??= "TCP";
                    port["targetPort"] ??= port["port"]?.DeepClone();
                }

                break;
            }

            case "Namespace":
                Json.Obj(obj, "spec")["finalizers"] ??= new JsonArray("kubernetes");
                break;
            case "Secret":
            {
                obj["type"] ??= "Opaque";
                if (obj["stringData"] is JsonObject stringData)
                {
                    var data = Json.Obj(obj, "data");
                    foreach (var (k, v) in stringData)
                    {
                        data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(v?.GetValue<string>() ?? ""));
                    }

                    obj.Remove("stringData");
                }

                break;
            }

            case "PersistentVolumeClaim":
                Json.Obj(obj, "spec")["volumeMode"] ??= "Filesystem";
                break;
            case "PersistentVolume":
                Json.Obj(obj, "spec")["persistentVolumeReclaimPolicy"] ??= "Retain";
                Json.Obj(obj, "spec")["volumeMode"] ??= "Filesystem";
                break;
        }
    }

    private static void DefaultPodSpec(JsonObject spec, bool pod, long tolerationSeconds)
    {
        spec["restartPolicy"] ??= "Always";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["schedulerName"] ??= "default-scheduler";
        spec["securityContext"] ??= new JsonObject();
        spec["enableServiceLinks"] ??= true;
        if (pod)
        {
            spec["priority"] ??= 0; // the Priority admission plugin sets it on pods, never on templates
        }

        foreach (string list in new[] { "containers", "initContainers" })
        {
            foreach (var c in Json.Items(spec, list))
            {
                string image = Json.Str(c, "image") ?? "";
                string tag = image.Contains('@', StringComparison.Ordinal) ? "digest" : image.LastIndexOf(':') > image.LastIndexOf('/') ? image[(image.LastIndexOf(':') + 1)..] : "latest";
                c["imagePullPolicy"] ??= tag == "latest" ? "Always" : "IfNotPresent";
                c["terminationMessagePath"] ??= "/dev/termination-log";
                c["terminationMessagePolicy"] ??= "File";
                c["resources"] ??= new JsonObject();
                foreach (var p in Json.Items(c, "ports"))
                {
                    p["protocol"] ??= "TCP";
                }

                foreach (string probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
                {
                    if (c[probe] is JsonObject pr)
                    {
                        pr["timeoutSeconds"] ??= 1;
                        pr["periodSeconds"] ??= 10;
                        pr["successThreshold"] ??= 1;
                        pr["failureThreshold"] ??= 3;
                        if (pr["httpGet"] is JsonObject http)
                        {
                            http["scheme"] ??= "HTTP";
                            http["path"] ??= "/";
                        }
                    }
                }
            }
        }

        if (pod && !HasTolerations(spec))
        {
            // DefaultTolerationSeconds admission: evicted 300 s after the node goes not-ready or unreachable
            var tolerations = spec["tolerations"] as JsonArray ?? [];
            spec["tolerations"] = tolerations;
            tolerations.Add((JsonNode)new JsonObject { ["key"] = "node.kubernetes.io/not-ready", ["operator"] = "Exists", ["effect"] = "NoExecute", ["tolerationSeconds"] = tolerationSeconds });
            tolerations.Add((JsonNode)new JsonObject { ["key"] = "node.kubernetes.io/unreachable", ["operator"] = "Exists", ["effect"] = "NoExecute", ["tolerationSeconds"] = tolerationSeconds });
        }
    }

    private static bool HasTolerations(JsonObject spec) =>
        Json.Items(spec, "tolerations").Any(t => Json.Str(t, "key") is "node.kubernetes.io/not-ready" or "node.kubernetes.io/unreachable");

    /// <summary>Validates an object about to be stored; <paramref name="old"/> is the current one on update. Throws 422 naming the fields.</summary>
    public static void Validate(ResourceType type, JsonObject obj, JsonObject? old)
    {
        var errors = new List<(string, string)>();
        string name = Json.Name(obj);
        if (name.Length == 0)
        {
            errors.Add(("metadata.name", "Required value: name or generateName is required"));
        }
        else if (type.Kind is "Namespace" or "Service" ? !DnsLabel().IsMatch(name) || name.Length > 63 : !DnsSubdomain().IsMatch(name) || name.Length > 253)
        {
            errors.Add(("metadata.name", $"Invalid value: \"{name}\": a lowercase RFC 1123 {(type.Kind is "Namespace" or "Service" ? "label" : "subdomain")} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"));
        }

        foreach (var (k, v) in Json.Labels(obj))
        {
            if (v.Length > 63 || !LabelValue().IsMatch(v))
            {
                errors.Add(($"metadata.labels", $"Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
            }

            if (k.Length == 0 || k.Length > 317)
            {
                errors.Add(("metadata.labels", $"Invalid value: \"{k}\": name part must be non-empty and at most 63 characters"));
            }
        }

        switch (type.Kind)
        {
            case "Pod":
                ValidatePodSpec(Json.At(obj, "spec") as JsonObject, "spec", errors);
                if (old is not null)
                {
                    ValidatePodUpdate(obj, old, errors);
                }

                break;
            case "Deployment":
            case "ReplicaSet":
                ValidateWorkload(type, obj, old, errors);
                break;
            case "Service":
                ValidateService(obj, errors);
                break;
            case "ConfigMap":
            case "Secret":
                foreach (string field in new[] { "data", "binaryData" })
                {
                    foreach (var (k, _) in Json.At(obj, field) as JsonObject ?? [])
                    {
                        if (!ConfigKey().IsMatch(k) || k.Length > 253)
                        {
                            errors.Add(($"{field}[{k}]", $"Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
                        }
                    }
                }

                if (type.Kind == "Secret" && Json.At(obj, "data") is JsonObject secretData)
                {
                    foreach (var (k, v) in secretData)
                    {
                        if (v is not JsonValue sv || !sv.TryGetValue(out string? b64) || !IsBase64(b64))
                        {
                            errors.Add(($"data[{k}]", "Invalid value: must be base64 encoded"));
                        }
                    }
                }

                break;
        }

        if (errors.Count > 0)
        {
            throw ApiException.Invalid(type, name, errors);
        }
    }

    private static bool IsBase64(string s)
    {
        Span<byte> buffer = new byte[s.Length];
        return Convert.TryFromBase64String(s, buffer, out _);
    }

    private static void ValidateWorkload(ResourceType type, JsonObject obj, JsonObject? old, List<(string, string)> errors)
    {
        var selector = Json.At(obj, "spec", "selector");
        if (selector is not JsonObject so || (so["matchLabels"] is null && so["matchExpressions"] is null))
        {
            errors.Add(("spec.selector", "Required value"));
        }
        else
        {
            var labels = Json.Map(obj, "spec", "template", "metadata", "labels");
            try
            {
                if (!LabelSelector.FromObject(selector).Matches(labels))
                {
                    errors.Add(("spec.template.metadata.labels", $"Invalid value: {Json.At(obj, "spec", "template", "metadata", "labels")?.ToJsonString() ?? "null"}: `selector` does not match template `labels`"));
                }
            }
            catch (ApiException e)
            {
                errors.Add(("spec.selector", e.Message));
            }

            if (old is not null && !JsonNode.DeepEquals(selector, Json.At(old, "spec", "selector")))
            {
                errors.Add(("spec.selector", $"Invalid value: {selector.ToJsonString()}: field is immutable"));
            }
        }

        if (Json.Int(obj, "spec", "replicas") is < 0)
        {
            errors.Add(("spec.replicas", "Invalid value: must be greater than or equal to 0"));
        }

        if (type.Kind == "Deployment")
        {
            string? strategy = Json.Str(obj, "spec", "strategy", "type");
            if (strategy is not ("RollingUpdate" or "Recreate"))
            {
                errors.Add(("spec.strategy.type", $"Unsupported value: \"{strategy}\": supported values: \"Recreate\", \"RollingUpdate\""));
            }

            if (strategy == "Recreate" && Json.At(obj, "spec", "strategy", "rollingUpdate") is not null)
            {
                errors.Add(("spec.strategy.rollingUpdate", "Forbidden: may not be specified when strategy `type` is 'Recreate'"));
            }
        }

        ValidatePodSpec(Json.At(obj, "spec", "template", "spec") as JsonObject, "spec.template.spec", errors);
        if (Json.Str(obj, "spec", "template", "spec", "restartPolicy") is { } rp && rp != "Always")
        {
            errors.Add(("spec.template.spec.restartPolicy", $"Unsupported value: \"{rp}\": supported values: \"Always\""));
        }
    }

    private static void ValidatePodSpec(JsonObject? spec, string at, List<(string, string)> errors)
    {
        if (spec is null)
        {
            errors.Add((at, "Required value"));
            return;
        }

        if (Json.At(spec, "containers") is not JsonArray containers || containers.Count == 0)
        {
            errors.Add(($"{at}.containers", "Required value"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string list in new[] { "initContainers", "containers" })
        {
            int i = 0;
            foreach (var c in Json.Items(spec, list))
            {
                string field = $"{at}.{list}[{i}]";
                string? cname = Json.Str(c, "name");
                if (string.IsNullOrEmpty(cname))
                {
                    errors.Add(($"{field}.name", "Required value"));
                }
                else if (!DnsLabel().IsMatch(cname))
                {
                    errors.Add(($"{field}.name", $"Invalid value: \"{cname}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"));
                }
                else if (!names.Add(cname))
                {
                    errors.Add(($"{field}.name", $"Duplicate value: \"{cname}\""));
                }

                if (string.IsNullOrWhiteSpace(Json.Str(c, "image")))
                {
                    errors.Add(($"{field}.image", "Required value"));
                }

                int j = 0;
                foreach (var p in Json.Items(c, "ports"))
                {
                    if (Json.Int(p, "containerPort") is not (>= 1 and <= 65535))
                    {
                        errors.Add(($"{field}.ports[{j}].containerPort", $"Invalid value: {p["containerPort"]?.ToJsonString() ?? "null"}: must be between 1 and 65535, inclusive"));
                    }

                    j++;
                }

                j = 0;
                foreach (var e in Json.Items(c, "env"))
                {
                    if (string.IsNullOrEmpty(Json.Str(e, "name")))
                    {
                        errors.Add(($"{field}.env[{j}].name", "Required value"));
                    }

                    j++;
                }

                foreach (string res in new[] { "limits", "requests" })
                {
                    foreach (var (rk, rv) in Json.At(c, "resources", res) as JsonObject ?? [])
                    {
                        if (Quantity.TryParse(rv, out _) is false)
                        {
                            errors.Add(($"{field}.resources.{res}[{rk}]", $"Invalid value: {rv?.ToJsonString()}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
                        }
                    }
                }

                i++;
            }
        }

        if (Json.Str(spec, "restartPolicy") is { } policy && policy is not ("Always" or "OnFailure" or "Never"))
        {
            errors.Add(($"{at}.restartPolicy", $"Unsupported value: \"{policy}\": supported values: \"Always\", \"OnFailure\", \"Never\""));
        }

        var volumes = new HashSet<string>(StringComparer.Ordinal);
        int v = 0;
        foreach (var vol in Json.Items(spec, "volumes"))
        {
            if (Json.Str(vol, "name") is not { Length: > 0 } vname || !volumes.Add(vname))
            {
                errors.Add(($"{at}.volumes[{v}].name", "Required value or duplicate"));
            }

            v++;
        }

        foreach (string list in new[] { "initContainers", "containers" })
        {
            int i = 0;
            foreach (var c in Json.Items(spec, list))
            {
                int j = 0;
                foreach (var m in Json.Items(c, "volumeMounts"))
                {
                    if (Json.Str(m, "name") is not { } mname || !volumes.Contains(mname))
                    {
                        errors.Add(($"{at}.{list}[{i}].volumeMounts[{j}].name", $"Not found: \"{Json.Str(m, "name")}\""));
                    }

                    j++;
                }

                i++;
            }
        }
    }

    private static void ValidatePodUpdate(JsonObject obj, JsonObject old, List<(string, string)> errors)
    {
        // only images (and a few scheduling fields) may change on a running pod
        var a = Json.At(obj, "spec")?.DeepClone() as JsonObject ?? [];
        var b = Json.At(old, "spec")?.DeepClone() as JsonObject ?? [];
        foreach (var s in new[] { a, b })
        {
            foreach (var c in Json.Items(s, "containers").Concat(Json.Items(s, "initContainers")))
            {
                c.Remove("image");
            }

            s.Remove("activeDeadlineSeconds");
            s.Remove("tolerations");
            if (Json.Str(old, "spec", "nodeName") is null)
            {
                s.Remove("nodeName");
            }
        }

        if (!JsonNode.DeepEquals(a, b))
        {
            errors.Add(("spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations)"));
        }
    }

    private static void ValidateService(JsonObject obj, List<(string, string)> errors)
    {
        string? type = Json.Str(obj, "spec", "type");
        if (type is not ("ClusterIP" or "NodePort" or "LoadBalancer" or "ExternalName"))
        {
            errors.Add(("spec.type", $"Unsupported value: \"{type}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""));
        }

        bool headless = Json.Str(obj, "spec", "clusterIP") == "None";
        var ports = Json.Items(obj, "spec", "ports").ToList();
        if (ports.Count == 0 && !headless && type != "ExternalName")
        {
            errors.Add(("spec.ports", "Required value"));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < ports.Count; i++)
        {
            var p = ports[i];
            if (Json.Int(p, "port") is not (>= 1 and <= 65535))
            {
                errors.Add(($"spec.ports[{i}].port", $"Invalid value: {p["port"]?.ToJsonString() ?? "null"}: must be between 1 and 65535, inclusive"));
            }

            if (ports.Count > 1 && string.IsNullOrEmpty(Json.Str(p, "name")))
            {
                errors.Add(($"spec.ports[{i}].name", "Required value"));
            }
            else if (Json.Str(p, "name") is { Length: > 0 } pname && !names.Add(pname))
            {
                errors.Add(($"spec.ports[{i}].name", $"Duplicate value: \"{pname}\""));
            }

            if (Json.Int(p, "nodePort") is { } nodePort)
            {
                if (type is not ("NodePort" or "LoadBalancer"))
                {
                    errors.Add(($"spec.ports[{i}].nodePort", "Forbidden: may not be used when `type` is 'ClusterIP'"));
                }
                else if (nodePort is < 30000 or > 32767)
                {
                    errors.Add(($"spec.ports[{i}].nodePort", $"Invalid value: {nodePort}: provided port is not in the valid range. The range of valid ports is 30000-32767"));
                }
            }

            if (Json.Str(p, "protocol") is { } proto && proto is not ("TCP" or "UDP" or "SCTP"))
            {
                errors.Add(($"spec.ports[{i}].protocol", $"Unsupported value: \"{proto}\": supported values: \"SCTP\", \"TCP\", \"UDP\""));
            }
        }
    }
}
