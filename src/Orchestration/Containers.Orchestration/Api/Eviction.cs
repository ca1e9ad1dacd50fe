using Containers.Orchestration.Api.Kinds;
using Containers.Orchestration.Controllers;

namespace Containers.Orchestration.Api;

/// <summary>
/// The eviction subresource of pods as kube-apiserver's eviction REST: a pod that is pending, finished or already
/// going is deleted at once; otherwise the one PodDisruptionBudget over it (more than one is an error) must allow a
/// disruption: its disruptionsAllowed is lowered and the pod recorded under disruptedPods in the same write (a
/// conflicting write retries), then the pod is deleted. A budget that allows none, or whose status is older than its
/// spec, answers 429 TooManyRequests; a pod that is not ready goes when the budget is met anyway
/// (unhealthyPodEvictionPolicy IfHealthyBudget) or always (AlwaysAllow).
/// </summary>
internal static class Eviction
{
    private const string Refused = "Cannot evict pod as it would violate the pod's disruption budget.";

    public static void Evict(ObjectApi api, string ns, string name, DeleteOptions? options)
    {
        for (int attempt = 0; ; attempt++)
        {
            var pod = api.Get(ResourceType.Pods, ns, name);
            var facts = PodState.Of(pod);
            if (facts.Deleting || facts.Phase is "Pending" or "Succeeded" or "Failed" or null)
            {
                api.Delete(ResourceType.Pods, ns, name, options);
                return;
            }

            var budgets = api.List(PodDisruptionBudgetStrategy.Type, ns).Items
                .Where(b => Json.At(b, "spec", "selector") is { } s && LabelSelector.FromObject(s).Matches(facts.Labels)).ToList();
            if (budgets.Count == 0)
            {
                api.Delete(ResourceType.Pods, ns, name, options);
                return;
            }

            if (budgets.Count > 1)
            {
                throw new ApiException(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
            }

            var pdb = budgets[0];
            long desired = Json.Int(pdb, "status", "desiredHealthy") ?? 0;
            long healthy = Json.Int(pdb, "status", "currentHealthy") ?? 0;
            if (!facts.Ready)
            {
                // an unhealthy pod does not lower the budget: it may go when the budget is met without it
                if (Json.Str(pdb, "spec", "unhealthyPodEvictionPolicy") == "AlwaysAllow" || (healthy >= desired && desired > 0))
                {
                    api.Delete(ResourceType.Pods, ns, name, options);
                    return;
                }

                throw TooMany(pdb, desired, healthy);
            }

            if ((Json.Int(pdb, "status", "observedGeneration") ?? 0) < (Json.Int(pdb, "metadata", "generation") ?? 1))
            {
                throw new ApiException(429, "TooManyRequests", Refused, details: new JsonObject { ["retryAfterSeconds"] = 10 });
            }

            long allowed = Json.Int(pdb, "status", "disruptionsAllowed") ?? 0;
            if (allowed <= 0)
            {
                throw TooMany(pdb, desired, healthy);
            }

            var copy = Json.Clone(pdb);
            var status = Json.Obj(copy, "status");
            status["disruptionsAllowed"] = allowed - 1;
            Json.Obj(status, "disruptedPods")[name] = Json.Time(api.Time.GetUtcNow());
            try
            {
                if (options?.DryRun != true)
                {
                    api.Update(PodDisruptionBudgetStrategy.Type, ns, Json.Name(pdb), copy, "status"); // over the version read: a concurrent eviction conflicts
                }
            }
            catch (ApiException e) when (e.Code == 409 && attempt < 20)
            {
                continue;
            }

            api.Delete(ResourceType.Pods, ns, name, options);
            return;
        }
    }

    private static ApiException TooMany(JsonObject pdb, long desired, long healthy) =>
        new(429, "TooManyRequests", Refused, details: new JsonObject
        {
            ["causes"] = new JsonArray(new JsonObject
            {
                ["reason"] = "DisruptionBudget",
                ["message"] = $"The disruption budget {Json.Name(pdb)} needs {desired} healthy pods and has {healthy} currently",
            }),
        });
}
