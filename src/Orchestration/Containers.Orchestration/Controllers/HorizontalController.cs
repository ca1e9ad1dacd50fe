using System.Collections.Concurrent;
using System.Globalization;
using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Controllers;

/// <summary>
/// The horizontal pod autoscaler (kube's podautoscaler controller), every sync period for each autoscaler: reads its
/// target's scale subresource (replicas and selector), the resource metrics of the target's pods (cpu and memory,
/// from the metrics the nodes publish) against their requests, and proposes ceil(ratio × pods) for each metric,
/// within a tolerance of 10%; pods without metrics count as idle when scaling up and as on target when scaling down,
/// and pods not ready are left out of a cpu scale up. The highest proposal is stabilised (the lowest recommendation
/// of the scale-up window, the highest of the scale-down window: 0 s and 300 s by default), limited by the
/// behaviour's policies (by default up by 100% or 4 pods per 15 s, down by 100% per 15 s), and clamped to
/// minReplicas and maxReplicas. Status carries the current metrics and the AbleToScale, ScalingActive and
/// ScalingLimited conditions; a missing target is a condition and an event, not a failure.
/// </summary>
internal sealed class HorizontalController : IReconciler<string>
{
    private const string Component = "horizontal-pod-autoscaler";
    private const double Tolerance = 0.1;
    private readonly ObjectApi api;
    private readonly Informer autoscalers;
    private readonly Informer pods;
    private readonly TimeSpan period;
    private readonly ConcurrentDictionary<string, List<(DateTimeOffset At, long Replicas)>> recommendations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, List<(DateTimeOffset At, long Change)>> events = new(StringComparer.Ordinal);

    public HorizontalController(ControllerBuilder b, TimeSpan period)
    {
        api = b.Api;
        Queue = b.Queue;
        this.period = period;
        autoscalers = b.For(HorizontalPodAutoscalerStrategy.Type, (old, hpa) => old is null || !JsonNode.DeepEquals(Json.Read(old, "spec"), Json.Read(hpa, "spec")));
        pods = b.Reads(ResourceType.Pods);
    }

    public WorkQueue<string> Queue { get; }

    public Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var (ns, name) = PodState.Split(key);
        var hpa = autoscalers.Get(ns, name);
        if (hpa is null)
        {
            recommendations.TryRemove(key, out _);
            events.TryRemove(key, out _);
            return Task.FromResult(default(ReconcileResult));
        }

        var now = api.Time.GetUtcNow();
        var status = Json.Clone(Json.At(hpa, "status") as JsonObject ?? []);
        status["observedGeneration"] = Json.Int(hpa, "metadata", "generation") ?? 1;
        string kind = Json.Str(hpa, "spec", "scaleTargetRef", "kind") ?? "";
        string target = Json.Str(hpa, "spec", "scaleTargetRef", "name") ?? "";
        var type = ResourceType.ForKind(Json.Str(hpa, "spec", "scaleTargetRef", "apiVersion") ?? "apps/v1", kind);
        JsonObject scale;
        try
        {
            scale = type is { HasScale: true }
                ? api.GetScale(type, ns, target)
                : throw new ApiException(404, "NotFound", $"no matches for kind \"{kind}\" in group \"{Json.Str(hpa, "spec", "scaleTargetRef", "apiVersion")}\" that can scale");
        }
        catch (ApiException e)
        {
            string message = $"the HPA controller was unable to get the target's current scale: {e.Message}";
            if (!Has(status, "AbleToScale", "False", "FailedGetScale"))
            {
                api.RecordEvent(hpa, "Warning", "FailedGetScale", e.Message, Component);
            }

            PodState.SetCondition(status, "AbleToScale", "False", "FailedGetScale", message, now);
            Write(hpa, status);
            return Task.FromResult(new ReconcileResult(period));
        }

