using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Containers.Images.Archive;

namespace Containers.Build;

/// <summary>
/// Builds images from Dockerfiles on this engine: RUN steps run in containers of our runtime and their changes
/// become layers; COPY and ADD write layers straight from the context; every step is cached by its parent, its
/// instruction, the build args it uses and the content it copies. Stages build only when the target needs them,
/// independent ones at the same time. Reached as <see cref="ContainerEngine.BuildAsync"/>.
/// </summary>
internal sealed partial class ImageBuilder
{
    private static readonly string[] DefaultShell = ["/bin/sh", "-c"];
    private const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private readonly ContainerEngine engine;
    private readonly BuildOptions options;
    private readonly IProgress<BuildEvent>? progress;
    private readonly ImageStore store;
    private readonly BuildCache cache;
    private readonly ConcurrentDictionary<int, Task<StageState>> built = new();
    private readonly string file;
    private Dockerfile dockerfile = null!;
    private readonly List<Stage> stages = [];
    private readonly Dictionary<string, string?> globalArgs = [];
    private IgnoreMatcher ignore = IgnoreMatcher.None;
    private int step;
    private int cached;

    public ImageBuilder(ContainerEngine engine, BuildOptions options, IProgress<BuildEvent>? progress)
    {
        this.engine = engine;
        this.options = options;
        this.progress = progress;
        store = engine.Images.Store;
        cache = new BuildCache(Path.Combine(engine.Root, "build-cache"), store);
        file = options.DockerfilePath ?? Path.Combine(options.ContextDirectory, "Dockerfile");
    }

    public async Task<BuildResult> BuildAsync(CancellationToken ct)
    {
        if (!Directory.Exists(options.ContextDirectory))
        {
            throw new ContainerException($"build context '{options.ContextDirectory}' is not a directory");
        }

        if (!File.Exists(file))
        {
            throw new ContainerException($"Dockerfile '{file}' not found");
        }

        dockerfile = DockerfileParser.Parse(await File.ReadAllTextAsync(file, ct).ConfigureAwait(false), Path.GetFileName(file));
        ignore = IgnoreMatcher.ForContext(options.ContextDirectory, options.DockerfilePath);
        SplitStages();
        var target = options.Target is null ? stages[^1]
            : stages.FirstOrDefault(s => string.Equals(s.Name, options.Target, StringComparison.OrdinalIgnoreCase))
              ?? throw new ContainerException($"target stage '{options.Target}' could not be found in {dockerfile.File}");
        CheckCycles(target, []);
        var state = await BuildStageAsync(target.Index, ct).ConfigureAwait(false);
        var image = Finish(state);
        return new BuildResult(image, step, cached, dockerfile.Warnings);
    }

    private void SplitStages()
    {
        Stage? current = null;
        foreach (var ins in dockerfile.Instructions)
        {
            if (ins.Keyword == "FROM")
            {
                var words = Words(ins, globalArgs).ToList();
                if (words.Count is not (1 or 3) || (words.Count == 3 && !words[1].Equals("AS", StringComparison.OrdinalIgnoreCase)))
                {
                    throw Error(ins, "FROM requires either one or three arguments: FROM image [AS name]");
                }

                current = new Stage(stages.Count, words.Count == 3 ? words[2].ToLowerInvariant() : null, ins, []);
                stages.Add(current);
            }
            else if (current is null)
            {
                if (ins.Keyword != "ARG")
                {
                    throw Error(ins, $"{ins.Keyword} before the first FROM: only ARG may come first");
                }

                foreach (var (name, value) in ArgDeclarations(ins, globalArgs))
                {
                    globalArgs[name] = options.BuildArgs.TryGetValue(name, out var v) ? v : value;
                }
            }
            else
            {
                current.Steps.Add(ins);
            }
        }

        if (stages.Count == 0)
        {
            throw new DockerfileException(dockerfile.File, 1, 0, "no FROM instruction: a Dockerfile needs at least one stage");
        }
    }

