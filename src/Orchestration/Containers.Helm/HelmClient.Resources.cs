using System.Globalization;
using System.Text.Json.Nodes;
using Containers.Helm.Releases;

namespace Containers.Helm;

public sealed partial class HelmClient
{
    private const string FieldManager = "helm";

    private async Task InstallCrdsAsync(RenderedRelease rendered, CancellationToken ct)
    {
        foreach (var (path, file) in rendered.Crds)
        {
            foreach (string doc in Manifests.Split(file.Text))
            {
                var crd = ReleaseRenderer.ToObject(doc, path);
                string name = (string?)crd["metadata"]?["name"] ?? "";
                if (await kube.GetAsync((string?)crd["apiVersion"] ?? "apiextensions.k8s.io/v1", (string?)crd["kind"] ?? "CustomResourceDefinition", null, name, ct).ConfigureAwait(false) is not null)
                {
                    continue; // never upgraded, as Helm does
                }

                await kube.CreateAsync(crd, null, ct).ConfigureAwait(false);
                Log?.Invoke($"installed CRD {name}");
            }
        }
    }

    private async Task EnsureNamespaceAsync(string ns, CancellationToken ct)
    {
        if (await kube.GetAsync("v1", "Namespace", null, ns, ct).ConfigureAwait(false) is not null)
        {
            return;
        }

        try
        {
            await kube.CreateAsync(new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = ns, ["labels"] = new JsonObject { ["name"] = ns } } }, null, ct).ConfigureAwait(false);
        }
        catch (KubeException e) when (e.IsConflict)
        {
        }
    }

    private async Task<string?> NamespaceOfAsync(ManifestEntry o, string releaseNamespace, CancellationToken ct) =>
        await kube.IsNamespacedAsync(o.ApiVersion, o.Kind, ct).ConfigureAwait(false) ? o.Namespace ?? releaseNamespace : null;

    private static bool SameObject(ManifestEntry a, ManifestEntry b, string ns) =>
        a.Kind == b.Kind && a.Name == b.Name && (a.Namespace ?? ns) == (b.Namespace ?? ns) && Group(a.ApiVersion) == Group(b.ApiVersion);

    private static string Group(string apiVersion) => apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";

    /// <summary>Refuses objects that exist and belong to no release or to another (Helm's "invalid ownership metadata").</summary>
    private async Task CheckOwnershipAsync(List<ManifestEntry> objects, string release, string releaseNamespace, CancellationToken ct)
    {
        foreach (var o in objects)
        {
            string? ns = await NamespaceOfAsync(o, releaseNamespace, ct).ConfigureAwait(false);
            var live = await kube.GetAsync(o.ApiVersion, o.Kind, ns, o.Name, ct).ConfigureAwait(false);
            if (live is null)
            {
                continue;
            }

            string? owner = (string?)live["metadata"]?["annotations"]?["meta.helm.sh/release-name"];
            string? ownerNs = (string?)live["metadata"]?["annotations"]?["meta.helm.sh/release-namespace"];
            string? managedBy = (string?)live["metadata"]?["labels"]?["app.kubernetes.io/managed-by"];
            if (owner != release || ownerNs != releaseNamespace || managedBy != "Helm")
            {
                var problems = new List<string>();
                if (managedBy != "Helm")
                {
                    problems.Add($"label validation error: missing key \"app.kubernetes.io/managed-by\": must be set to \"Helm\"");
                }

                if (owner != release)
                {
                    problems.Add(owner is null ? "annotation validation error: missing key \"meta.helm.sh/release-name\": must be set to \"" + release + "\"" : $"annotation validation error: key \"meta.helm.sh/release-name\" must equal \"{release}\": current value is \"{owner}\"");
                }

                if (ownerNs != releaseNamespace)
                {
                    problems.Add(ownerNs is null ? "annotation validation error: missing key \"meta.helm.sh/release-namespace\": must be set to \"" + releaseNamespace + "\"" : $"annotation validation error: key \"meta.helm.sh/release-namespace\" must equal \"{releaseNamespace}\": current value is \"{ownerNs}\"");
                }

                string where = ns is null ? "" : $" in namespace \"{ns}\"";
                throw new HelmException($"rendered manifests contain a resource that already exists. Unable to continue with install: {o.Kind} \"{o.Name}\"{where} exists and cannot be imported into the current release: invalid ownership metadata; {string.Join("; ", problems)}");
            }
        }
    }

    /// <summary>Creates or updates every target object (server-side apply as "helm"), then deletes what the old manifest had and the new does not.</summary>
    private async Task ApplyAsync(List<ManifestEntry> targets, List<ManifestEntry> old, string release, string releaseNamespace, CancellationToken ct)
    {
        foreach (var o in targets)
        {
            var obj = ReleaseRenderer.ToObject(o.Content, o.Source);
            string? ns = await NamespaceOfAsync(o, releaseNamespace, ct).ConfigureAwait(false);
            var metadata = obj["metadata"] as JsonObject ?? new JsonObject();
            obj["metadata"] = metadata;
            if (ns is not null)
            {
                metadata["namespace"] = ns;
            }

            var labels = metadata["labels"] as JsonObject ?? new JsonObject();
            labels["app.kubernetes.io/managed-by"] = "Helm";
            metadata["labels"] = labels;
            var annotations = metadata["annotations"] as JsonObject ?? new JsonObject();
            annotations["meta.helm.sh/release-name"] = release;
            annotations["meta.helm.sh/release-namespace"] = releaseNamespace;
            metadata["annotations"] = annotations;
            try
            {
                await kube.ApplyAsync(obj, ns, FieldManager, ct).ConfigureAwait(false);
            }
            catch (KubeException e)
            {
                throw new HelmException($"{(old.Count == 0 ? "failed to create resource" : "failed to update resource")}: {o.Kind} \"{o.Name}\": {e.Message}", e);
            }
        }

        foreach (var gone in old.Where(x => !targets.Any(t => SameObject(x, t, releaseNamespace))).OrderBy(x => x, Comparer<ManifestEntry>.Create((a, b) => Manifests.CompareKinds(a.Kind, b.Kind, Manifests.UninstallOrder))))
        {
            var obj = ReleaseRenderer.ToObject(gone.Content, gone.Source);
            if ((string?)obj["metadata"]?["annotations"]?["helm.sh/resource-policy"] == "keep")
            {
                continue;
            }

            string? ns = await NamespaceOfAsync(gone, releaseNamespace, ct).ConfigureAwait(false);
            await kube.DeleteAsync(gone.ApiVersion, gone.Kind, ns, gone.Name, ct).ConfigureAwait(false);
            Log?.Invoke($"deleted {gone.Kind} {gone.Name} (no longer in the chart)");
        }
    }

    /// <summary>Waits until every object is ready (Helm's ready checker), or the token ends.</summary>
    private async Task WaitAsync(List<ManifestEntry> objects, HelmOptions options, CancellationToken ct)
    {
        foreach (var o in objects)
        {
            string? ns = await NamespaceOfAsync(o, options.Namespace, ct).ConfigureAwait(false);
            while (true)
            {
                var live = await kube.GetAsync(o.ApiVersion, o.Kind, ns, o.Name, ct).ConfigureAwait(false);
                if (live is null || Ready(live, o.Kind, options.WaitForJobs))
                {
                    break;
                }

                await Task.Delay(250, ct).ConfigureAwait(false);
            }
        }
    }

    private static bool Ready(JsonObject live, string kind, bool jobs)
    {
        var spec = live["spec"];
        var status = live["status"];
        long generation = (long?)live["metadata"]?["generation"] ?? 0;
        long observed = (long?)status?["observedGeneration"] ?? 0;
        int Int(JsonNode? n) => n is null ? 0 : (int)n;
        switch (kind)
        {
            case "Deployment":
            {
                int replicas = spec?["replicas"] is { } r ? (int)r : 1;
                int maxUnavailable = Scaled(spec?["strategy"]?["rollingUpdate"]?["maxUnavailable"], replicas, "25%", roundUp: false);
                if ((string?)spec?["strategy"]?["type"] == "Recreate")
                {
                    maxUnavailable = 0;
                }

                return observed >= generation && Int(status?["updatedReplicas"]) >= replicas && Int(status?["availableReplicas"]) >= replicas - maxUnavailable;
            }

            case "StatefulSet":
            {
                int replicas = spec?["replicas"] is { } r ? (int)r : 1;
                int partition = Int(spec?["updateStrategy"]?["rollingUpdate"]?["partition"]);
                return observed >= generation && Int(status?["readyReplicas"]) >= replicas && Int(status?["updatedReplicas"]) >= replicas - partition;
            }

            case "DaemonSet":
            {
                int desired = Int(status?["desiredNumberScheduled"]);
                int maxUnavailable = Scaled(spec?["updateStrategy"]?["rollingUpdate"]?["maxUnavailable"], desired, "1", roundUp: true);
                return observed >= generation && Int(status?["updatedNumberScheduled"]) >= desired && Int(status?["numberReady"]) >= desired - maxUnavailable;
            }

            case "ReplicaSet" or "ReplicationController":
                return Int(status?["readyReplicas"]) >= (spec?["replicas"] is { } rr ? (int)rr : 1);
            case "Pod":
                return (string?)status?["phase"] == "Succeeded" || (status?["conditions"]?.AsArray() ?? []).Any(c => (string?)c?["type"] == "Ready" && (string?)c?["status"] == "True");
            case "Job":
                return !jobs || (status?["conditions"]?.AsArray() ?? []).Any(c => (string?)c?["type"] == "Complete" && (string?)c?["status"] == "True");
            case "PersistentVolumeClaim":
                return (string?)status?["phase"] == "Bound";
            case "Service":
                return (string?)spec?["type"] == "ExternalName" || !string.IsNullOrEmpty((string?)spec?["clusterIP"]);
            default:
                return true;
        }
    }

    private static int Scaled(JsonNode? value, int total, string fallback, bool roundUp)
    {
        string text = value is null ? fallback : value.GetValueKind() == System.Text.Json.JsonValueKind.Number ? ((int)value).ToString(CultureInfo.InvariantCulture) : (string?)value ?? fallback;
        if (text.EndsWith('%') && int.TryParse(text[..^1], CultureInfo.InvariantCulture, out int percent))
        {
            double scaled = total * percent / 100.0;
            return (int)(roundUp ? Math.Ceiling(scaled) : Math.Floor(scaled));
        }

        return int.TryParse(text, CultureInfo.InvariantCulture, out int n) ? n : 0;
    }

    /// <summary>Runs the hooks of <paramref name="hookEvent"/> by weight then name: delete policies, wait for Jobs and Pods.</summary>
    private async Task RunHooksAsync(Release release, string hookEvent, CancellationToken ct)
    {
        var hooks = release.Hooks.Where(h => h.Events.Contains(hookEvent)).OrderBy(h => h.Weight).ThenBy(h => h.Name, StringComparer.Ordinal).ToList();
        foreach (var hook in hooks)
        {
            var policies = hook.DeletePolicies.Count == 0 ? ["before-hook-creation"] : hook.DeletePolicies;
            var obj = ReleaseRenderer.ToObject(hook.Manifest, hook.Path);
            string apiVersion = (string?)obj["apiVersion"] ?? "v1";
            string? ns = await kube.IsNamespacedAsync(apiVersion, hook.Kind, ct).ConfigureAwait(false) ? (string?)obj["metadata"]?["namespace"] ?? release.Namespace : null;
            if (policies.Contains("before-hook-creation"))
            {
                await DeleteAndWaitAsync(apiVersion, hook.Kind, ns, hook.Name, ct).ConfigureAwait(false);
            }

            hook.StartedAt = time.GetUtcNow();
            hook.Phase = "Running";
            Log?.Invoke($"running {hookEvent} hook {hook.Kind} {hook.Name}");
            try
            {
                await kube.CreateAsync(obj, ns, ct).ConfigureAwait(false);
                string? failure = await WaitForHookAsync(apiVersion, hook.Kind, ns, hook.Name, ct).ConfigureAwait(false);
                hook.CompletedAt = time.GetUtcNow();
                hook.Phase = failure is null ? "Succeeded" : "Failed";
                if (failure is not null)
                {
                    if (policies.Contains("hook-failed"))
                    {
                        await kube.DeleteAsync(apiVersion, hook.Kind, ns, hook.Name, CancellationToken.None).ConfigureAwait(false);
                    }

                    throw new HelmException($"failed {hookEvent}: 1 error occurred:\n\t* {failure}");
                }

                if (policies.Contains("hook-succeeded"))
                {
                    await kube.DeleteAsync(apiVersion, hook.Kind, ns, hook.Name, ct).ConfigureAwait(false);
                }
            }
            catch (KubeException e)
            {
                hook.Phase = "Failed";
                throw new HelmException($"failed {hookEvent}: warning: Hook {hookEvent} {hook.Path} failed: {e.Message}", e);
            }
        }
    }

    private async Task DeleteAndWaitAsync(string apiVersion, string kind, string? ns, string name, CancellationToken ct)
    {
        if (!await kube.DeleteAsync(apiVersion, kind, ns, name, ct, propagation: "Foreground").ConfigureAwait(false))
        {
            return;
        }

        while (await kube.GetAsync(apiVersion, kind, ns, name, ct).ConfigureAwait(false) is not null)
        {
            await Task.Delay(200, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for a Job to complete or a Pod to end; null on success, else why it failed. Other kinds succeed at once.</summary>
    private async Task<string?> WaitForHookAsync(string apiVersion, string kind, string? ns, string name, CancellationToken ct)
    {
        if (kind is not ("Job" or "Pod"))
        {
            return null;
        }

        while (true)
        {
            var live = await kube.GetAsync(apiVersion, kind, ns, name, ct).ConfigureAwait(false) ?? throw new HelmException($"{kind} {name} disappeared while it ran");
            if (kind == "Job")
            {
                foreach (var c in live["status"]?["conditions"]?.AsArray() ?? [])
                {
                    if ((string?)c?["status"] != "True")
                    {
                        continue;
                    }

                    if ((string?)c?["type"] == "Complete")
                    {
                        return null;
                    }

                    if ((string?)c?["type"] == "Failed")
                    {
                        return $"job {name} failed: {(string?)c?["reason"] ?? "BackoffLimitExceeded"}";
                    }
                }
            }
            else
            {
                switch ((string?)live["status"]?["phase"])
                {
                    case "Succeeded": return null;
                    case "Failed": return $"pod {name} failed";
                }
            }

            await Task.Delay(250, ct).ConfigureAwait(false);
        }
    }
}
