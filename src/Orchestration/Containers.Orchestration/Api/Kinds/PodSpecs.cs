namespace Containers.Orchestration.Api.Kinds;

/// <summary>The defaults and validation of a pod spec, shared by Pod and by the kinds that hold a pod template.</summary>
internal static class PodSpecs
{
    /// <summary>Fills in a pod spec's defaults; <paramref name="pod"/> for a pod itself (priority and the default tolerations are set on pods, never on templates).</summary>
    public static void Default(JsonObject spec, bool pod, long notReadySeconds, long unreachableSeconds)
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
                DefaultContainer(c);
            }
        }

        if (pod && !HasTolerations(spec))
        {
            // DefaultTolerationSeconds admission: evicted 300 s (kube-apiserver's --default-not-ready-toleration-seconds and
            // --default-unreachable-toleration-seconds) after the node goes not-ready or unreachable
            var tolerations = spec["tolerations"] as JsonArray ?? [];
            spec["tolerations"] = tolerations;
            tolerations.Add((JsonNode)new JsonObject { ["key"] = "node.kubernetes.io/not-ready", ["operator"] = "Exists", ["effect"] = "NoExecute", ["tolerationSeconds"] = notReadySeconds });
            tolerations.Add((JsonNode)new JsonObject { ["key"] = "node.kubernetes.io/unreachable", ["operator"] = "Exists", ["effect"] = "NoExecute", ["tolerationSeconds"] = unreachableSeconds });
        }
    }

    private static void DefaultContainer(JsonObject c)
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

    private static bool HasTolerations(JsonObject spec) =>
        Json.Items(spec, "tolerations").Any(t => Json.Str(t, "key") is "node.kubernetes.io/not-ready" or "node.kubernetes.io/unreachable");

    /// <summary>Validates a pod spec found at <paramref name="at"/> (spec, spec.template.spec).</summary>
    public static void Validate(JsonObject? spec, string at, List<(string, string)> errors)
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
                ValidateContainer(c, $"{at}.{list}[{i}]", names, errors);
                i++;
            }
        }

        if (Json.Str(spec, "restartPolicy") is { } policy && policy is not ("Always" or "OnFailure" or "Never"))
        {
            errors.Add(($"{at}.restartPolicy", $"Unsupported value: \"{policy}\": supported values: \"Always\", \"OnFailure\", \"Never\""));
        }

        if (Json.Bool(spec, "hostUsers") == false)
        {
            // a pod in a user namespace shares none of the host's (kube-apiserver's words)
            foreach (var host in new[] { "hostNetwork", "hostPID", "hostIPC" })
            {
                if (Json.Bool(spec, host) == true)
                {
                    errors.Add(($"{at}.{host}", "Forbidden: when `hostUsers` is false, " + host + " must be false"));
                }
            }
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

    private static void ValidateContainer(JsonObject c, string field, HashSet<string> names, List<(string, string)> errors)
    {
        string? cname = Json.Str(c, "name");
        if (string.IsNullOrEmpty(cname))
        {
            errors.Add(($"{field}.name", "Required value"));
        }
        else if (!Admission.DnsLabel().IsMatch(cname))
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
    }

    /// <summary>
    /// Validates a workload that owns pods through a selector and a template (Deployment, ReplicaSet): the selector is
    /// required, matches the template's labels and never changes; replicas are not negative; the template's pods restart Always.
    /// </summary>
    public static void ValidateWorkload(JsonObject obj, JsonObject? old, List<(string, string)> errors)
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
    }

    /// <summary>Validates a workload's pod template (after the kind's own checks, as kube-apiserver orders the errors).</summary>
    public static void ValidateTemplate(JsonObject obj, List<(string, string)> errors)
    {
        Validate(Json.At(obj, "spec", "template", "spec") as JsonObject, "spec.template.spec", errors);
        if (Json.Str(obj, "spec", "template", "spec", "restartPolicy") is { } rp && rp != "Always")
        {
            errors.Add(("spec.template.spec.restartPolicy", $"Unsupported value: \"{rp}\": supported values: \"Always\""));
        }
    }

    /// <summary>
    /// Validates an int-or-percent field (maxSurge, maxUnavailable) at <paramref name="at"/>: a non-negative integer or
    /// a percent string of one; returns its number (null when absent or invalid).
    /// </summary>
    public static long? ValidateIntOrPercent(JsonNode? value, string at, List<(string, string)> errors)
    {
        if (value is null)
        {
            return null;
        }

        long n;
        if (value.GetValueKind() == System.Text.Json.JsonValueKind.String)
        {
            string text = value.GetValue<string>();
            if (!text.EndsWith('%') || !long.TryParse(text[..^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out n))
            {
                errors.Add((at, $"Invalid value: \"{text}\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
                return null;
            }

            if (n > 100)
            {
                errors.Add((at, $"Invalid value: \"{text}\": must not be greater than 100%"));
            }
        }
        else if (value.GetValueKind() == System.Text.Json.JsonValueKind.Number && long.TryParse(value.ToJsonString(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out n))
        {
            if (n < 0)
            {
                errors.Add((at, $"Invalid value: {n}: must be greater than or equal to 0"));
                return null;
            }
        }
        else
        {
            errors.Add((at, $"Invalid value: {value.ToJsonString()}: must be an integer or a percentage"));
            return null;
        }

        return n;
    }

    /// <summary>The columns of a workload with a pod template shown with -o wide.</summary>
    public static IEnumerable<TableColumn> WideTemplateColumns() =>
    [
        new("Containers", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "template", "spec", "containers").Select(c => Json.Str(c, "name")))),
        new("Images", "string", 1, (o, _) => string.Join(",", Json.Items(o, "spec", "template", "spec", "containers").Select(c => Json.Str(c, "image")))),
        new("Selector", "string", 1, (o, _) => LabelSelector.FromObject(Json.At(o, "spec", "selector")).ToString()),
    ];
}
