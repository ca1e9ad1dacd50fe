using System.Reflection;
using System.Text.RegularExpressions;

namespace Containers.Helm.Charts;

/// <summary><c>helm create</c>: the scaffold chart Helm 3 writes (Chart.yaml, values.yaml, .helmignore, the templates and a test).</summary>
public static partial class ChartScaffold
{
    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex ChartName();

    /// <summary>Writes the scaffold of chart <paramref name="name"/> into DIR/NAME; returns that directory.</summary>
    /// <exception cref="ChartException">The name is not a valid chart name, or DIR/NAME is a file.</exception>
    public static string Create(string name, string directory)
    {
        if (name.Length is 0 or > 250)
        {
            throw new ChartException("chart name must be between 1 and 250 characters");
        }

        if (!ChartName().IsMatch(name))
        {
            throw new ChartException($"chart name must match the regular expression \"{ChartName()}\"");
        }

        string root = Path.GetFullPath(Path.Combine(directory, name));
        if (File.Exists(root))
        {
            throw new ChartException($"file {root} already exists and is not a directory");
        }

        var assembly = typeof(ChartScaffold).Assembly;
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith("scaffold/", StringComparison.Ordinal)))
        {
            string relative = resource["scaffold/".Length..^".txt".Length].Replace("__", "/", StringComparison.Ordinal);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            string text = reader.ReadToEnd();
            text = relative is "Chart.yaml" or "values.yaml" ? text.Replace("%s", name, StringComparison.Ordinal) : text.Replace("<CHARTNAME>", name, StringComparison.Ordinal);
            string path = Path.Combine(root, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
        }

        Directory.CreateDirectory(Path.Combine(root, "charts"));
        return root;
    }
}
