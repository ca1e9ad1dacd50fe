using Containers.Orchestration.Controllers;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// The kubelet's image manager for one node: a container's image is made present per its imagePullPolicy before it
/// starts; a failed pull is ErrImagePull, then ImagePullBackOff, retried 10 s doubling to 5 min, with the kubelet's events.
/// </summary>
internal sealed class ImageManager(ObjectApi api, IPodRuntime runtime, string node, WorkQueue<string> queue)
{
    /// <summary>Makes the image of <paramref name="spec"/> present; returns null when it is, else how long to wait before trying again.</summary>
    public async Task<TimeSpan?> EnsureAsync(JsonObject pod, string key, ContainerRecord cr, JsonObject spec, DateTimeOffset now, CancellationToken cancellationToken)
    {
        string image = Json.Str(spec, "image") ?? "";
        try
        {
            await runtime.EnsureImageAsync(image, Json.Str(spec, "imagePullPolicy") ?? "IfNotPresent", cancellationToken).ConfigureAwait(false);
            if (cr.PullFailures > 0 || !cr.PulledEvent)
            {
                api.RecordEvent(pod, "Normal", "Pulled", $"Container image \"{image}\" already present on machine", "kubelet", node);
                cr.PulledEvent = true;
            }

            cr.PullFailures = 0;
        }
        catch (ImagePullException e)
        {
            cr.PullFailures++;
            bool first = cr.PullFailures == 1;
            cr.WaitingReason = first || cr.WaitingReason == "ImagePullBackOff" && cr.NextStart <= now && cr.PullFailures % 2 == 1 ? "ErrImagePull" : "ImagePullBackOff";
            cr.WaitingMessage = cr.WaitingReason == "ErrImagePull" ? e.Message : $"Back-off pulling image \"{image}\"";
            var delay = TimeSpan.FromSeconds(Math.Min(300, 10 * Math.Pow(2, Math.Min(cr.PullFailures - 1, 5))));
            cr.NextStart = now + delay;
            api.RecordEvent(pod, "Warning", "Failed", $"Failed to pull image \"{image}\": {e.Message}", "kubelet", node);
            if (first)
            {
                api.RecordEvent(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", node);
                queue.AddAfter(key, TimeSpan.FromSeconds(1)); // shown as ErrImagePull first, then ImagePullBackOff
                return delay;
            }

            cr.WaitingReason = "ImagePullBackOff";
            api.RecordEvent(pod, "Normal", "BackOff", $"Back-off pulling image \"{image}\"", "kubelet", node);
            return delay;
        }

        return null;
    }
}
