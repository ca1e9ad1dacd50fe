namespace Containers.Helm;

/// <summary>
/// How an install, upgrade, rollback or uninstall runs (Helm's flags): namespace, --create-namespace, --atomic,
/// --wait, --timeout, --dry-run, --no-hooks, --skip-crds, --reuse-values, --reset-values, --keep-history, --strict.
/// </summary>
public sealed record HelmOptions
{
    /// <summary>The release namespace (-n).</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>Create the namespace when it does not exist.</summary>
    public bool CreateNamespace { get; init; }

    /// <summary>On failure, uninstall (install) or roll back (upgrade); implies <see cref="Wait"/>.</summary>
    public bool Atomic { get; init; }

    /// <summary>Wait until Deployments, StatefulSets, DaemonSets, Pods and PVCs are ready.</summary>
    public bool Wait { get; init; }

    /// <summary>With <see cref="Wait"/>, also wait until Jobs complete.</summary>
    public bool WaitForJobs { get; init; }

    /// <summary>How long waits and hooks may take (Helm's default 5m).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Render and check, change nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>A description stored with the revision instead of Helm's.</summary>
    public string? Description { get; init; }

    /// <summary>Run no hooks.</summary>
    public bool NoHooks { get; init; }

    /// <summary>Do not install the chart's crds/.</summary>
    public bool SkipCrds { get; init; }

    /// <summary>Upgrade: merge the new values over the last release's.</summary>
    public bool ReuseValues { get; init; }

    /// <summary>Upgrade: use only the new values and the chart's defaults.</summary>
    public bool ResetValues { get; init; }

    /// <summary>Upgrade: install when the release does not exist (helm upgrade --install).</summary>
    public bool Install { get; init; }

    /// <summary>Uninstall: keep the release records (status uninstalled).</summary>
    public bool KeepHistory { get; init; }

    /// <summary>Fail on a missing value (missingkey=error).</summary>
    public bool Strict { get; init; }

    /// <summary>helm template / install --dry-run: also print the CRDs.</summary>
    public bool IncludeCrds { get; init; }
}
