using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Containers.Helm.Charts;
using Containers.Helm.Engine;
using Containers.Helm.Functions;
using Containers.Helm.Releases;

namespace Containers.Helm;

/// <summary>
/// Helm 3's actions against a cluster: install, upgrade (--install), rollback, uninstall, history, list, status,
/// get and test, with releases stored as Helm stores them, so the real helm sees the same releases.
/// </summary>
public sealed partial class HelmClient : IDisposable
{
    private readonly KubeClient kube;
    private readonly ReleaseStore store;
    private readonly TimeProvider time;

    /// <summary>A client over <paramref name="kube"/>.</summary>
    public HelmClient(KubeClient kube, TimeProvider? time = null)
    {
        this.kube = kube;
        this.time = time ?? TimeProvider.System;
        store = new ReleaseStore(kube, this.time);
    }

    /// <summary>The release records.</summary>
    public ReleaseStore Store => store;

    /// <summary>The cluster connection.</summary>
    public KubeClient Kube => kube;

    /// <summary>Where progress lines go (hooks, waits, deletions); null for none.</summary>
    public Action<string>? Log { get; init; }

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex ReleaseName();

    private static void ValidateName(string name)
    {
        if (name.Length == 0 || name.Length > 53 || !ReleaseName().IsMatch(name))
        {
            throw new HelmException($"release name \"{name}\": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53");
        }
    }

    /// <summary>The cluster's capabilities (version and API versions) for rendering.</summary>
    public async Task<Capabilities> CapabilitiesAsync(CancellationToken ct) =>
        new(await kube.VersionAsync(ct).ConfigureAwait(false), await kube.ApiVersionsAsync(ct).ConfigureAwait(false));

    private HelmEngine Engine(HelmOptions options) => new()
    {
        Strict = options.Strict,
        Time = time,
        Lookup = (apiVersion, kind, ns, name) => LookupAsync(apiVersion, kind, ns, name).GetAwaiter().GetResult(),
    };

    private async Task<Dictionary<string, object?>> LookupAsync(string apiVersion, string kind, string ns, string name)
    {
        JsonNode? found;
        if (name.Length == 0)
        {
            var items = await kube.ListAsync(apiVersion, kind, ns.Length == 0 ? null : ns, null, CancellationToken.None).ConfigureAwait(false);
            found = new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind + "List", ["items"] = new JsonArray([.. items.Select(i => (JsonNode)i.DeepClone())]) };
        }
        else
        {
            found = await kube.GetAsync(apiVersion, kind, ns.Length == 0 ? null : ns, name, CancellationToken.None).ConfigureAwait(false);
        }