    private void CheckCycles(Stage stage, List<Stage> path)
    {
        if (path.Contains(stage))
        {
            throw Error(stage.From, $"circular dependency between stages: {string.Join(" -> ", path.Append(stage).Select(s => s.Name ?? s.Index.ToString(CultureInfo.InvariantCulture)))}");
        }

        path.Add(stage);
        foreach (var dependency in Dependencies(stage))
        {
            CheckCycles(dependency, path);
        }

        path.RemoveAt(path.Count - 1);
    }

    private IEnumerable<Stage> Dependencies(Stage stage)
    {
        var from = Words(stage.From, globalArgs).First();
        if (FindStage(from) is { } s)
        {
            yield return s;
        }

        foreach (var ins in stage.Steps.Where(i => i.Keyword is "COPY" or "ADD" || (i.Keyword == "RUN" && i.FlagValues("mount").Any())))
        {
            foreach (var name in ins.FlagValues("from").Concat(ins.FlagValues("mount").Select(MountFrom).OfType<string>()))
            {
                if (FindStage(name) is { } dep)
                {
                    yield return dep;
                }
            }
        }
    }

    private static string? MountFrom(string mount) =>
        mount.Split(',').Select(p => p.Split('=', 2)).FirstOrDefault(p => p[0] == "from" && p.Length == 2)?[1];

