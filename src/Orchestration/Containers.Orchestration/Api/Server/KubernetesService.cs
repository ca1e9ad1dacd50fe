namespace Containers.Orchestration.Api;

/// <summary>
/// kube-apiserver's own Service: <c>kubernetes</c> in <c>default</c>, on the first address of the service range, port
/// 443 (https), with Endpoints that point at the API server (kept current at each start, as its endpoint reconciler
/// does). Pods find the API through it: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, or
/// kubernetes.default.svc.
/// </summary>
internal static class KubernetesService
{
    /// <summary>Creates or corrects the Service and its Endpoints for an API server at <paramref name="address"/>:<paramref name="port"/>.</summary>
    public static void Reconcile(ObjectApi api, string address, int port)
    {
        string clusterIp = ServiceAddressAllocator.Offset(api.ServiceNetwork.Network, 1).ToString();
        var labels = new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" };
        var service = api.TryGet(ResourceType.Services, "default", "kubernetes");
        if (service is null)
        {
            try
            {
                Create(api, clusterIp, labels, port);
            }
            catch (ApiException e) when (e.Code is 409 or 422 && api.TryGet(ResourceType.Services, "default", "kubernetes") is not null)
            {
                // another API server on the same store made it (its address taken by that one): corrected below if need be
            }

            service = api.Get(ResourceType.Services, "default", "kubernetes");
        }

        if (Json.Items(service, "spec", "ports").FirstOrDefault() is not { } first || Json.Int(first, "targetPort") != port)
        {
            api.Mutate(ResourceType.Services, "default", "kubernetes", o =>
            {
                Json.Obj(o, "spec")["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443, ["protocol"] = "TCP", ["targetPort"] = port });
                return true;
            });
        }

        var subsets = new JsonArray(new JsonObject
        {
            ["addresses"] = new JsonArray(new JsonObject { ["ip"] = address }),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = port, ["protocol"] = "TCP" }),
        });
        if (api.TryGet(ResourceType.Endpoints, "default", "kubernetes") is null)
        {
            api.Create(ResourceType.Endpoints, "default", new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = "kubernetes", ["labels"] = new JsonObject { ["endpointslice.kubernetes.io/skip-mirror"] = "true" } },
                ["subsets"] = subsets,
            });
        }
        else
        {
            api.Mutate(ResourceType.Endpoints, "default", "kubernetes", o =>
            {
                if (JsonNode.DeepEquals(o["subsets"], subsets))
                {
                    return false;
                }

                o["subsets"] = subsets.DeepClone();
                return true;
            });
        }
    }

    private static void Create(ObjectApi api, string clusterIp, JsonObject labels, int port) =>
        api.Create(ResourceType.Services, "default", new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "kubernetes", ["labels"] = labels.DeepClone() },
            ["spec"] = new JsonObject
            {
                ["type"] = "ClusterIP",
                ["clusterIP"] = clusterIp,
                ["sessionAffinity"] = "None",
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443, ["protocol"] = "TCP", ["targetPort"] = port }),
            },
        });
}