        long current = Json.Int(scale, "spec", "replicas") ?? 0;
        long min = Json.Int(hpa, "spec", "minReplicas") ?? 1;
        long max = Json.Int(hpa, "spec", "maxReplicas") ?? min;
        status["currentReplicas"] = current;
        long desired;
        string reason;
        if (current == 0 && min > 0)
        {
            desired = 0;
            reason = "";
            PodState.SetCondition(status, "ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", now);
        }
        else
        {
            var selector = LabelSelector.Parse(Json.Str(scale, "status", "selector"));
            var (proposal, metricName, currentMetrics, error) = Propose(hpa, ns, selector, current);
            if (error is not null)
            {
                if (!Has(status, "ScalingActive", "False", "FailedGetResourceMetric"))
                {
                    api.RecordEvent(hpa, "Warning", "FailedGetResourceMetric", error, Component);
                }

                PodState.SetCondition(status, "AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale", now);
                PodState.SetCondition(status, "ScalingActive", "False", "FailedGetResourceMetric", $"the HPA was unable to compute the replica count: {error}", now);
                Write(hpa, status);
                return Task.FromResult(new ReconcileResult(period));
            }

            status["currentMetrics"] = currentMetrics;
            PodState.SetCondition(status, "ScalingActive", "True", "ValidMetricFound", $"the HPA was able to successfully calculate a replica count from {metricName} resource utilization (percentage of request)", now);
            (desired, string ableReason, string ableMessage) = Normalize(key, hpa, current, proposal, now);
            PodState.SetCondition(status, "AbleToScale", "True", ableReason, ableMessage, now);
            reason = proposal > current ? $"{metricName} resource utilization (percentage of request) above target" : "All metrics below target";
        }

        // the bounds
        if (desired > max)
        {
            PodState.SetCondition(status, "ScalingLimited", "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count", now);
            desired = max;
        }
        else if (desired < min && !(current == 0 && min > 0))
        {
            PodState.SetCondition(status, "ScalingLimited", "True", "TooFewReplicas", "the desired replica count is less than the minimum replica count", now);
            desired = min;
        }
        else
        {
            PodState.SetCondition(status, "ScalingLimited", "False", "DesiredWithinRange", "the desired count is within the acceptable range", now);
        }

        status["desiredReplicas"] = desired;
        if (desired != current && type is not null && !(current == 0 && min > 0))
        {
            var rescaled = Json.Clone(scale);
            Json.Obj(rescaled, "spec")["replicas"] = desired;
            try
            {
                api.UpdateScale(type, ns, target, rescaled);
            }
            catch (ApiException e)
            {
                PodState.SetCondition(status, "AbleToScale", "False", "FailedUpdateScale", $"the HPA controller was unable to update the target scale: {e.Message}", now);
                api.RecordEvent(hpa, "Warning", "FailedRescale", $"New size: {desired}; reason: {reason}; error: {e.Message}", Component);
                Write(hpa, status);
                return Task.FromResult(new ReconcileResult(period));
            }

            var history = events.GetOrAdd(key, _ => []);
            lock (history)
            {
                history.Add((now, desired - current));
            }

            status["lastScaleTime"] = Json.Time(now);
            PodState.SetCondition(status, "AbleToScale", "True", "SucceededRescale", $"the HPA controller was able to update the target scale to {desired}", now);
            api.RecordEvent(hpa, "Normal", "SuccessfulRescale", $"New size: {desired}; reason: {reason}", Component);
        }