    private Stage? FindStage(string name) =>
        stages.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? (int.TryParse(name, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < stages.Count ? stages[i] : null);

    private Task<StageState> BuildStageAsync(int index, CancellationToken ct) =>
        built.GetOrAdd(index, i => Task.Run(() => RunStageAsync(stages[i], ct), ct));

    private async Task<StageState> RunStageAsync(Stage stage, CancellationToken ct)
    {
        // independent stages this one needs build at the same time
        var needed = Dependencies(stage).Distinct().Select(s => BuildStageAsync(s.Index, ct)).ToArray();
        await Task.WhenAll(needed).ConfigureAwait(false);

        var state = await FromAsync(stage, ct).ConfigureAwait(false);
        var triggers = state.Run.OnBuild ?? [];
        if (!triggers.IsEmpty)
        {
            state.Run = state.Run with { OnBuild = null };
            foreach (var trigger in triggers)
            {
                foreach (var ins in DockerfileParser.Parse(trigger, $"{dockerfile.File} (ONBUILD of {Words(stage.From, globalArgs).First()})").Instructions)
                {
                    await StepAsync(stage, state, ins with { Line = stage.From.Line }, ct).ConfigureAwait(false);
                }
            }
        }

        foreach (var ins in stage.Steps)
        {
            await StepAsync(stage, state, ins, ct).ConfigureAwait(false);
        }

        return state;
    }

    private async Task<StageState> FromAsync(Stage stage, CancellationToken ct)
    {
        CheckFlags(stage.From);
        if (stage.From.Flag("platform") is { } platformFlag)
        {
            var wanted = new ShellWords(n => globalArgs.GetValueOrDefault(n) ?? Predefined(n, new StageState(stage)), dockerfile.EscapeChar).Single(platformFlag);
            if (!Platform.Parse(wanted).Matches(Platform.Current))
            {
                throw Error(stage.From, $"FROM --platform={wanted}: this builder runs RUN steps natively and builds only for {Platform.Current}");
            }
        }

        var name = Words(stage.From, globalArgs).First();
        var n = Report($"[stage-{stage.Index}] {stage.From.Original}");
        if (FindStage(name) is { } parent && parent != stage)
        {
            return (await BuildStageAsync(parent.Index, ct).ConfigureAwait(false)).Copy(stage);
        }

        if (name.Equals("scratch", StringComparison.OrdinalIgnoreCase))
        {
            return new StageState(stage) { Key = Hash("scratch"), Run = new ContainerConfig(), Os = "linux", Architecture = Platform.Current.Architecture };
        }

        LocalImage image;
        try
        {
            image = await engine.Images.EnsureAsync(name, PullPolicy.Missing, null, ct).ConfigureAwait(false);
        }
        catch (ImageException e)
        {
            throw Error(stage.From, $"FROM {name}: {e.Message}");
        }

        var state = new StageState(stage)
        {
            Key = Hash("image " + image.Id),
            Run = image.Config.Config ?? new ContainerConfig(),
            Os = image.Config.Os,
            Architecture = image.Config.Architecture,
            Chain = image.ChainIds.IsEmpty ? null : image.ChainIds[^1],
        };
        state.Layers.AddRange(image.Manifest.Layers.Select((l, i) => new LayerRef(l.Digest, l.Size, l.MediaType, image.Config.RootFs.DiffIds[i])));
        state.History.AddRange(image.Config.History ?? []);
        Report(n, "DONE");
        return state;
    }

    private static readonly Dictionary<string, string[]> AllowedFlags = new(StringComparer.Ordinal)
    {
        ["RUN"] = ["mount", "network"],
        ["COPY"] = ["from", "chown", "chmod", "link", "exclude", "parents"],
        ["ADD"] = ["chown", "chmod", "link", "exclude", "checksum", "keep-git-dir"],
        ["HEALTHCHECK"] = ["interval", "timeout", "start-period", "start-interval", "retries"],
        ["FROM"] = ["platform"],
    };

    private void CheckFlags(Instruction ins)
    {
        foreach (var (flag, _) in ins.Flags)
        {
            if (!AllowedFlags.TryGetValue(ins.Keyword, out var allowed) || !allowed.Contains(flag))
            {
                throw Error(ins, $"{ins.Keyword} --{flag} is not supported" + (allowed is null ? "" : $" (supported: {string.Join(", ", allowed.Select(a => "--" + a))})"));
            }
        }
    }

    private async Task StepAsync(Stage stage, StageState state, Instruction ins, CancellationToken ct)
    {
        CheckFlags(ins);
        var n = Report($"[stage-{stage.Index}] {FirstLine(ins.Original)}");
        var sw = Stopwatch.StartNew();
        try
        {
            switch (ins.Keyword)
            {
                case "RUN":
                    await RunAsync(state, ins, n, ct).ConfigureAwait(false);
                    break;
                case "COPY" or "ADD":
                    await CopyAsync(state, ins, n, ct).ConfigureAwait(false);
                    break;
                default:
                    ConfigStep(state, ins);
                    break;
            }
        }
        catch (FormatException e)
        {
            throw Error(ins, e.Message);
        }

        Report(n, $"DONE {sw.Elapsed.TotalSeconds:0.0}s");
    }

    private DateTimeOffset Now() => options.SourceDateEpoch is { } epoch ? DateTimeOffset.FromUnixTimeSeconds(epoch) : engine.Context.Time.GetUtcNow();

    /// <summary>Takes a layer step from the cache when it is there (and reports CACHED).</summary>
    private bool FromCache(StageState state, string key, int n)
    {
        if (options.NoCache || cache.Get(key) is not { Layer: { } layer } hit)
        {
            return false;
        }

        Report(n, "CACHED");
        Interlocked.Increment(ref cached);
        Apply(state, hit, key, layer);
        return true;
    }

    private static void Apply(StageState state, CacheEntry entry, string key, LayerRef layer)
    {
        state.Layers.Add(layer);
        state.History.Add(entry.History);
        state.Chain = Digest.Chain(state.Chain, Digest.Parse(layer.DiffId));
        state.Key = key;
    }

    private IReadOnlyList<string> LowerDirs(StageState state) =>
        store.Snapshots.LowerDirs(Digest.Chains(state.Layers.Select(l => l.DiffId)), $"{dockerfile.File} stage {state.Stage.Name ?? state.Stage.Index.ToString(CultureInfo.InvariantCulture)}");

    private LocalImage Finish(StageState state)
    {
        var created = state.History.LastOrDefault()?.Created ?? Now();
        var config = new ImageConfig
        {
            Created = created,
            Author = state.Author,
            Architecture = state.Architecture,
            Os = state.Os,
            Config = state.Run,
            RootFs = new RootFs { DiffIds = [.. state.Layers.Select(l => l.DiffId)] },
            History = [.. state.History],
        };
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Default.ImageConfig);
        var layers = state.Layers.Select(l => (Digest.Parse(l.Blob), l.Size, MediaTypes.CompressionOf(l.MediaType))).ToList();
        var names = options.Tags.Select(ImageReference.Parse).ToList();
        var image = new ImageArchive(store).Commit(config, layers, names.FirstOrDefault(), configBytes);
        foreach (var extra in names.Skip(1))
        {
            store.SetName(image.ManifestDescriptor with { Annotations = null }, extra);
        }

        return image with { Names = [.. names.Select(n => n.ToString())] };
    }

