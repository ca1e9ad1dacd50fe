namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// Ingress (networking.k8s.io/v1), as kube-apiserver validates it: rules of hosts (a DNS name, or a wildcard
/// <c>*.example.com</c>) and HTTP paths (absolute, with pathType Exact, Prefix or ImplementationSpecific) each with a
/// backend (a Service by name and port number or name, never both), an optional default backend, TLS entries naming
/// Secrets. The built-in controller in the node's proxy (<see cref="Nodes.IngressProxy"/>) serves them.
/// </summary>
internal sealed class IngressStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("networking.k8s.io", "v1", "Ingress", "ingresses", true)
    {
        ShortNames = ["ing"], HasStatus = true, HasGeneration = true, Strategy = new IngressStrategy(),
    };

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        if (Json.At(obj, "spec", "defaultBackend") is JsonObject fallback)
        {
            ValidateBackend(fallback, "spec.defaultBackend", errors);
        }
        else if (Json.At(obj, "spec", "rules") is not JsonArray { Count: > 0 })
        {
            errors.Add(("spec.rules", "Required value: either `defaultBackend` or `rules` must be specified"));
        }

        int i = 0;
        foreach (var rule in Json.Items(obj, "spec", "rules"))
        {
            string at = $"spec.rules[{i++}]";
            if (Json.Str(rule, "host") is { Length: > 0 } host)
            {
                string name = host.StartsWith("*.", StringComparison.Ordinal) ? host[2..] : host;
                if (System.Net.IPAddress.TryParse(host, out _))
                {
                    errors.Add((at + ".host", $"Invalid value: \"{host}\": must be a DNS name, not an IP address"));
                }
                else if (!Admission.DnsSubdomain().IsMatch(name) || name.Contains('*', StringComparison.Ordinal))
                {
                    errors.Add((at + ".host", $"Invalid value: \"{host}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (a wildcard is allowed only as the first label, as '*.example.com')"));
                }
            }

            int p = 0;
            foreach (var path in Json.Items(rule, "http", "paths"))
            {
                string pat = $"{at}.http.paths[{p++}]";
                string? type = Json.Str(path, "pathType");
                if (type is not ("Exact" or "Prefix" or "ImplementationSpecific"))
                {
                    errors.Add((pat + ".pathType", type is null ? "Required value: pathType must be specified" : $"Unsupported value: \"{type}\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""));
                }

                if (Json.Str(path, "path") is { } value && !value.StartsWith('/'))
                {
                    errors.Add((pat + ".path", $"Invalid value: \"{value}\": must be an absolute path"));
                }
                else if (type is "Exact" or "Prefix" && Json.Str(path, "path") is null)
                {
                    errors.Add((pat + ".path", "Required value: must be specified when pathType is Exact or Prefix"));
                }

                ValidateBackend(Json.At(path, "backend") as JsonObject, pat + ".backend", errors);
            }

            if (Json.At(rule, "http") is JsonObject && Json.At(rule, "http", "paths") is not JsonArray { Count: > 0 })
            {
                errors.Add((at + ".http.paths", "Required value"));
            }
        }

        i = 0;
        foreach (var tls in Json.Items(obj, "spec", "tls"))
        {
            if (Json.Str(tls, "secretName") is { Length: > 0 } secret && !Admission.DnsSubdomain().IsMatch(secret))
            {
                errors.Add(($"spec.tls[{i}].secretName", $"Invalid value: \"{secret}\": a lowercase RFC 1123 subdomain"));
            }

            i++;
        }
    }

    private static void ValidateBackend(JsonObject? backend, string at, List<(string, string)> errors)
    {
        if (backend is null)
        {
            errors.Add((at, "Required value"));
            return;
        }

        if (Json.At(backend, "service") is not JsonObject service)
        {
            errors.Add((at, "Invalid value: only a service backend is supported here"));
            return;
        }

        if (string.IsNullOrEmpty(Json.Str(service, "name")))
        {
            errors.Add((at + ".service.name", "Required value"));
        }

        bool number = Json.Int(service, "port", "number") is not null, named = Json.Str(service, "port", "name") is not null;
        if (number == named)
        {
            errors.Add((at + ".service.port", number ? "Invalid value: cannot set both port name & port number" : "Required value: port name or number is required"));
        }
        else if (Json.Int(service, "port", "number") is { } n and (< 1 or > 65535))
        {
            errors.Add((at + ".service.port.number", $"Invalid value: {n}: must be between 1 and 65535, inclusive"));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Class", "string", 0, (o, _) => Json.Str(o, "spec", "ingressClassName") ?? "<none>"),
        new("Hosts", "string", 0, (o, _) => Json.Items(o, "spec", "rules").Select(r => Json.Str(r, "host") ?? "*").DefaultIfEmpty("*").Distinct() is var hosts ? string.Join(",", hosts) : ""),
        new("Address", "string", 0, (o, _) => string.Join(",", Json.Items(o, "status", "loadBalancer", "ingress").Select(a => Json.Str(a, "ip") ?? Json.Str(a, "hostname")))),
        new("Ports", "string", 0, (o, _) => Json.Items(o, "spec", "tls").Any() ? "80, 443" : "80"),
        TableColumn.ObjectAge,
    ];
}

/// <summary>IngressClass (networking.k8s.io/v1, cluster-wide): which controller serves the Ingresses naming it; one may be the default.</summary>
internal sealed class IngressClassStrategy : KindStrategy
{
    /// <summary>The annotation marking the default class (Ingresses that name none are its).</summary>
    public const string DefaultAnnotation = "ingressclass.kubernetes.io/is-default-class";

    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false) { Strategy = new IngressClassStrategy() };

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        string? controller = Json.Str(obj, "spec", "controller");
        if (string.IsNullOrEmpty(controller))
        {
            errors.Add(("spec.controller", "Required value"));
        }
        else if (old is not null && controller != Json.Str(old, "spec", "controller"))
        {
            errors.Add(("spec.controller", $"Invalid value: \"{controller}\": field is immutable"));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.Text("Controller", "spec", "controller"),
        new("Parameters", "string", 0, (o, _) => Json.At(o, "spec", "parameters") is JsonObject p ? $"{Json.Str(p, "kind")}/{Json.Str(p, "name")}" : "<none>"),
        TableColumn.ObjectAge,
    ];
}