        return found is null ? new Dictionary<string, object?>(StringComparer.Ordinal)
            : (Dictionary<string, object?>)GoJson.Convert(System.Text.Json.JsonDocument.Parse(found.ToJsonString()).RootElement)!;
    }

    /// <summary>Renders <paramref name="chart"/> as it would be installed (helm template with the cluster's capabilities).</summary>
    public async Task<RenderedRelease> RenderAsync(string name, Chart chart, Dictionary<string, object?> values, HelmOptions options, bool isInstall = true, int revision = 1, CancellationToken ct = default)
    {
        ValidateName(name);
        var capabilities = await CapabilitiesAsync(ct).ConfigureAwait(false);
        return await Task.Run(() => ReleaseRenderer.Render(chart, values, new ReleaseOptions(name, options.Namespace, revision, isInstall), capabilities, Engine(options)), ct).ConfigureAwait(false);
    }

    /// <summary>helm install.</summary>
    /// <exception cref="HelmException">The name is in use, a resource exists outside the release, hooks or waits fail.</exception>
    /// <exception cref="ChartException">The chart or values are wrong (nothing is installed).</exception>
    /// <exception cref="Templates.TemplateException">A template fails (nothing is installed).</exception>
    public async Task<Release> InstallAsync(string name, Chart chart, Dictionary<string, object?> values, HelmOptions options, CancellationToken ct = default)
    {
        ValidateName(name);
        var history = await store.HistoryAsync(name, options.Namespace, ct).ConfigureAwait(false);
        if (history.Count > 0 && !(history[^1].Info.Status == ReleaseStatus.Uninstalled))
        {
            throw new HelmException("cannot re-use a name that is still in use");
        }

        var rendered = await RenderAsync(name, chart, values, options, ct: ct).ConfigureAwait(false);
        int revision = history.Count == 0 ? 1 : history[^1].Version + 1;
        var now = time.GetUtcNow();
        var release = new Release
        {
            Name = name,
            Namespace = options.Namespace,
            Version = revision,
            Info = new ReleaseInfo { FirstDeployed = now, LastDeployed = now, Status = ReleaseStatus.PendingInstall, Description = "Initial install underway", Notes = rendered.Notes },
            Chart = Release.ChartJson(chart),
            Config = values,
            Manifest = rendered.Manifest,
            Hooks = rendered.Hooks,
        };
        if (options.DryRun)
        {
            release.Info.Description = "Dry run complete";
            return release;
        }

        if (!options.SkipCrds)
        {
            await InstallCrdsAsync(rendered, ct).ConfigureAwait(false);
        }

        if (options.CreateNamespace)
        {
            await EnsureNamespaceAsync(options.Namespace, ct).ConfigureAwait(false);
        }
        else if (await kube.GetAsync("v1", "Namespace", null, options.Namespace, ct).ConfigureAwait(false) is null)
        {
            throw new HelmException($"create: failed to create: namespaces \"{options.Namespace}\" not found");
        }

        await CheckOwnershipAsync(rendered.Objects, name, options.Namespace, ct).ConfigureAwait(false);
        await store.CreateAsync(release, ct).ConfigureAwait(false);
        try
        {
            await DeployAsync(release, rendered.Objects, [], options, "install", options.Wait || options.Atomic, ct).ConfigureAwait(false);
            release.Info.Status = ReleaseStatus.Deployed;
            release.Info.Description = options.Description ?? "Install complete";
            await store.UpdateAsync(release, ct).ConfigureAwait(false);
            return release;
        }
        catch (Exception e) when (e is KubeException or HelmException or OperationCanceledException)
        {
            string reason = Reason(e, ct);
            await RecordFailureAsync(release, $"Release \"{name}\" failed: {reason}").ConfigureAwait(false);
            if (options.Atomic)
            {
                await UninstallAsync(name, new HelmOptions { Namespace = options.Namespace, Timeout = options.Timeout }, CancellationToken.None).ConfigureAwait(false);
                throw new HelmException($"release {name} failed, and has been uninstalled due to atomic being set: {reason}", e);
            }

            throw new HelmException($"release {name} failed: {reason}", e);
        }
    }

    /// <summary>helm upgrade (with <see cref="HelmOptions.Install"/>, helm upgrade --install).</summary>
    /// <exception cref="HelmException">No release to upgrade, another operation in progress, resources or hooks fail.</exception>
    /// <exception cref="ChartException">The chart or values are wrong (nothing changes).</exception>
    /// <exception cref="Templates.TemplateException">A template fails (nothing changes).</exception>
    public async Task<Release> UpgradeAsync(string name, Chart chart, Dictionary<string, object?> values, HelmOptions options, CancellationToken ct = default)
    {
        ValidateName(name);
        var history = await store.HistoryAsync(name, options.Namespace, ct).ConfigureAwait(false);
        if (history.Count == 0 || history.All(r => r.Info.Status == ReleaseStatus.Uninstalled))
        {
            if (options.Install)
            {
                return await InstallAsync(name, chart, values, options, ct).ConfigureAwait(false);
            }

            throw new HelmException($"\"{name}\" has no deployed releases");
        }

        var last = history[^1];
        if (ReleaseStatus.IsPending(last.Info.Status))
        {
            throw new HelmException("another operation (install/upgrade/rollback) is in progress");
        }

        var current = history.LastOrDefault(r => r.Info.Status == ReleaseStatus.Deployed) ?? last;
        if (options.ReuseValues)
        {
            values = ValueMaps.MergeMaps((Dictionary<string, object?>)Cast.DeepCopy(current.Config)!, values);
        }
        else if (!options.ResetValues && values.Count == 0 && current.Config.Count > 0)
        {
            values = (Dictionary<string, object?>)Cast.DeepCopy(current.Config)!;
        }

        var rendered = await RenderAsync(name, chart, values, options, isInstall: false, revision: last.Version + 1, ct: ct).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var release = new Release
        {
            Name = name,
            Namespace = options.Namespace,
            Version = last.Version + 1,
            Info = new ReleaseInfo { FirstDeployed = current.Info.FirstDeployed, LastDeployed = now, Status = ReleaseStatus.PendingUpgrade, Description = "Preparing upgrade", Notes = rendered.Notes },
            Chart = Release.ChartJson(chart),
            Config = values,
            Manifest = rendered.Manifest,
            Hooks = rendered.Hooks,
        };
        if (options.DryRun)
        {
            release.Info.Description = "Dry run complete";
            return release;
        }

        var oldObjects = Manifests.Parse(current.Manifest);
        await CheckOwnershipAsync(rendered.Objects.Where(o => !oldObjects.Any(x => SameObject(x, o, options.Namespace))).ToList(), name, options.Namespace, ct).ConfigureAwait(false);
        await store.CreateAsync(release, ct).ConfigureAwait(false);
        try
        {
            await DeployAsync(release, rendered.Objects, oldObjects, options, "upgrade", options.Wait || options.Atomic, ct).ConfigureAwait(false);
            current.Info.Status = ReleaseStatus.Superseded;
            await store.UpdateAsync(current, ct).ConfigureAwait(false);
            release.Info.Status = ReleaseStatus.Deployed;
            release.Info.Description = options.Description ?? "Upgrade complete";
            await store.UpdateAsync(release, ct).ConfigureAwait(false);
            return release;
        }
        catch (Exception e) when (e is KubeException or HelmException or OperationCanceledException)
        {
            string reason = Reason(e, ct);
            await RecordFailureAsync(release, $"Upgrade \"{name}\" failed: {reason}").ConfigureAwait(false);
            if (options.Atomic)
            {
                await RollbackAsync(name, current.Version, new HelmOptions { Namespace = options.Namespace, Timeout = options.Timeout, Wait = true }, CancellationToken.None).ConfigureAwait(false);
                throw new HelmException($"UPGRADE FAILED: release {name} failed, and has been rolled back due to atomic being set: {reason}", e);
            }

            throw new HelmException($"UPGRADE FAILED: {reason}", e);
        }
    }

    /// <summary>helm rollback NAME [REVISION] (0: the previous revision).</summary>
    /// <exception cref="HelmException">No such release or revision, or another operation is in progress.</exception>
    public async Task<Release> RollbackAsync(string name, int revision, HelmOptions options, CancellationToken ct = default)
    {
        var history = await store.HistoryAsync(name, options.Namespace, ct).ConfigureAwait(false);
        if (history.Count == 0)
        {
            throw new HelmException($"release: not found");
        }

        var last = history[^1];
        if (ReleaseStatus.IsPending(last.Info.Status))
        {
            throw new HelmException("another operation (install/upgrade/rollback) is in progress");
        }

        if (revision == 0)
        {
            revision = last.Version - 1;
        }

        var target = history.FirstOrDefault(r => r.Version == revision) ?? throw new HelmException($"release has no {revision} version");
        var current = history.LastOrDefault(r => r.Info.Status == ReleaseStatus.Deployed) ?? last;
        var now = time.GetUtcNow();
        var release = new Release
        {
            Name = name,
            Namespace = options.Namespace,
            Version = last.Version + 1,
            Info = new ReleaseInfo { FirstDeployed = current.Info.FirstDeployed, LastDeployed = now, Status = ReleaseStatus.PendingRollback, Description = "Rollback in progress", Notes = target.Info.Notes },
            Chart = target.Chart,
            Config = target.Config,
            Manifest = target.Manifest,
            Hooks = target.Hooks.Select(h => Hook.FromJson(h.ToJson())).ToList(),
        };
        if (options.DryRun)
        {
            return release;
        }

        await store.CreateAsync(release, ct).ConfigureAwait(false);
        try
        {
            await DeployAsync(release, Manifests.Parse(target.Manifest), Manifests.Parse(current.Manifest), options, "rollback", options.Wait, ct).ConfigureAwait(false);
            foreach (var r in history.Where(r => r.Info.Status == ReleaseStatus.Deployed))
            {
                r.Info.Status = ReleaseStatus.Superseded;
                await store.UpdateAsync(r, ct).ConfigureAwait(false);
            }

            release.Info.Status = ReleaseStatus.Deployed;
            release.Info.Description = $"Rollback to {revision}";
            await store.UpdateAsync(release, ct).ConfigureAwait(false);
            return release;
        }
        catch (Exception e) when (e is KubeException or HelmException or OperationCanceledException)
        {
            await RecordFailureAsync(release, $"Rollback \"{name}\" failed: {e.Message}").ConfigureAwait(false);
            throw new HelmException($"Rollback \"{name}\" failed: {e.Message}", e);
        }
    }

    /// <summary>The pre- hooks, the objects applied (and those no longer wanted deleted), the wait, the post- hooks, within the timeout.</summary>
    private async Task DeployAsync(Release release, List<ManifestEntry> objects, List<ManifestEntry> old, HelmOptions options, string operation, bool wait, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Timeout);
        if (!options.NoHooks)
        {
            await RunHooksAsync(release, "pre-" + operation, timeout.Token).ConfigureAwait(false);
        }

        await ApplyAsync(objects, old, release.Name, options.Namespace, timeout.Token).ConfigureAwait(false);
        if (wait)
        {
            await WaitAsync(objects, options, timeout.Token).ConfigureAwait(false);
        }

        if (!options.NoHooks)
        {
            await RunHooksAsync(release, "post-" + operation, timeout.Token).ConfigureAwait(false);
        }
    }

    /// <summary>Stores the revision as failed, with why (even when the operation was cancelled).</summary>
    private Task RecordFailureAsync(Release release, string description)
    {
        release.Info.Status = ReleaseStatus.Failed;
        release.Info.Description = description;
        return store.UpdateAsync(release, CancellationToken.None);
    }

    /// <summary>Why an operation failed, as Helm says it (a timeout is "context deadline exceeded").</summary>
    private static string Reason(Exception e, CancellationToken ct) =>
        e is OperationCanceledException && !ct.IsCancellationRequested ? "context deadline exceeded" : e.Message;

    /// <summary>helm uninstall; returns the last revision (status uninstalled), or throws when there is none.</summary>
    /// <exception cref="HelmException">The release is not found (or already uninstalled and kept).</exception>
    public async Task<Release> UninstallAsync(string name, HelmOptions options, CancellationToken ct = default)
    {
        var history = await store.HistoryAsync(name, options.Namespace, ct).ConfigureAwait(false);
        if (history.Count == 0)
        {
            throw new HelmException($"uninstall: Release not loaded: {name}: release: not found");
        }

        var last = history[^1];
        if (last.Info.Status == ReleaseStatus.Uninstalled)
        {
            if (!options.KeepHistory)
            {
                foreach (var r in history)
                {
                    await store.DeleteAsync(r, ct).ConfigureAwait(false);
                }

                return last;
            }

            throw new HelmException($"release \"{name}\" is already uninstalled");
        }

        last.Info.Status = ReleaseStatus.Uninstalling;
        last.Info.Deleted = time.GetUtcNow();
        await store.UpdateAsync(last, ct).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Timeout);
        if (!options.NoHooks)
        {
            await RunHooksAsync(last, "pre-delete", timeout.Token).ConfigureAwait(false);
        }

        var objects = Manifests.Parse(last.Manifest)
            .OrderBy(o => o, Comparer<ManifestEntry>.Create((a, b) => Manifests.CompareKinds(a.Kind, b.Kind, Manifests.UninstallOrder))).ToList();
        var kept = new List<string>();
        foreach (var o in objects)
        {
            var obj = ReleaseRenderer.ToObject(o.Content, o.Source);
            if ((string?)obj["metadata"]?["annotations"]?["helm.sh/resource-policy"] == "keep")
            {
                kept.Add($"{o.Kind}/{o.Name}");
                continue;
            }

            string? ns = await NamespaceOfAsync(o, options.Namespace, timeout.Token).ConfigureAwait(false);
            if (await kube.DeleteAsync(o.ApiVersion, o.Kind, ns, o.Name, timeout.Token).ConfigureAwait(false))
            {
                Log?.Invoke($"deleted {o.Kind} {o.Name}");
            }
        }

        if (!options.NoHooks)
        {
            await RunHooksAsync(last, "post-delete", timeout.Token).ConfigureAwait(false);
        }

        last.Info.Status = ReleaseStatus.Uninstalled;
        last.Info.Description = options.Description ?? "Uninstallation complete";
        if (options.KeepHistory)
        {
            await store.UpdateAsync(last, ct).ConfigureAwait(false);
        }
        else
        {
            foreach (var r in history)
            {
                await store.DeleteAsync(r, ct).ConfigureAwait(false);
            }
        }

        if (kept.Count > 0)
        {
            Log?.Invoke("These resources were kept due to the resource policy:\n" + string.Join("\n", kept.Select(k => "[" + k + "]")));
        }

        return last;
    }

    /// <summary>helm history: every revision, oldest first.</summary>
    public Task<List<Release>> HistoryAsync(string name, string ns, CancellationToken ct = default) => store.HistoryAsync(name, ns, ct);

    /// <summary>helm list: the latest revision of each release (deployed and failed ones; all with <paramref name="all"/>).</summary>
    public async Task<List<Release>> ListAsync(string? ns, bool all = false, CancellationToken ct = default)
    {
        var releases = await store.ListAsync(ns, ct).ConfigureAwait(false);
        return releases.GroupBy(r => (r.Namespace, r.Name)).Select(g => g.MaxBy(r => r.Version)!)
            .Where(r => all || r.Info.Status is ReleaseStatus.Deployed or ReleaseStatus.Failed)
            .OrderBy(r => r.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>helm status (the latest revision, or <paramref name="revision"/>).</summary>
    /// <exception cref="HelmException">No such release.</exception>
    public async Task<Release> StatusAsync(string name, string ns, int revision = 0, CancellationToken ct = default)
    {
        var history = await store.HistoryAsync(name, ns, ct).ConfigureAwait(false);
        var release = revision == 0 ? history.LastOrDefault() : history.FirstOrDefault(r => r.Version == revision);
        return release ?? throw new HelmException("release: not found");
    }

    /// <summary>helm test: runs the release's test hooks; returns them with their phases.</summary>
    /// <exception cref="HelmException">A test failed.</exception>
    public async Task<List<Hook>> TestAsync(string name, HelmOptions options, CancellationToken ct = default)
    {
        var release = await StatusAsync(name, options.Namespace, 0, ct).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Timeout);
        try
        {
            await RunHooksAsync(release, "test", timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            await store.UpdateAsync(release, CancellationToken.None).ConfigureAwait(false);
        }

        return release.Hooks.Where(h => h.Events.Contains("test")).ToList();
    }

    /// <inheritdoc/>
    public void Dispose() => kube.Dispose();
}