    private static string? Predefined(string name, StageState state) => name switch
    {
        "TARGETPLATFORM" or "BUILDPLATFORM" => $"linux/{Platform.Current.Architecture}",
        "TARGETOS" or "BUILDOS" => "linux",
        "TARGETARCH" or "BUILDARCH" => Platform.Current.Architecture,
        "TARGETVARIANT" or "BUILDVARIANT" => "",
        "TARGETSTAGE" => state.Stage.Name ?? "",
        _ => null,
    };

    private IEnumerable<string> Words(Instruction ins, Dictionary<string, string?> scope)
    {
        try
        {
            return new ShellWords(n => scope.GetValueOrDefault(n), dockerfile.EscapeChar).Split(ins.Raw);
        }
        catch (FormatException e)
        {
            throw Error(ins, e.Message);
        }
    }

    private int Report(string text)
    {
        var n = Interlocked.Increment(ref step);
        progress?.Report(new BuildEvent(n, text));
        return n;
    }

    private void Report(int n, string text) => progress?.Report(new BuildEvent(n, text));

    private DockerfileException Error(Instruction ins, string message) => new(dockerfile.File, ins.Line, 0, message);

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [System.Text.RegularExpressions.GeneratedRegex(@"^<<-?(['""]?)[A-Za-z_][A-Za-z0-9_]*\1$")]
    private static partial System.Text.RegularExpressions.Regex HeredocOnly();

    /// <summary>A stage of the Dockerfile.</summary>
    private sealed record Stage(int Index, string? Name, Instruction From, List<Instruction> Steps);

    /// <summary>Where a stage's build is: its run config, layers, history and the cache key of its last step.</summary>
    private sealed class StageState(Stage stage)
    {
        public Stage Stage { get; } = stage;

        public string Key { get; set; } = "";

        public ContainerConfig Run { get; set; } = new();

        public List<LayerRef> Layers { get; } = [];

        public List<HistoryEntry> History { get; } = [];

        public Digest? Chain { get; set; }

        public Dictionary<string, string?> Args { get; } = new(StringComparer.Ordinal);

        public string Os { get; set; } = "linux";

        public string Architecture { get; set; } = "";

        public string? Author { get; set; }

        public bool CmdSet { get; set; }

        /// <summary>ENV wins over ARG, as in docker.</summary>
        public string? Lookup(string name) =>
            (Run.Env ?? []).LastOrDefault(e => e.StartsWith(name + "=", StringComparison.Ordinal)) is { } env ? env[(name.Length + 1)..] : Args.GetValueOrDefault(name);

        public StageState Copy(Stage into)
        {
            var copy = new StageState(into) { Key = Key, Run = Run, Chain = Chain, Os = Os, Architecture = Architecture, Author = Author };
            copy.Layers.AddRange(Layers);
            copy.History.AddRange(History);
            return copy;
        }
    }
}
