namespace Containers.Orchestration.Controllers;

/// <summary>
/// Writes each selector Service's Endpoints: the IPs of the matching pods (ready ones under addresses, the others under
/// notReadyAddresses) with the service's ports resolved against the pods (a named targetPort looks the name up in the
/// pod's container ports).
/// </summary>
internal sealed class EndpointsController : IReconciler<string>
{
    private readonly ObjectApi api;
    private readonly Informer services;
    private readonly Informer pods;
    private readonly Informer endpoints;

    public EndpointsController(ControllerBuilder b)
    {
        api = b.Api;
        Queue = b.Queue;
        services = b.Watches(ResourceType.Services, (old, svc) => [PodState.Key(svc ?? old!)]); // its deletion too: its Endpoints go
        pods = b.Watches(ResourceType.Pods, (old, pod) =>
        {
            if (old is not null)
            {
                QueueServicesOf(old);
            }

            if (pod is not null)
            {
                QueueServicesOf(pod);
            }
        });
        endpoints = b.Reads(ResourceType.Endpoints);
    }

    /// <summary>Queues the services whose selector matches a pod's labels.</summary>
    private void QueueServicesOf(JsonObject pod)
    {
        var labels = PodState.Of(pod).Labels;
        foreach (var svc in services.ListStored(Json.Namespace(pod)))
        {
            // each service's selector is read once per revision of the service, not once per pod event
            if (selectors.GetValue(svc, static s => Json.Map(ObjectApi.View(s), "spec", "selector") is { Count: > 0 } map ? LabelSelector.FromMap(map) : null) is { } selector
                && selector.Matches(labels))
            {
                Queue.Add($"{svc.Key.Namespace}/{svc.Key.Name}");
            }
        }
    }

    public WorkQueue<string> Queue { get; }

    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Storage.StoredObject, LabelSelector?> selectors = [];

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var svc = services.Get(ns, name);
        var selector = svc is null ? null : Json.Map(svc, "spec", "selector");
        if (svc is null || selector!.Count == 0)
        {
            if (svc is null && endpoints.Get(ns, name) is not null)
            {
                try
                {
                    api.Delete(ResourceType.Endpoints, ns, name);
                }
                catch (ApiException e) when (e.Code == 404)
                {
                }
            }

            return Task.FromResult(default(ReconcileResult));
        }

        var matcher = LabelSelector.FromMap(selector);
        var subsets = new Dictionary<string, (JsonArray Ports, JsonArray Ready, JsonArray NotReady)>(StringComparer.Ordinal);
        bool publishNotReady = Json.Bool(svc, "spec", "publishNotReadyAddresses") == true;
        foreach (var pod in pods.List(ns).Where(p => matcher.Matches(p) && !Json.Has(p, "metadata", "deletionTimestamp") && Json.Str(p, "status", "podIP") is not null)
                     .OrderBy(p => Json.Str(p, "status", "podIP"), StringComparer.Ordinal))
        {
            var ports = new JsonArray();
            foreach (var sp in Json.Items(svc, "spec", "ports"))
            {
                long? port = ResolveTargetPort(sp, pod);
                if (port is null)
                {
                    continue;
                }

                var ep = new JsonObject { ["port"] = port, ["protocol"] = Json.Str(sp, "protocol") ?? "TCP" };
                if (Json.Str(sp, "name") is { Length: > 0 } pn)
                {
                    ep["name"] = pn;
                }

                ports.Add((JsonNode)ep);
            }

            string signature = ports.ToJsonString();
            if (!subsets.TryGetValue(signature, out var subset))
            {
                subset = (ports, [], []);
                subsets[signature] = subset;
            }

            var address = new JsonObject
            {
                ["ip"] = Json.Str(pod, "status", "podIP"),
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = ns, ["name"] = Json.Name(pod), ["uid"] = Json.Uid(pod) },
            };
            if (Json.Str(pod, "spec", "hostname") is { Length: > 0 } hostname && Json.Str(pod, "spec", "subdomain") == name)
            {
                address["hostname"] = hostname; // HOSTNAME.SVC.NS.svc.cluster.local (a StatefulSet's pods under its headless Service)
            }

            if (Json.Str(pod, "spec", "nodeName") is { } node)
            {
                address["nodeName"] = node;
            }

            (PodState.IsReady(pod) || publishNotReady ? subset.Ready : subset.NotReady).Add((JsonNode)address);
        }

        var list = new JsonArray();
        foreach (var (ports, ready, notReady) in subsets.Values)
        {
            var s = new JsonObject();
            if (ready.Count > 0)
            {
                s["addresses"] = ready;
            }

            if (notReady.Count > 0)
            {
                s["notReadyAddresses"] = notReady;
            }

            if (ports.Count > 0)
            {
                s["ports"] = ports;
            }

            list.Add((JsonNode)s);
        }

        var current = endpoints.Get(ns, name);
        if (current is null)
        {
            var ep = new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = Json.At(svc, "metadata", "labels")?.DeepClone() },
            };
            if (list.Count > 0)
            {
                ep["subsets"] = list;
            }

            try
            {
                api.Create(ResourceType.Endpoints, ns, ep);
            }
            catch (ApiException e) when (e.Reason == "AlreadyExists")
            {
                return Task.FromResult(new ReconcileResult(TimeSpan.FromMilliseconds(100)));
            }
        }
        else if (!JsonNode.DeepEquals(Json.At(current, "subsets") ?? new JsonArray(), list))
        {
            api.Mutate(ResourceType.Endpoints, ns, name, o =>
            {
                if (list.Count > 0)
                {
                    o["subsets"] = list.DeepClone();
                }
                else
                {
                    o.Remove("subsets");
                }

                return true;
            });
        }

        return Task.FromResult(default(ReconcileResult));
    }

    /// <summary>The pod port a service port sends to (a number, or a container port's name), or null when the pod has no such named port.</summary>
    internal static long? ResolveTargetPort(JsonObject servicePort, JsonObject pod)
    {
        var target = servicePort["targetPort"] ?? servicePort["port"];
        if (target is JsonValue v && v.TryGetValue(out string? portName) && !long.TryParse(portName, out _))
        {
            return Json.Items(pod, "spec", "containers").SelectMany(c => Json.Items(c, "ports")).FirstOrDefault(p => Json.Str(p, "name") == portName) is { } named
                ? Json.Int(named, "containerPort")
                : null;
        }

        return target is JsonValue tv && tv.TryGetValue(out string? s) ? long.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : Json.Int(servicePort, "targetPort") ?? Json.Int(servicePort, "port");
    }
}
