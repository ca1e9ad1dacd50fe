namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// NetworkPolicy (networking.k8s.io/v1), as kube-apiserver defaults and validates it: policyTypes Ingress (and Egress
/// when egress rules are given) unless listed; a pod selector, peers of pod and namespace selectors or an ipBlock
/// (a CIDR whose exceptions lie inside it, never with a selector), ports with protocol TCP, UDP or SCTP and an
/// endPort not below the port.
/// </summary>
internal sealed class NetworkPolicyStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true)
    {
        ShortNames = ["netpol"], HasGeneration = true, Strategy = new NetworkPolicyStrategy(),
    };

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        var spec = Json.Obj(obj, "spec");
        spec["podSelector"] ??= new JsonObject();
        if (spec["policyTypes"] is not JsonArray { Count: > 0 })
        {
            spec["policyTypes"] = spec["egress"] is JsonArray ? new JsonArray("Ingress", "Egress") : new JsonArray("Ingress");
        }

        foreach (var rule in Json.Items(spec, "ingress").Concat(Json.Items(spec, "egress")))
        {
            foreach (var port in Json.Items(rule, "ports"))
            {
                port["protocol"] ??= "TCP";
            }
        }
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        Selector(Json.At(obj, "spec", "podSelector"), "spec.podSelector", errors);
        int t = 0;
        foreach (var type in Json.At(obj, "spec", "policyTypes") as JsonArray ?? [])
        {
            if (type?.ToString() is not ("Ingress" or "Egress"))
            {
                errors.Add(($"spec.policyTypes[{t}]", $"Unsupported value: \"{type}\": supported values: \"Egress\", \"Ingress\""));
            }

            t++;
        }

        foreach (var (direction, peers) in new[] { ("ingress", "from"), ("egress", "to") })
        {
            int i = 0;
            foreach (var rule in Json.Items(obj, "spec", direction))
            {
                string at = $"spec.{direction}[{i++}]";
                int p = 0;
                foreach (var port in Json.Items(rule, "ports"))
                {
                    string pat = $"{at}.ports[{p++}]";
                    if (Json.Str(port, "protocol") is { } protocol and not ("TCP" or "UDP" or "SCTP"))
                    {
                        errors.Add((pat + ".protocol", $"Unsupported value: \"{protocol}\": supported values: \"SCTP\", \"TCP\", \"UDP\""));
                    }

                    long? number = Json.Int(port, "port");
                    if (number is < 1 or > 65535)
                    {
                        errors.Add((pat + ".port", $"Invalid value: {number}: must be between 1 and 65535, inclusive"));
                    }

                    if (Json.Int(port, "endPort") is { } end && (number is null || end < number))
                    {
                        errors.Add((pat + ".endPort", number is null ? "Required value: may not be specified when `port` is not specified" : $"Invalid value: {end}: must be greater than or equal to `port`"));
                    }
                }

                int q = 0;
                foreach (var peer in Json.Items(rule, peers))
                {
                    string pat = $"{at}.{peers}[{q++}]";
                    var block = Json.At(peer, "ipBlock") as JsonObject;
                    bool selectors = Json.At(peer, "podSelector") is not null || Json.At(peer, "namespaceSelector") is not null;
                    if (block is not null && selectors)
                    {
                        errors.Add((pat, "Forbidden: may not specify more than 1 peer type"));
                    }
                    else if (block is null && !selectors)
                    {
                        errors.Add((pat, "Required value: must specify a peer"));
                    }

                    Selector(Json.At(peer, "podSelector"), pat + ".podSelector", errors);
                    Selector(Json.At(peer, "namespaceSelector"), pat + ".namespaceSelector", errors);
                    if (block is not null)
                    {
                        string cidr = Json.Str(block, "cidr") ?? "";
                        if (!System.Net.IPNetwork.TryParse(cidr, out var net))
                        {
                            errors.Add((pat + ".ipBlock.cidr", $"Invalid value: \"{cidr}\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"));
                            continue;
                        }

                        int e = 0;
                        foreach (var except in Json.At(block, "except") as JsonArray ?? [])
                        {
                            string text = except?.ToString() ?? "";
                            if (!System.Net.IPNetwork.TryParse(text, out var x) || !net.Contains(x.BaseAddress) || x.PrefixLength <= net.PrefixLength)
                            {
                                errors.Add(($"{pat}.ipBlock.except[{e}]", $"Invalid value: \"{text}\": must be a strict subset of `cidr`"));
                            }

                            e++;
                        }
                    }
                }
            }
        }
    }

    private static void Selector(JsonNode? selector, string at, List<(string, string)> errors)
    {
        if (selector is null)
        {
            return;
        }

        try
        {
            LabelSelector.FromObject(selector);
        }
        catch (ApiException e)
        {
            errors.Add((at, e.Message));
        }
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        new("Pod-Selector", "string", 0, (o, _) => LabelSelector.FromObject(Json.At(o, "spec", "podSelector")).ToString() is { Length: > 0 } s ? s : "<none>"),
        TableColumn.ObjectAge,
    ];
}
