using System.Text.RegularExpressions;
using Containers.Helm.Charts;
using Containers.Helm.Engine;

namespace Containers.Helm.Tests;

/// <summary>Broken templates fail with the message Helm gives: Go's parse and execution errors (file, line, column, context), cleaned up as Helm cleans them.</summary>
public sealed partial class ErrorParityTests(ReferenceRenderer reference) : IClassFixture<ReferenceRenderer>, IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("helm-errors-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    public static TheoryData<string> Templates() =>
    [
        "a: {{ .Values.missing.b }}",
        "a: {{ trunc 3 .Values.number }}",
        "a: {{ include \"nope\" . }}",
        "a: {{ index .Values.list 5 }}",
        "a: {{ if }}x{{ end }}",
        "a: {{ upper }}",
        "a: {{ $x }}",
        "a: {{ range .Values.number }}{{ end }}",
        "a: {{ eq .Values.number 1 }}",
        "line1\nline2: {{ fail \"boom\" }}",
        "a: {{ .Values.text ",
        "a: {{ end }}",
        "a: {{ template \"missing\" }}",
        "a: {{ .Values.text.field }}",
        "a: {{ nil }}",
        "a: {{ 3 | upper }}",
        "a: {{ (1).x }}",
        "a: {{ len 3 }}",
        "a: {{ required \"need it\" .Values.missing }}",
        "a: {{ .Values.list | join }}",
        "{{ define \"x\" }}{{ .nope.deeper }}{{ end }}a: {{ include \"x\" .Values }}",
        "a: {{ tpl \"{{ .Values.missing.x }}\" . }}",
        "a: {{ tpl \"{{ if }}\" . }}",
        "a: {{ tpl \"{{ define \\\"in\\\" }}inner{{ end }}{{ include \\\"in\\\" . }}-{{ .Release.Name }}\" . }}",
        "a: {{ printf \"%d\" }} {{ printf }}",
        "a: {{ \"unterminated }}",
        "a: {{ .Values.number | int | add 1 | sub | quote }}",
    ];

    [Theory]
    [MemberData(nameof(Templates))]
    public void Errors_match_helm(string template)
    {
        string dir = Path.Combine(root, "c");
        Directory.CreateDirectory(Path.Combine(dir, "templates"));
        File.WriteAllText(Path.Combine(dir, "Chart.yaml"), "apiVersion: v2\nname: c\nversion: 1.0.0\n");
        File.WriteAllText(Path.Combine(dir, "values.yaml"), "number: 1.5\nlist: [a, b]\ntext: hello\n");
        File.WriteAllText(Path.Combine(dir, "templates", "t.yaml"), template);
        var chart = Chart.Load(dir);
        var values = ChartValues.Prepare(chart, []);
        var release = new ReleaseOptions("r", "ns");
        var (files, goError) = reference.Render(chart, values, release);
        string? ours = null;
        try
        {
            ours = "OK:" + new HelmEngine().Render(chart, HelmEngine.RenderValues(chart, values, release))["c/templates/t.yaml"];
        }
        catch (Templates.TemplateException e)
        {
            ours = e.Message;
        }

        string expected = goError is null ? "OK:" + files!["c/templates/t.yaml"] : Cleanup(goError);
        Assert.Equal(expected, ours);
    }

    [GeneratedRegex("HELM_ERR_START((?s).*)HELM_ERR_END")]
    private static partial Regex Warn();

    /// <summary>Helm's cleanupParseError and cleanupExecError.</summary>
    private static string Cleanup(string error)
    {
        var tokens = error.Split(": ");
        if (!error.Contains("executing", StringComparison.Ordinal))
        {
            return $"parse error at ({tokens[1]}): {tokens[^1]}";
        }

        var three = error.Split(": ", 3);
        var warn = Warn().Match(three[2]);
        return warn.Success ? $"execution error at ({three[1]}): {warn.Groups[1].Value}" : error;
    }
}
