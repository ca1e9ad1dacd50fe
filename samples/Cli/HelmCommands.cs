using System.Globalization;
using System.Text;
using Containers.Helm;
using Containers.Helm.Charts;
using Containers.Helm.Releases;
using Containers.Helm.Repositories;

namespace Containers.Cli;

/// <summary><c>containers helm ...</c>: Helm 3's commands against the cluster of this root, with Helm's flags and output.</summary>
internal static partial class HelmCommands
{
    private static HelmClient Connect(EngineOptions options)
    {
        string kubeconfig = Path.Combine(options.Root, "kubeconfig");
        string server = ClusterCommands.ServerUrl(kubeconfig);
        if (server.Length == 0)
        {
            throw new ContainerException($"no cluster was set up on {options.Root} (no kubeconfig): run \"containers cluster up\" first");
        }

        string pki = Path.Combine(options.Root, "cluster", "pki");
        var http = new HttpClient(Directory.Exists(pki) ? Containers.Orchestration.Api.ClusterPki.AdminHandler(pki) : new HttpClientHandler(), disposeHandler: true);
        return new HelmClient(new KubeClient(http, server)) { Log = line => Console.Error.WriteLine(line) };
    }

    private static HelmOptions Options(Args a)
    {
        var timeout = a.Get("timeout") is { } t ? ClusterCommands.Duration(t) ?? throw new UsageException($"--timeout: '{t}' is not a duration such as 5m0s") : TimeSpan.FromMinutes(5);
        return new HelmOptions
        {
            Namespace = a.Get("namespace") ?? "default",
            CreateNamespace = a.Has("create-namespace"),
            Atomic = a.Has("atomic"),
            Wait = a.Has("wait"),
            WaitForJobs = a.Has("wait-for-jobs"),
            Timeout = timeout,
            DryRun = a.Has("dry-run"),
            Description = a.Get("description"),
            NoHooks = a.Has("no-hooks"),
            SkipCrds = a.Has("skip-crds"),
            ReuseValues = a.Has("reuse-values"),
            ResetValues = a.Has("reset-values"),
            Install = a.Has("install"),
            KeepHistory = a.Has("keep-history"),
            Strict = a.Has("strict"),
            IncludeCrds = a.Has("include-crds"),
        };
    }

    private static Dictionary<string, object?> Values(Args a) =>
        SetParser.Merge(a.All("values"), a.All("set-json"), a.All("set"), a.All("set-string"), a.All("set-file"), a.All("set-literal"));

    private static string Positional(Args a, int index, string what) =>
        a.Positionals.Count > index ? a.Positionals[index] : throw new UsageException($"\"{a.Verb.Path}\" requires {what}", a.Verb);

    private static async Task<Chart> ChartAsync(Args a, string reference)
    {
        using var http = new HttpClient();
        return await new ChartLocator(HelmSettings.FromEnvironment(), http).LocateAsync(reference, a.Get("version"), a.Has("devel")).ConfigureAwait(false);
    }

