using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Containers.Helm.Functions;
using YamlDotNet.Core;

namespace Containers.Helm.Charts;

/// <summary>A file of a chart: its path inside the chart (slash-separated) and its bytes.</summary>
/// <param name="Name">The path inside the chart, such as templates/deployment.yaml.</param>
/// <param name="Data">The content.</param>
public sealed record ChartFile(string Name, byte[] Data)
{
    /// <summary>The content as UTF-8 text.</summary>
    public string Text => Encoding.UTF8.GetString(Data);
}

/// <summary>
/// A loaded chart (Helm's chart.Chart): Chart.yaml, values.yaml, values.schema.json, templates, the other files
/// (what <c>.Files</c> reads, crds/ included), and the subcharts found in charts/.
/// </summary>
public sealed class Chart
{
    /// <summary>Chart.yaml.</summary>
    public required ChartMetadata Metadata { get; init; }

    /// <summary>The templates (templates/...), in path order.</summary>
    public List<ChartFile> Templates { get; init; } = [];

    /// <summary>values.yaml as values.</summary>
    public Dictionary<string, object?> Values { get; init; } = new(StringComparer.Ordinal);

    /// <summary>values.yaml as written (null when there is none).</summary>
    public string? RawValues { get; init; }

    /// <summary>values.schema.json, when there is one.</summary>
    public byte[]? Schema { get; init; }

    /// <summary>Chart.lock, when there is one.</summary>
    public string? Lock { get; init; }

    /// <summary>Every other file (crds/, NOTES.txt is a template; README.md, files for .Files.Get).</summary>
    public List<ChartFile> Files { get; init; } = [];

    /// <summary>The subcharts (from charts/).</summary>
    public List<Chart> Dependencies { get; } = [];

    /// <summary>The chart this one is a subchart of.</summary>
    public Chart? Parent { get; private set; }

    /// <summary>The chart's name.</summary>
    public string Name => Metadata.Name;

    /// <summary>Whether this chart is the one installed (not a subchart).</summary>
    public bool IsRoot => Parent is null;

    /// <summary>The path Helm names its templates by: NAME, or PARENT/charts/NAME for a subchart.</summary>
    public string FullPath => Parent is null ? Name : Parent.FullPath + "/charts/" + Name;

    /// <summary>The CRDs to install before anything else (crds/*.yaml|yml|json of this chart and its subcharts).</summary>
    public IEnumerable<(string Path, ChartFile File)> Crds() =>
        Files.Where(f => f.Name.StartsWith("crds/", StringComparison.Ordinal) && (f.Name.EndsWith(".yaml", StringComparison.Ordinal) || f.Name.EndsWith(".yml", StringComparison.Ordinal) || f.Name.EndsWith(".json", StringComparison.Ordinal)))
            .Select(f => (FullPath + "/" + f.Name, f))
            .Concat(Dependencies.SelectMany(d => d.Crds()));

    /// <summary>Adds a subchart.</summary>
    public void AddDependency(Chart child)
    {
        child.Parent = this;
        child.Metadata.IsRoot = false;
        Dependencies.Add(child);
    }

    /// <summary>Removes a subchart (disabled by a condition or tags).</summary>
    public void RemoveDependency(Chart child) => Dependencies.Remove(child);

    /// <summary>A copy renamed to <paramref name="alias"/> (a dependency with an alias).</summary>
    public Chart WithAlias(string alias)
    {
        var metadata = Metadata.Clone();
        metadata.Name = alias;
        var copy = new Chart { Metadata = metadata, Templates = Templates, Values = (Dictionary<string, object?>)Cast.DeepCopy(Values)!, RawValues = RawValues, Schema = Schema, Lock = Lock, Files = Files };
        foreach (var d in Dependencies)
        {
            copy.AddDependency(d);
        }

        return copy;
    }

    /// <summary>Loads a chart from a directory or a .tgz archive.</summary>
    /// <exception cref="ChartException">It is not a chart, or a file of it is broken (named).</exception>
    public static Chart Load(string path)
    {
        if (Directory.Exists(path))
        {
            return LoadDirectory(path);
        }

        if (File.Exists(path))
        {
            using var stream = File.OpenRead(path);
            return LoadArchive(stream, path);
        }

        throw new ChartException($"path \"{path}\" not found");
    }