        Write(hpa, status);
        return Task.FromResult(new ReconcileResult(period));
    }

    private static bool Has(JsonObject status, string type, string value, string reason) =>
        Json.Items(status, "conditions").Any(c => Json.Str(c, "type") == type && Json.Str(c, "status") == value && Json.Str(c, "reason") == reason);

    private void Write(JsonObject hpa, JsonObject status)
    {
        if (!JsonNode.DeepEquals(Json.At(hpa, "status"), status))
        {
            api.Mutate(HorizontalPodAutoscalerStrategy.Type, Json.Namespace(hpa), Json.Name(hpa), o =>
            {
                o["status"] = status.DeepClone();
                return true;
            }, "status");
        }
    }

    /// <summary>The replicas the metrics ask for (the highest over the metrics), the metric that asked, the current metrics, or why none could be computed.</summary>
    private (long Replicas, string Metric, JsonArray Current, string? Error) Propose(JsonObject hpa, string ns, LabelSelector selector, long current)
    {
        var targeted = pods.List(ns).Where(p => selector.Matches(p) && !Json.Has(p, "metadata", "deletionTimestamp") && Json.Str(p, "status", "phase") != "Failed").ToList();
        long best = -1;
        string bestMetric = "";
        var currentMetrics = new JsonArray();
        foreach (var metric in Json.Items(hpa, "spec", "metrics"))
        {
            string resource = Json.Str(metric, "resource", "name") ?? "cpu";
            bool utilization = Json.Str(metric, "resource", "target", "type") == "Utilization";
            var (replicas, observed, error) = ForResource(targeted, ns, resource, utilization, metric, current);
            if (error is not null)
            {
                return (0, resource, currentMetrics, error);
            }

            var now = new JsonObject();
            if (utilization)
            {
                now["averageUtilization"] = observed.Utilization;
            }

            now["averageValue"] = Format(resource, observed.AverageValue);
            currentMetrics.Add((JsonNode)new JsonObject { ["type"] = "Resource", ["resource"] = new JsonObject { ["name"] = resource, ["current"] = now } });
            if (replicas > best)
            {
                (best, bestMetric) = (replicas, resource);
            }
        }

        return (best < 0 ? current : best, bestMetric, currentMetrics, null);
    }

    /// <summary>kube's GetResourceReplicas: the ratio of usage to target over the pods with metrics, then corrected for the pods without.</summary>
    private (long Replicas, (long Utilization, decimal AverageValue) Observed, string? Error) ForResource(List<JsonObject> targeted, string ns, string resource, bool utilization, JsonObject metric, long current)
    {
        var usage = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var requests = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var missing = new List<string>();
        var ignored = new List<string>();
        foreach (var pod in targeted)
        {
            string name = Json.Name(pod);
            decimal request = 0;
            foreach (var c in Json.Items(pod, "spec", "containers"))
            {
                if (Json.At(c, "resources", "requests", resource) is not { } r)
                {
                    if (utilization)
                    {
                        return (0, default, $"failed to get {resource} utilization: missing request for {resource} in container {Json.Str(c, "name")} of Pod {name}");
                    }

                    continue;
                }

                request += Quantity.Of(r);
            }

            requests[name] = request;
            var sample = api.Metrics.Pod(ns, name);
            if (sample is null)
            {
                if (Json.Str(pod, "status", "phase") == "Running" || Json.Str(pod, "status", "phase") == "Pending")
                {
                    missing.Add(name);
                }

                continue;
            }

            if (resource == "cpu" && !PodState.IsReady(pod))
            {
                ignored.Add(name); // not ready: left out of a cpu scale up
                continue;
            }

            usage[name] = resource == "cpu" ? sample.CpuNanoCores / 1_000_000_000m : sample.MemoryBytes;
        }

        if (usage.Count == 0)
        {
            return (0, default, $"failed to get {resource} utilization: did not receive metrics for targeted pods (pods might be unready)");
        }

        decimal target = utilization
            ? Json.Int(metric, "resource", "target", "averageUtilization") ?? 80
            : Quantity.Of(Json.At(metric, "resource", "target", "averageValue"));
        (double Ratio, long Utilization, decimal Average) Measure(Dictionary<string, decimal> u)
        {
            decimal used = u.Values.Sum();
            decimal requested = u.Keys.Sum(k => requests.GetValueOrDefault(k));
            decimal average = used / u.Count;
            if (utilization)
            {
                long percent = requested == 0 ? 0 : (long)(used * 100 / requested);
                return ((double)percent / (double)target, percent, average);
            }

            return ((double)(average / target), 0, average);
        }

        var (ratio, observedUtilization, observedAverage) = Measure(usage);
        bool up = ratio > 1.0;
        if (missing.Count == 0 && !(up && ignored.Count > 0))
        {
            long replicas = Math.Abs(ratio - 1.0) <= Tolerance ? current : (long)Math.Ceiling(ratio * usage.Count);
            return (replicas, (observedUtilization, observedAverage), null);
        }

        // the pods without metrics: idle when scaling up, on target when scaling down; unready ones idle when scaling up
        var corrected = new Dictionary<string, decimal>(usage, StringComparer.Ordinal);
        foreach (string name in missing)
        {
            corrected[name] = up ? 0 : utilization ? requests.GetValueOrDefault(name) * target / 100 : target;
        }

        if (up)
        {
            foreach (string name in ignored)
            {
                corrected[name] = 0;
            }
        }

        var (newRatio, _, _) = Measure(corrected);
        if (Math.Abs(newRatio - 1.0) <= Tolerance || (up && newRatio < 1.0) || (!up && newRatio > 1.0))
        {
            return (current, (observedUtilization, observedAverage), null); // the correction turned the direction round: stay
        }

        long corrected2 = (long)Math.Ceiling(newRatio * corrected.Count);
        return (up ? Math.Max(corrected2, current) : Math.Min(corrected2, current), (observedUtilization, observedAverage), null);
    }

    private static string Format(string resource, decimal value) => resource == "cpu"
        ? ((long)Math.Round(value * 1000)).ToString(CultureInfo.InvariantCulture) + "m"
        : ((long)value).ToString(CultureInfo.InvariantCulture);

    /// <summary>kube's normalizeDesiredReplicasWithBehaviors: stabilised over the windows, then limited by the policies of the direction.</summary>
    private (long Replicas, string Reason, string Message) Normalize(string key, JsonObject hpa, long current, long proposal, DateTimeOffset now)
    {
        var up = Rules(hpa, "scaleUp", up: true);
        var down = Rules(hpa, "scaleDown", up: false);
        long upWindow = Json.Int(up, "stabilizationWindowSeconds") ?? 0;
        long downWindow = Json.Int(down, "stabilizationWindowSeconds") ?? 300;
        var history = recommendations.GetOrAdd(key, _ => []);
        long upRecommendation = proposal, downRecommendation = proposal;
        lock (history)
        {
            history.RemoveAll(r => r.At < now.AddSeconds(-Math.Max(upWindow, downWindow)));
            foreach (var (at, replicas) in history)
            {
                if (at >= now.AddSeconds(-upWindow))
                {
                    upRecommendation = Math.Min(upRecommendation, replicas);
                }

                if (at >= now.AddSeconds(-downWindow))
                {
                    downRecommendation = Math.Max(downRecommendation, replicas);
                }
            }

            history.Add((now, proposal));
        }

        long stabilized = current;
        string reason = "ReadyForNewScale", message = "recommended size matches current size";
        if (upRecommendation > current)
        {
            stabilized = upRecommendation;
        }
        else if (downRecommendation < current)
        {
            stabilized = downRecommendation;
        }

        if (stabilized != proposal)
        {
            (reason, message) = proposal > stabilized
                ? ("ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation")
                : ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation");
        }

        var scaleEvents = events.GetOrAdd(key, _ => []);
        List<(DateTimeOffset At, long Change)> recent;
        lock (scaleEvents)
        {
            scaleEvents.RemoveAll(e => e.At < now.AddMinutes(-30));
            recent = [.. scaleEvents];
        }

        if (stabilized > current)
        {
            long limit = Limit(up, current, recent, now, scaleUp: true);
            if (limit < stabilized)
            {
                (reason, message) = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate");
                stabilized = Math.Max(limit, current);
            }
        }
        else if (stabilized < current)
        {
            long limit = Limit(down, current, recent, now, scaleUp: false);
            if (limit > stabilized)
            {
                (reason, message) = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate");
                stabilized = Math.Min(limit, current);
            }
        }

        return (stabilized, reason, message);
    }

    private static JsonObject Rules(JsonObject hpa, string direction, bool up)
    {
        var rules = Json.Clone(Json.At(hpa, "spec", "behavior", direction) as JsonObject ?? []);
        HorizontalPodAutoscalerStrategy.DefaultRules(rules, up);
        return rules;
    }

    /// <summary>The furthest the policies let the replicas go from where each policy's period started (kube's calculateScale{Up,Down}LimitWithScalingRules).</summary>
    private static long Limit(JsonObject rules, long current, List<(DateTimeOffset At, long Change)> recent, DateTimeOffset now, bool scaleUp)
    {
        string select = Json.Str(rules, "selectPolicy") ?? "Max";
        if (select == "Disabled")
        {
            return current;
        }

        var limits = new List<long>();
        foreach (var policy in Json.Items(rules, "policies"))
        {
            long periodSeconds = Json.Int(policy, "periodSeconds") ?? 15;
            long value = Json.Int(policy, "value") ?? 0;
            long changed = recent.Where(e => e.At >= now.AddSeconds(-periodSeconds) && (scaleUp ? e.Change > 0 : e.Change < 0)).Sum(e => e.Change);
            long periodStart = current - changed;
            limits.Add(Json.Str(policy, "type") == "Pods"
                ? (scaleUp ? periodStart + value : periodStart - value)
                : scaleUp ? (long)Math.Ceiling(periodStart * (1 + (value / 100.0))) : (long)Math.Floor(periodStart * (1 - (value / 100.0))));
        }

        if (limits.Count == 0)
        {
            return current;
        }

        // Max: the policy allowing the largest change; Min: the smallest
        return scaleUp == (select == "Max") ? limits.Max() : limits.Min();
    }
}
