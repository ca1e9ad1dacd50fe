namespace Containers.Orchestration.Api.Kinds;

/// <summary>Service (v1): type, traffic policies and port defaults; a cluster IP and node ports allocated on every write; validation of types and ports.</summary>
internal sealed class ServiceStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "Service", "services", true)
    {
        ShortNames = ["svc"], HasStatus = true, Strategy = new ServiceStrategy(),
    };

    /// <inheritdoc/>
    public override NameRule Names => NameRule.Label;

    /// <inheritdoc/>
    public override bool InCategoryAll => true;

    /// <inheritdoc/>
    public override bool Allocates => true;

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
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
    }

    /// <inheritdoc/>
    public override JsonObject? InitialStatus(JsonObject obj) => new() { ["loadBalancer"] = new JsonObject() };

    /// <inheritdoc/>
    public override void Allocate(ObjectApi api, JsonObject obj, JsonObject? current) => api.ServiceAddresses.Allocate(obj, current);

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
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
            ValidatePort(ports[i], i, ports.Count, type, names, errors);
        }
    }

    private static void ValidatePort(JsonObject p, int i, int count, string? type, HashSet<string> names, List<(string, string)> errors)
    {
        if (Json.Int(p, "port") is not (>= 1 and <= 65535))
        {
            errors.Add(($"spec.ports[{i}].port", $"Invalid value: {p["port"]?.ToJsonString() ?? "null"}: must be between 1 and 65535, inclusive"));
        }

        if (count > 1 && string.IsNullOrEmpty(Json.Str(p, "name")))
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

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.Text("Type", "spec", "type"),
        new("Cluster-IP", "string", 0, (o, _) => Json.Str(o, "spec", "clusterIP") ?? "<none>"),
        new("External-IP", "string", 0, (o, _) => ExternalIp(o)),
        new("Port(s)", "string", 0, (o, _) => Json.Items(o, "spec", "ports").Any()
            ? string.Join(",", Json.Items(o, "spec", "ports").Select(p => Json.Int(p, "nodePort") is { } np ? $"{Json.Int(p, "port")}:{np}/{Json.Str(p, "protocol")}" : $"{Json.Int(p, "port")}/{Json.Str(p, "protocol")}"))
            : "<none>"),
        TableColumn.ObjectAge,
        new("Selector", "string", 1, (o, _) => Json.Map(o, "spec", "selector") is { Count: > 0 } sel ? string.Join(",", sel.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>"),
    ];

    /// <summary>kubectl's EXTERNAL-IP: the external name, else the load balancer's addresses and externalIPs (&lt;pending&gt; for a LoadBalancer without any yet), else &lt;none&gt;.</summary>
    private static string ExternalIp(JsonObject o)
    {
        string? type = Json.Str(o, "spec", "type");
        if (type == "ExternalName")
        {
            return Json.Str(o, "spec", "externalName") ?? "<none>";
        }

        var addresses = Json.Items(o, "status", "loadBalancer", "ingress").Select(i => Json.Str(i, "ip") ?? Json.Str(i, "hostname"))
            .Concat((Json.At(o, "spec", "externalIPs") as JsonArray ?? []).Select(n => n?.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null)).OfType<string>().ToList();
        return addresses.Count > 0 ? string.Join(",", addresses) : type == "LoadBalancer" ? "<pending>" : "<none>";
    }
}
