using System.Globalization;
using System.Text;
using Containers.Helm;
using Containers.Helm.Charts;
using Containers.Helm.Functions;
using Containers.Helm.Releases;
using Containers.Helm.Repositories;

namespace Containers.Cli;

/// <summary>The chart-side helm commands: create, lint, package, show, pull, push and repo.</summary>
internal static partial class HelmCommands
{
    public static async Task<int> CreateAsync(CliContext c, Args a)
    {
        string name = Positional(a, 0, "a chart name");
        ChartScaffold.Create(Path.GetFileName(name), Path.GetDirectoryName(Path.GetFullPath(name))!);
        await Console.Out.WriteLineAsync($"Creating {name}").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> LintAsync(CliContext c, Args a)
    {
        var paths = a.Positionals.Count > 0 ? a.Positionals : ["."];
        int failed = 0;
        var options = Options(a);
        foreach (string path in paths)
        {
            await Console.Out.WriteLineAsync($"==> Linting {path}").ConfigureAwait(false);
            var messages = Lint(path, Values(a), options);
            foreach (var (level, message) in messages)
            {
                await Console.Out.WriteLineAsync($"[{level}] {message}").ConfigureAwait(false);
            }

            if (messages.Any(m => m.Level == "ERROR") || (options.Strict && messages.Any(m => m.Level == "WARNING")))
            {
                failed++;
            }

            await Console.Out.WriteLineAsync().ConfigureAwait(false);
        }

        string summary = $"{paths.Count} chart(s) linted, {failed} chart(s) failed";
        if (failed > 0)
        {
            throw new HelmException(summary);
        }

        await Console.Out.WriteLineAsync(summary).ConfigureAwait(false);
        return 0;
    }

    /// <summary>helm lint's checks: Chart.yaml, values.yaml, the schema, every template rendered and parsed as Kubernetes YAML.</summary>
    internal static List<(string Level, string Message)> Lint(string path, Dictionary<string, object?> values, HelmOptions options)
    {
        var messages = new List<(string, string)>();
        Chart chart;
        try
        {
            chart = Chart.Load(path);
        }
        catch (ChartException e)
        {
            messages.Add(("ERROR", e.Message));
            return messages;
        }

        if (chart.Metadata.ApiVersion != "v2")
        {
            messages.Add(("WARNING", "Chart.yaml: apiVersion v1 is deprecated; use v2"));
        }

        if (!File.Exists(Path.Combine(path, "Chart.yaml")) || !File.ReadAllText(Path.Combine(path, "Chart.yaml")).Contains("icon:", StringComparison.Ordinal))
        {
            messages.Add(("INFO", "Chart.yaml: icon is recommended"));
        }

        if (chart.RawValues is null)
        {
            messages.Add(("INFO", "values.yaml: file does not exist"));
        }

        try
        {
            var rendered = ReleaseRenderer.Render(chart, values, new Containers.Helm.Engine.ReleaseOptions("test-release", options.Namespace, 1, true), Containers.Helm.Engine.Capabilities.Default, new Containers.Helm.Engine.HelmEngine { Strict = options.Strict });
            foreach (var o in rendered.Objects.Where(o => o.Kind.Length > 0))
            {
                if (o.ApiVersion.Length == 0)
                {
                    messages.Add(("ERROR", $"{o.Source}: object has no apiVersion"));
                }

                if (o.Name.Length == 0)
                {
                    messages.Add(("ERROR", $"{o.Source}: object has no metadata.name"));
                }
            }

            foreach (var o in rendered.Objects.Where(o => o.Kind.Length == 0 && o.Content.Split('\n').Any(l => l.Length > 0 && !l.StartsWith('#'))))
            {
                messages.Add(("ERROR", $"{o.Source}: unable to parse YAML: object has no kind"));
            }
        }
        catch (Exception e) when (e is ChartException or Containers.Helm.Templates.TemplateException)
        {
            messages.Add(("ERROR", "templates/: " + e.Message));
        }

        return messages;
    }

    public static async Task<int> PackageAsync(CliContext c, Args a)
    {
        foreach (string dir in a.Positionals.Count > 0 ? a.Positionals : throw new UsageException("\"containers helm package\" requires at least 1 chart directory", a.Verb))
        {
            string target = ChartRepositories.Package(dir, a.Get("destination") ?? ".");
            await Console.Out.WriteLineAsync($"Successfully packaged chart and saved it to: {target}").ConfigureAwait(false);
        }

        return 0;
    }

    public static async Task<int> ShowAsync(CliContext c, Args a)
    {
        var chart = await ChartAsync(a, Positional(a, 0, "a chart")).ConfigureAwait(false);
        var sb = new StringBuilder();
        string chartYaml = GoYaml.Serialize(GoJson.Convert(System.Text.Json.JsonDocument.Parse(chart.Metadata.ToJson().ToJsonString()).RootElement));
        string values = chart.RawValues ?? "";
        string readme = chart.Files.FirstOrDefault(f => f.Name.Equals("README.md", StringComparison.OrdinalIgnoreCase))?.Text ?? "";
        switch (a.Name)
        {
            case "chart": sb.Append(chartYaml); break;
            case "values": sb.Append(values); break;
            case "readme": sb.Append(readme); break;
            case "crds": sb.Append(string.Concat(chart.Crds().Select(x => "---\n" + x.File.Text))); break;
            default: sb.Append(chartYaml).Append("\n---\n").Append(values).Append("\n---\n").Append(readme); break;
        }

        await Console.Out.WriteAsync(sb.ToString()).ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> PullAsync(CliContext c, Args a)
    {
        string reference = Positional(a, 0, "a chart");
        using var http = new HttpClient();
        var (chart, archive) = await new ChartLocator(HelmSettings.FromEnvironment(), http).FetchAsync(reference, a.Get("version"), a.Has("devel")).ConfigureAwait(false);
        if (archive is null)
        {
            throw new HelmException($"{reference} is a directory: nothing to pull");
        }

        string dest = a.Get("destination") ?? ".";
        Directory.CreateDirectory(dest);
        string file = Path.Combine(dest, $"{chart.Name}-{chart.Metadata.Version}.tgz");
        await File.WriteAllBytesAsync(file, archive).ConfigureAwait(false);
        if (reference.StartsWith("oci://", StringComparison.Ordinal))
        {
            await Console.Out.WriteLineAsync($"Pulled: {reference[6..]}:{chart.Metadata.Version}\nDigest: {Containers.Images.Digest.Of(archive)}").ConfigureAwait(false);
        }

        if (a.Has("untar"))
        {
            await using var gz = new System.IO.Compression.GZipStream(new MemoryStream(archive), System.IO.Compression.CompressionMode.Decompress);
            await System.Formats.Tar.TarFile.ExtractToDirectoryAsync(gz, a.Get("untardir") ?? dest, overwriteFiles: true).ConfigureAwait(false);
            File.Delete(file);
        }

        return 0;
    }

    public static async Task<int> PushAsync(CliContext c, Args a)
    {
        string archive = Positional(a, 0, "a chart archive and a remote");
        string remote = Positional(a, 1, "a chart archive and a remote");
        using var oci = new OciCharts(c.Options.Registry);
        var (reference, digest) = await oci.PushAsync(archive, remote).ConfigureAwait(false);
        await Console.Out.WriteLineAsync($"Pushed: {reference}\nDigest: {digest}").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> DependencyAsync(CliContext c, Args a)
    {
        string dir = a.Positionals.Count > 0 ? a.Positionals[0] : ".";
        if (a.Name == "list")
        {
            await Table(["NAME", "VERSION", "REPOSITORY", "STATUS"], ChartDependencies.List(dir).Select(d => new[] { d.Name, d.Version, d.Repository, d.Status })).ConfigureAwait(false);
            return 0;
        }

        using var http = new HttpClient();
        var dependencies = new ChartDependencies(new ChartLocator(HelmSettings.FromEnvironment(), http, c.Options.Registry));
        var resolved = await dependencies.UpdateAsync(dir, useLock: a.Name == "build").ConfigureAwait(false);
        await Console.Out.WriteLineAsync($"Saving {resolved.Count} charts").ConfigureAwait(false);
        foreach (var (name, _, repository) in resolved)
        {
            await Console.Out.WriteLineAsync($"Downloading {name} from repo {repository}").ConfigureAwait(false);
        }

        await Console.Out.WriteLineAsync("Deleting outdated charts").ConfigureAwait(false);
        return 0;
    }

    public static async Task<int> RepoAsync(CliContext c, Args a)
    {
        using var http = new HttpClient();
        var repos = new ChartRepositories(HelmSettings.FromEnvironment(), http);
        switch (a.Name)
        {
            case "add":
                string name = Positional(a, 0, "a name and a URL");
                await repos.AddAsync(name, Positional(a, 1, "a name and a URL"), a.Has("force-update")).ConfigureAwait(false);
                await Console.Out.WriteLineAsync($"\"{name}\" has been added to your repositories").ConfigureAwait(false);
                return 0;
            case "update":
                await Console.Out.WriteLineAsync("Hang tight while we grab the latest from your chart repositories...").ConfigureAwait(false);
                await repos.UpdateAsync(a.Positionals).ConfigureAwait(false);
                foreach (var r in repos.List().Where(r => a.Positionals.Count == 0 || a.Positionals.Contains(r.Name)))
                {
                    await Console.Out.WriteLineAsync($"...Successfully got an update from the \"{r.Name}\" chart repository").ConfigureAwait(false);
                }

                await Console.Out.WriteLineAsync("Update Complete. ⎈Happy Helming!⎈").ConfigureAwait(false);
                return 0;
            case "list":
                var list = repos.List();
                if (list.Count == 0)
                {
                    throw new HelmException("no repositories to show");
                }

                await Table(["NAME", "URL"], list.Select(r => new[] { r.Name, r.Url })).ConfigureAwait(false);
                return 0;
            case "remove":
                foreach (string n in a.Positionals)
                {
                    repos.Remove(n);
                    await Console.Out.WriteLineAsync($"\"{n}\" has been removed from your repositories").ConfigureAwait(false);
                }

                return 0;
            case "index":
                ChartRepositories.Index(Positional(a, 0, "a directory"), a.Get("url"));
                return 0;
            default:
                throw new UsageException($"unknown repo subcommand '{a.Name}'", a.Verb);
        }
    }

}
