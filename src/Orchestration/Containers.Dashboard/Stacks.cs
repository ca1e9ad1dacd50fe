using System.Text.RegularExpressions;
using Containers.Compose;
using Containers.Runtime;

namespace Containers.Dashboard;

/// <summary>
/// Compose stacks on the engine of this process: each deployed from the dashboard's editor is kept as
/// DATA/stacks/NAME/compose.yaml; projects brought up otherwise (the CLI, an app) are listed from their labels.
/// </summary>
internal sealed partial class Stacks(ContainerEngine engine, string directory)
{
    private readonly ComposeEngine compose = new(engine);
    private readonly SemaphoreSlim gate = new(1, 1);

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,62}$")]
    private static partial Regex ValidName();

    /// <summary>Every project: those with containers (by label) and those saved here.</summary>
    public IReadOnlyList<StackSummary> List()
    {
        var byProject = engine.List(all: true)
            .Where(c => c.Spec.Labels.ContainsKey(ComposeEngine.ProjectLabel))
            .GroupBy(c => c.Spec.Labels[ComposeEngine.ProjectLabel])
            .ToDictionary(g => g.Key, g => g.ToList());
        var saved = Directory.Exists(directory) ? Directory.GetDirectories(directory).Select(Path.GetFileName).Where(n => File.Exists(Path.Combine(directory, n!, "compose.yaml"))).Cast<string>() : [];
        return [.. byProject.Keys.Union(saved).Order(StringComparer.Ordinal).Select(name =>
        {
            var containers = byProject.GetValueOrDefault(name) ?? [];
            return new StackSummary(name, containers.Count, containers.Count(c => c.Status == ContainerStatus.Running),
                [.. containers.Select(c => c.Spec.Labels.GetValueOrDefault(ComposeEngine.ServiceLabel) ?? "").Distinct().Order(StringComparer.Ordinal)],
                File.Exists(FileOf(name)));
        })];
    }

    /// <summary>The compose file a stack was deployed from, or null.</summary>
    public string? Read(string name) => File.Exists(FileOf(Check(name))) ? File.ReadAllText(FileOf(name)) : null;

    /// <summary>What up would do, for <paramref name="yaml"/> as stack <paramref name="name"/>.</summary>
    public async Task<IReadOnlyList<PlanStep>> PlanAsync(string name, string yaml, CancellationToken ct)
    {
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var (project, candidate) = Load(name, yaml);
            File.Delete(candidate);
            return await compose.PlanAsync(project, null, ct).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Saves <paramref name="yaml"/> as stack <paramref name="name"/> once it loads, and brings it up; returns the progress lines.</summary>
    public async Task<IReadOnlyList<string>> UpAsync(string name, string yaml, CancellationToken ct)
    {
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var (_, candidate) = Load(name, yaml);
            File.Move(candidate, FileOf(name), overwrite: true);
            var project = ComposeLoader.Load(Options(name, FileOf(name)));
            var lines = new List<string>();
            await compose.UpAsync(project, null, new Collect(lines), ct).ConfigureAwait(false);
            return lines;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Takes stack <paramref name="name"/> down (its saved file, or its containers' labels), and forgets its file when <paramref name="remove"/>.</summary>
    public async Task<IReadOnlyList<string>> DownAsync(string name, bool volumes, bool remove, CancellationToken ct)
    {
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var lines = new List<string>();
            var project = File.Exists(FileOf(Check(name))) ? ComposeLoader.Load(Options(name, FileOf(name))) : new ComposeProject { Name = name, WorkingDirectory = directory, Model = [] };
            await compose.DownAsync(project, volumes, removeOrphans: true, new Collect(lines), ct).ConfigureAwait(false);
            if (remove && Directory.Exists(Path.Combine(directory, name)))
            {
                Directory.Delete(Path.Combine(directory, name), recursive: true);
            }

            return lines;
        }
        finally
        {
            gate.Release();
        }
    }

    private (ComposeProject Project, string Candidate) Load(string name, string yaml)
    {
        string dir = Path.Combine(directory, Check(name));
        Directory.CreateDirectory(dir);
        string candidate = Path.Combine(dir, "compose.candidate.yaml");
        File.WriteAllText(candidate, yaml);
        try
        {
            return (ComposeLoader.Load(Options(name, candidate)), candidate);
        }
        catch (ComposeException e)
        {
            File.Delete(candidate);
            if (!File.Exists(FileOf(name)))
            {
                Directory.Delete(dir, recursive: true);
            }

            throw new ComposeException(e.Message.Replace(candidate, "compose.yaml", StringComparison.Ordinal).Replace(dir + "/", "", StringComparison.Ordinal), e);
        }
    }

    // the dashboard's own environment is not the stack's: ${VAR} comes from the stack's .env only (a stack written in a
    // browser must not read the server's variables)
    private static ComposeOptions Options(string name, string file) =>
        new() { Files = [file], ProjectName = name, WorkingDirectory = Path.GetDirectoryName(file), Environment = new Dictionary<string, string>() };

    private string FileOf(string name) => Path.Combine(directory, name, "compose.yaml");

    private static string Check(string name) =>
        ValidName().IsMatch(name) ? name : throw new ComposeException($"stack name '{name}': lowercase letters, digits, '-' and '_', starting with a letter or digit");

    private sealed class Collect(List<string> lines) : IProgress<string>
    {
        public void Report(string value)
        {
            lock (lines)
            {
                lines.Add(value);
            }
        }
    }
}

/// <summary>A stack in the list: its containers, how many run, its services, and whether the dashboard holds its file.</summary>
internal sealed record StackSummary(string Name, int Containers, int Running, string[] Services, bool Editable);