    public static async Task<int> InstallAsync(CliContext c, Args a)
    {
        string name, reference;
        if (a.Has("generate-name"))
        {
            reference = Positional(a, 0, "a chart");
            name = reference.Split('/')[^1].Replace(".tgz", "", StringComparison.Ordinal).ToLowerInvariant() + "-" + DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }
        else
        {
            name = Positional(a, 0, "a release name and a chart");
            reference = Positional(a, 1, "a release name and a chart");
        }

        var chart = await ChartAsync(a, reference).ConfigureAwait(false);
        using var helm = Connect(c.Options);
        var release = await helm.InstallAsync(name, chart, Values(a), Options(a)).ConfigureAwait(false);
        await PrintReleaseAsync(release, a, showNotes: true, manifest: a.Has("dry-run")).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> UpgradeAsync(CliContext c, Args a)
    {
        string name = Positional(a, 0, "a release name and a chart");
        var chart = await ChartAsync(a, Positional(a, 1, "a release name and a chart")).ConfigureAwait(false);
        using var helm = Connect(c.Options);
        var options = Options(a);
        bool exists = (await helm.HistoryAsync(name, options.Namespace).ConfigureAwait(false)).Any(r => r.Info.Status != ReleaseStatus.Uninstalled);
        if (!exists && options.Install)
        {
            await Console.Out.WriteLineAsync($"Release \"{name}\" does not exist. Installing it now.").ConfigureAwait(false);
        }

        var release = await helm.UpgradeAsync(name, chart, Values(a), options).ConfigureAwait(false);
        if (exists)
        {
            await Console.Out.WriteLineAsync($"Release \"{name}\" has been upgraded. Happy Helming!").ConfigureAwait(false);
        }

        await PrintReleaseAsync(release, a, showNotes: true, manifest: a.Has("dry-run")).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> UninstallAsync(CliContext c, Args a)
    {
        using var helm = Connect(c.Options);
        foreach (string name in a.Positionals.Count > 0 ? a.Positionals : throw new UsageException("\"containers helm uninstall\" requires at least 1 release name", a.Verb))
        {
            await helm.UninstallAsync(name, Options(a)).ConfigureAwait(false);
            await Console.Out.WriteLineAsync($"release \"{name}\" uninstalled").ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> RollbackAsync(CliContext c, Args a)
    {
        string name = Positional(a, 0, "a release name");
        int revision = a.Positionals.Count > 1 ? int.TryParse(a.Positionals[1], CultureInfo.InvariantCulture, out int r) ? r : throw new UsageException($"invalid revision \"{a.Positionals[1]}\"") : 0;
        using var helm = Connect(c.Options);
        await helm.RollbackAsync(name, revision, Options(a)).ConfigureAwait(false);
        await Console.Out.WriteLineAsync("Rollback was a success! Happy Helming!").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> ListAsync(CliContext c, Args a)
    {
        using var helm = Connect(c.Options);
        var releases = await helm.ListAsync(a.Has("all-namespaces") ? null : a.Get("namespace") ?? "default", a.Has("all")).ConfigureAwait(false);
        if (a.Get("output") is "json" or "yaml")
        {
            var items = releases.Select(r => (object?)new Dictionary<string, object?>(StringComparer.Ordinal)
            {
                ["name"] = r.Name, ["namespace"] = r.Namespace, ["revision"] = r.Version.ToString(CultureInfo.InvariantCulture), ["updated"] = Updated(r.Info.LastDeployed),
                ["status"] = r.Info.Status, ["chart"] = r.ChartName + "-" + r.ChartVersion, ["app_version"] = r.AppVersion,
            }).ToList();
            await Console.Out.WriteLineAsync(a.Get("output") == "json" ? Containers.Helm.Functions.GoJson.Serialize(items) : Containers.Helm.Functions.GoYaml.Serialize(items).TrimEnd('\n')).ConfigureAwait(false);
            return 0;
        }

        if (a.Has("short"))
        {
            foreach (var r in releases)
            {
                await Console.Out.WriteLineAsync(r.Name).ConfigureAwait(false);
            }

            return 0;
        }

        await Table(["NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"],
            releases.Select(r => new[] { r.Name, r.Namespace, r.Version.ToString(CultureInfo.InvariantCulture), Updated(r.Info.LastDeployed), r.Info.Status, r.ChartName + "-" + r.ChartVersion, r.AppVersion })).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> HistoryAsync(CliContext c, Args a)
    {
        string name = Positional(a, 0, "a release name");
        using var helm = Connect(c.Options);
        var history = await helm.HistoryAsync(name, a.Get("namespace") ?? "default").ConfigureAwait(false);
        if (history.Count == 0)
        {
            throw new HelmException("release: not found");
        }

        if (a.Get("max") is { } max && int.TryParse(max, CultureInfo.InvariantCulture, out int m))
        {
            history = history.TakeLast(m).ToList();
        }

        await Table(["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"],
            history.Select(r => new[] { r.Version.ToString(CultureInfo.InvariantCulture), Ansic(r.Info.LastDeployed), r.Info.Status, r.ChartName + "-" + r.ChartVersion, r.AppVersion, r.Info.Description })).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> StatusAsync(CliContext c, Args a)
    {
        string name = Positional(a, 0, "a release name");
        using var helm = Connect(c.Options);
        var release = await RevisionAsync(helm, name, a).ConfigureAwait(false);
        await PrintReleaseAsync(release, a, showNotes: true, manifest: false).ConfigureAwait(false);
        return 0;
    }

    /// <summary>The release's revision --revision names, or its latest.</summary>
    private static Task<Release> RevisionAsync(HelmClient helm, string name, Args a) =>
        helm.StatusAsync(name, a.Get("namespace") ?? "default", a.Get("revision") is { } rv && int.TryParse(rv, CultureInfo.InvariantCulture, out int r) ? r : 0);

    public static async Task<int> GetAsync(CliContext c, Args a)
    {
        string name = Positional(a, 0, "a release name");
        using var helm = Connect(c.Options);
        var release = await RevisionAsync(helm, name, a).ConfigureAwait(false);
        string text = a.Name switch
        {
            "values" when a.Has("all") => "COMPUTED VALUES:\n" + Containers.Helm.Functions.GoYaml.Serialize(ValueMaps.Coalesce(release.LoadChart(), release.Config)),
            "values" => a.Get("output") == "json" ? Containers.Helm.Functions.GoJson.Serialize(release.Config) + "\n" : "USER-SUPPLIED VALUES:\n" + (release.Config.Count == 0 ? "null\n" : Containers.Helm.Functions.GoYaml.Serialize(release.Config)),
            "manifest" => release.Manifest,
            "notes" => "NOTES:\n" + release.Info.Notes,
            "hooks" => string.Concat(release.Hooks.Select(h => $"---\n# Source: {h.Path}\n{h.Manifest}\n")),
            _ => throw new UsageException($"unknown get subcommand '{a.Name}'", a.Verb),
        };
        await Console.Out.WriteAsync(text.EndsWith('\n') ? text : text + "\n").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> TemplateAsync(CliContext c, Args a)
    {
        string name = a.Positionals.Count > 1 ? a.Positionals[0] : "release-name";
        string reference = a.Positionals.Count > 1 ? a.Positionals[1] : Positional(a, 0, "a chart");
        var chart = await ChartAsync(a, reference).ConfigureAwait(false);
        var options = Options(a);
        var capabilities = a.Get("kube-version") is { } kv ? new Containers.Helm.Engine.Capabilities(kv.StartsWith('v') ? kv : "v" + kv, Containers.Helm.Engine.Capabilities.DefaultApiVersions) : Containers.Helm.Engine.Capabilities.Default;
        var rendered = ReleaseRenderer.Render(chart, Values(a), new Containers.Helm.Engine.ReleaseOptions(name, options.Namespace, 1, !a.Has("is-upgrade")), capabilities, new Containers.Helm.Engine.HelmEngine { Strict = options.Strict });
        string output = rendered.ToTemplateOutput(options.IncludeCrds, includeHooks: !options.NoHooks);
        if (a.All("show-only") is { Count: > 0 } only)
        {
            var sb = new StringBuilder();
            foreach (string part in Containers.Helm.Releases.Manifests.Split(output).Where(d => only.Any(o => d.StartsWith("# Source: " + chart.Name + "/" + o, StringComparison.Ordinal))))
            {
                sb.Append("---\n").Append(part).Append('\n');
            }

            output = sb.Length > 0 ? sb.ToString() : throw new HelmException($"could not find template {only[0]} in chart");
        }

        await Console.Out.WriteAsync(output).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> TestAsync(CliContext c, Args a)
    {
        string name = Positional(a, 0, "a release name");
        using var helm = Connect(c.Options);
        var options = Options(a);
        List<Hook> hooks;
        try
        {
            hooks = await helm.TestAsync(name, options).ConfigureAwait(false);
        }
        finally
        {
            var release = await helm.StatusAsync(name, options.Namespace).ConfigureAwait(false);
            await PrintReleaseAsync(release, a, showNotes: false, manifest: false).ConfigureAwait(false);
        }

        return hooks.All(h => h.Phase == "Succeeded") ? 0 : 1;
    }

    private static async Task PrintReleaseAsync(Release release, Args a, bool showNotes, bool manifest)
    {
        if (a.Get("output") is "json")
        {
            await Console.Out.WriteLineAsync(release.ToJson().ToJsonString()).ConfigureAwait(false);
            return;
        }

        var sb = new StringBuilder();
        sb.Append("NAME: ").Append(release.Name).Append('\n');
        sb.Append("LAST DEPLOYED: ").Append(Ansic(release.Info.LastDeployed)).Append('\n');
        sb.Append("NAMESPACE: ").Append(release.Namespace).Append('\n');
        sb.Append("STATUS: ").Append(release.Info.Status).Append('\n');
        sb.Append("REVISION: ").Append(release.Version).Append('\n');
        var tests = release.Hooks.Where(h => h.Events.Contains("test")).ToList();
        if (tests.Any(t => t.Phase.Length > 0))
        {
            foreach (var t in tests)
            {
                sb.Append("TEST SUITE:     ").Append(t.Name).Append('\n');
                sb.Append("Last Started:   ").Append(Ansic(t.StartedAt)).Append('\n');
                sb.Append("Last Completed: ").Append(Ansic(t.CompletedAt)).Append('\n');
                sb.Append("Phase:          ").Append(t.Phase).Append('\n');
            }
        }
        else
        {
            sb.Append("TEST SUITE: None\n");
        }

        if (manifest)
        {
            sb.Append("HOOKS:\n");
            foreach (var h in release.Hooks)
            {
                sb.Append("---\n# Source: ").Append(h.Path).Append('\n').Append(h.Manifest).Append('\n');
            }

            sb.Append("MANIFEST:\n").Append(release.Manifest);
        }

        if (showNotes && release.Info.Notes.Trim().Length > 0)
        {
            sb.Append("NOTES:\n").Append(release.Info.Notes.TrimEnd('\n')).Append('\n');
        }

        await Console.Out.WriteAsync(sb.ToString()).ConfigureAwait(false);
    }

    private static string Ansic(DateTimeOffset t) =>
        t == DateTimeOffset.MinValue ? "" : new Containers.Helm.Templates.GoTime(t.ToLocalTime(), "").Format("Mon Jan _2 15:04:05 2006");

    private static string Updated(DateTimeOffset t) =>
        new Containers.Helm.Templates.GoTime(t.ToUniversalTime(), "UTC").Format("2006-01-02 15:04:05.999999999 -0700 MST");

    private static async Task Table(string[] headers, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { headers };
        all.AddRange(rows);
        int[] widths = Enumerable.Range(0, headers.Length).Select(i => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            await Console.Out.WriteLineAsync(string.Join("\t", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd()).ConfigureAwait(false);
        }
    }
}