    /// <summary>Loads a chart from a .tgz stream (entries under one top directory, as helm package writes them).</summary>
    /// <exception cref="ChartException">It is not a chart archive.</exception>
    public static Chart LoadArchive(Stream stream, string name)
    {
        var files = new List<ChartFile>();
        try
        {
            using var gzip = new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                {
                    continue;
                }

                string entryName = entry.Name.Replace('\\', '/');
                int slash = entryName.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0)
                {
                    continue;
                }

                string inner = entryName[(slash + 1)..];
                if (inner.Split('/').Any(p => p == ".."))
                {
                    throw new ChartException($"{name}: chart illegally references a parent directory: {entryName}");
                }

                using var ms = new MemoryStream();
                entry.DataStream.CopyTo(ms);
                files.Add(new ChartFile(inner, ms.ToArray()));
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new ChartException($"{name}: not a chart archive (gzip-compressed tar): {e.Message}", e);
        }

        return FromFiles(files, name);
    }

    private static Chart LoadDirectory(string dir)
    {
        string root = Path.GetFullPath(dir);
        var ignore = HelmIgnore.Load(Path.Combine(root, ".helmignore"));
        var files = new List<ChartFile>();
        foreach (string file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string rel = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (ignore.Ignored(rel, isDirectory: false) || rel.Split('/').SkipLast(1).Select((_, i) => string.Join('/', rel.Split('/').Take(i + 1))).Any(d => ignore.Ignored(d, isDirectory: true)))
            {
                continue;
            }

            files.Add(new ChartFile(rel, File.ReadAllBytes(file)));
        }

        return FromFiles(files, dir);
    }

    /// <summary>Builds a chart from its files (paths relative to the chart), loading subcharts from charts/.</summary>
    /// <exception cref="ChartException">Chart.yaml is missing or invalid, or a file does not parse.</exception>
    public static Chart FromFiles(IReadOnlyList<ChartFile> files, string where)
    {
        var chartYaml = files.FirstOrDefault(f => f.Name == "Chart.yaml") ?? throw new ChartException($"{where}: Chart.yaml file is missing");
        var metadata = new ChartMetadata(ParseMap(chartYaml, where));
        metadata.Validate(where + "/Chart.yaml");
        var valuesFile = files.FirstOrDefault(f => f.Name == "values.yaml");
        var chart = new Chart
        {
            Metadata = metadata,
            Values = valuesFile is null ? new(StringComparer.Ordinal) : ParseMap(valuesFile, where),
            RawValues = valuesFile?.Text,
            Schema = files.FirstOrDefault(f => f.Name == "values.schema.json")?.Data,
            Lock = files.FirstOrDefault(f => f.Name == "Chart.lock")?.Text,
            Templates = files.Where(f => f.Name.StartsWith("templates/", StringComparison.Ordinal)).OrderBy(f => f.Name, StringComparer.Ordinal).ToList(),
            Files = files.Where(f => f.Name is not ("Chart.yaml" or "values.yaml" or "values.schema.json" or "Chart.lock")
                && !f.Name.StartsWith("templates/", StringComparison.Ordinal) && !f.Name.StartsWith("charts/", StringComparison.Ordinal)).ToList(),
        };

        // subcharts: charts/NAME/... directories and charts/*.tgz archives
        foreach (var group in files.Where(f => f.Name.StartsWith("charts/", StringComparison.Ordinal)).GroupBy(f => f.Name.Split('/')[1]).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            if (group.Key.EndsWith(".tgz", StringComparison.Ordinal) && group.Count() == 1 && group.First().Name.Count(c => c == '/') == 1)
            {
                using var ms = new MemoryStream(group.First().Data);
                chart.AddDependency(LoadArchive(ms, where + "/" + group.First().Name));
            }
            else if (group.Any(f => f.Name == $"charts/{group.Key}/Chart.yaml"))
            {
                string prefix = $"charts/{group.Key}/";
                chart.AddDependency(FromFiles(group.Select(f => f with { Name = f.Name[prefix.Length..] }).ToList(), where + "/" + prefix.TrimEnd('/')));
            }
        }

        return chart;
    }

    private static Dictionary<string, object?> ParseMap(ChartFile file, string where)
    {
        try
        {
            return GoYaml.Parse(file.Text) switch
            {
                Dictionary<string, object?> map => map,
                null => new(StringComparer.Ordinal),
                _ => throw new ChartException($"{where}/{file.Name}: error unmarshaling JSON: json: cannot unmarshal array into Go value of type map[string]interface {{}}"),
            };
        }
        catch (YamlException e)
        {
            throw new ChartException($"{where}/{file.Name}: error converting YAML to JSON: yaml: line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}", e);
        }
    }
}
