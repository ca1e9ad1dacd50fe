using System.Text.RegularExpressions;

namespace Containers.Compose;

/// <summary>
/// Loads compose files as docker compose does: discovery (compose.yaml, compose.yml, docker-compose.yaml,
/// docker-compose.yml, in the directory or its parents, plus the override file), <c>.env</c> and interpolation,
/// <c>include</c>, merging of several files, <c>extends</c>, validation against the compose spec's schema (errors name
/// file, line and path), profiles, and a normalised model.
/// </summary>
public static partial class ComposeLoader
{
    private static readonly string[] Candidates = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
    private static readonly string[] OverrideCandidates = ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"];

    /// <summary>Loads, merges and validates. Throws <see cref="ComposeException"/> naming the file, line and path of what is wrong.</summary>
    public static ComposeProject Load(ComposeOptions? options = null)
    {
        options ??= new ComposeOptions();
        var cwd = Path.GetFullPath(options.WorkingDirectory ?? Directory.GetCurrentDirectory());
        var files = options.Files.IsDefaultOrEmpty ? Discover(cwd) : [.. options.Files.Select(f => Path.GetFullPath(f, cwd))];
        foreach (var f in files)
        {
            if (!File.Exists(f))
            {
                throw new ComposeException($"open {f}: no such file or directory");
            }
        }

        var projectDir = Path.GetDirectoryName(files[0])!;
        var shell = options.Environment ?? Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "");
        var env = new Dictionary<string, string>(shell);
        var envFiles = options.EnvFiles.IsDefaultOrEmpty
            ? (File.Exists(Path.Combine(projectDir, ".env")) ? [Path.Combine(projectDir, ".env")] : [])
            : options.EnvFiles.Select(f => Path.GetFullPath(f, cwd)).ToArray();
        foreach (var ef in envFiles)
        {
            if (!File.Exists(ef))
            {
                throw new ComposeException($"couldn't find env file: {ef}");
            }

            foreach (var (k, v) in EnvFile.Parse(ef, k => env.GetValueOrDefault(k)))
            {
                if (!shell.ContainsKey(k) && v is not null)
                {
                    env[k] = v; // the shell wins
                }
            }
        }

        var ctx = new LoadContext(k => env.TryGetValue(k, out var v) ? v : null, env);
        JsonObject? merged = null;
        foreach (var f in files)
        {
            var doc = ctx.ReadFile(f, projectDir);
            merged = merged is null ? doc : Merger.MergeTop(merged, doc);
        }

        var root = merged!;
        ctx.ResolveExtends(root, files[^1]);
        if (root.Remove("version"))
        {
            ctx.Warnings.Add("the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion");
        }

        SchemaValidator.Validate(root, ctx.Lines);
        var name = Normalize(options.ProjectName ?? env.GetValueOrDefault("COMPOSE_PROJECT_NAME") ?? (string?)root["name"] ?? Path.GetFileName(projectDir));
        if (name.Length == 0)
        {
            throw new ComposeException("project name must not be empty: use -p, COMPOSE_PROJECT_NAME or name:");
        }

        root["name"] = name;
        var profiles = options.Profiles.Concat((env.GetValueOrDefault("COMPOSE_PROFILES") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToHashSet(StringComparer.Ordinal);
        return ModelBuilder.Build(root, name, projectDir, files, profiles, env, ctx);
    }

    /// <summary>The file found from <paramref name="dir"/> upwards, and its override file beside it.</summary>
    public static string[] Discover(string dir)
    {
        for (var d = new DirectoryInfo(dir); d is not null; d = d.Parent)
        {
            var found = Candidates.Select(c => Path.Combine(d.FullName, c)).Where(File.Exists).ToArray();
            if (found.Length > 0)
            {
                var over = OverrideCandidates.Select(c => Path.Combine(d.FullName, c)).FirstOrDefault(File.Exists);
                return over is null ? [found[0]] : [found[0], over];
            }
        }

        throw new ComposeException($"no configuration file provided: not found (looked for {string.Join(", ", Candidates)} in {dir} and its parents)");
    }

    /// <summary>docker compose's project name rule: lower case, only <c>[a-z0-9_-]</c>, starting with a letter or digit.</summary>
    public static string Normalize(string name) => InvalidNameChars().Replace(name.ToLowerInvariant(), "").TrimStart('_', '-');

    [GeneratedRegex("[^a-z0-9_-]")]
    private static partial Regex InvalidNameChars();
}
