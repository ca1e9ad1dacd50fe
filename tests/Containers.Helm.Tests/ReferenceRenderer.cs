using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Containers.Helm.Charts;
using Containers.Helm.Engine;
using Containers.Helm.Functions;

namespace Containers.Helm.Tests;

/// <summary>
/// The Go reference renderer (Reference/helmrender.go: Go's text/template, Debian's Sprig 3 and sigs.k8s.io/yaml,
/// Helm's engine logic), built once per test run into a temporary directory, fed the same templates and values.
/// </summary>
public sealed class ReferenceRenderer : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "helmrender-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Builds the renderer (go build in GOPATH mode against /usr/share/gocode).</summary>
    public ReferenceRenderer()
    {
        string gopath = Path.Combine(dir, "gopath");
        string src = Path.Combine(gopath, "src", "helmrender");
        Directory.CreateDirectory(src);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Reference", "helmrender.go"), Path.Combine(src, "helmrender.go"));
        foreach (string module in new[] { "sprig", "semver" })
        {
            string parent = Path.Combine(gopath, "src", "github.com", "Masterminds", module);
            Directory.CreateDirectory(parent);
            File.CreateSymbolicLink(Path.Combine(parent, "v3"), "/usr/share/gocode/src/github.com/Masterminds/" + module);
        }

        Executable = Path.Combine(dir, "helmrender");
        var psi = new ProcessStartInfo("go", ["build", "-o", Executable, "."]) { WorkingDirectory = src, RedirectStandardError = true, RedirectStandardOutput = true };
        psi.Environment["GO111MODULE"] = "off";
        psi.Environment["GOPATH"] = gopath + ":/usr/share/gocode";
        psi.Environment["GOCACHE"] = Path.Combine(dir, "cache");
        psi.Environment["GOFLAGS"] = "";
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("the Go toolchain is missing: tests/run.sh installs golang-go, golang-github-masterminds-sprig-dev and golang-k8s-sigs-yaml-dev", e);
        }

        using (process)
        {
            string err = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException("building the Go reference renderer failed: " + err);
            }
        }
    }

    /// <summary>The built renderer.</summary>
    public string Executable { get; }

    /// <summary>Renders the prepared chart as Helm's Go engine would: file name to text, or the error text.</summary>
    public (SortedDictionary<string, string>? Files, string? Error) Render(Chart chart, Dictionary<string, object?> values, ReleaseOptions release, bool strict = false) =>
        Render(chart, values, release, strict, 1).Result;

    /// <summary>Renders <paramref name="repeat"/> times (the benchmark); the timing line the renderer printed, and the last result.</summary>
    public ((SortedDictionary<string, string>? Files, string? Error) Result, string Timing) Render(Chart chart, Dictionary<string, object?> values, ReleaseOptions release, bool strict, int repeat)
    {
        var input = new JsonObject
        {
            ["templates"] = new JsonArray(),
            ["charts"] = new JsonObject(),
            ["release"] = new JsonObject { ["Name"] = release.Name, ["Namespace"] = release.Namespace, ["IsUpgrade"] = !release.IsInstall, ["IsInstall"] = release.IsInstall, ["Revision"] = release.Revision, ["Service"] = "Helm" },
            ["kubeVersion"] = Capabilities.Default.KubeVersion,
            ["apiVersions"] = new JsonArray(Capabilities.DefaultApiVersions.Select(v => (JsonNode?)v).ToArray()),
            ["strict"] = strict,
        };
        Add(chart, values, input);
        var psi = new ProcessStartInfo(Executable) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["HELMRENDER_REPEAT"] = repeat.ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var process = Process.Start(psi)!;
        process.StandardInput.Write(input.ToJsonString());
        process.StandardInput.Close();
        string output = process.StandardOutput.ReadToEnd();
        string err = process.StandardError.ReadToEnd();
        process.WaitForExit();
        var result = JsonNode.Parse(output) ?? throw new InvalidOperationException("the reference renderer printed nothing: " + err);
        if (result["error"] is { } error)
        {
            return ((null, (string?)error), err.Trim());
        }

        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, text) in result["files"]!.AsObject())
        {
            files[name] = (string)text!;
        }

        return ((files, null), err.Trim());
    }

    private static void Add(Chart chart, object? values, JsonObject input)
    {
        var files = new JsonObject();
        foreach (var f in chart.Files)
        {
            files[f.Name] = f.Text;
        }

        input["charts"]![chart.FullPath] = new JsonObject
        {
            ["values"] = JsonNode.Parse(GoJson.Serialize(values, escapeHtml: false)),
            ["metadata"] = chart.Metadata.ToJson(),
            ["files"] = files,
            ["isRoot"] = chart.IsRoot,
        };
        foreach (var t in chart.Templates)
        {
            if (chart.Metadata.IsLibrary && !Path.GetFileName(t.Name).StartsWith('_'))
            {
                continue;
            }

            input["templates"]!.AsArray().Add(new JsonObject { ["name"] = chart.FullPath + "/" + t.Name, ["text"] = t.Text, ["chart"] = chart.FullPath });
        }

        foreach (var child in chart.Dependencies)
        {
            Add(child, values is IDictionary<string, object?> v && v.TryGetValue(child.Name, out var cv) ? cv : new Dictionary<string, object?>(), input);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
