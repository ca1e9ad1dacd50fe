using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Containers.Images;
using Containers.Images.Archive;
using Containers.Images.Oci;
using Containers.Images.Snapshots;
using Containers.Runtime;

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

    private void ConfigStep(StageState state, Instruction ins)
    {
        var run = state.Run;
        var words = new ShellWords(state.Lookup, dockerfile.EscapeChar);
        switch (ins.Keyword)
        {
            case "ARG":
                foreach (var (name, value) in ArgDeclarations(ins, state.Args.ToDictionary()))
                {
                    state.Args[name] = options.BuildArgs.TryGetValue(name, out var v) ? v
                        : value ?? (globalArgs.TryGetValue(name, out var g) ? g : Predefined(name, state));
                }

                Commit(state, ins, $"ARG {ins.Raw}", emptyLayer: true, key: string.Join(',', state.Args.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}")));
                return;
            case "ENV":
                var env = (run.Env ?? []).ToList();
                foreach (var (k, v) in Pairs(ins, words))
                {
                    env.RemoveAll(e => e.Split('=')[0] == k);
                    env.Add($"{k}={v}");
                }

                run = run with { Env = [.. env] };
                break;
            case "LABEL":
                run = run with { Labels = (run.Labels ?? ImmutableSortedDictionary<string, string>.Empty).SetItems(Pairs(ins, words).Select(p => KeyValuePair.Create(p.Key, p.Value))) };
                break;
            case "WORKDIR":
                var dir = words.Single(ins.Raw);
                run = run with { WorkingDir = dir.StartsWith('/') ? dir : Path.Combine(run.WorkingDir ?? "/", dir) };
                break;
            case "USER":
                run = run with { User = words.Single(ins.Raw) };
                break;
            case "EXPOSE":
                run = run with { ExposedPorts = (run.ExposedPorts ?? ImmutableSortedDictionary<string, EmptyObject>.Empty).SetItems(words.Split(ins.Raw).Select(p => KeyValuePair.Create(p.Contains('/', StringComparison.Ordinal) ? p.ToLowerInvariant() : p + "/tcp", EmptyObject.Instance))) };
                break;
            case "VOLUME":
                var volumes = ins.IsJson ? [.. ins.Args] : words.Split(ins.Raw);
                run = run with { Volumes = (run.Volumes ?? ImmutableSortedDictionary<string, EmptyObject>.Empty).SetItems(volumes.Select(v => KeyValuePair.Create(v, EmptyObject.Instance))) };
                break;
            case "STOPSIGNAL":
                run = run with { StopSignal = words.Single(ins.Raw) };
                break;
            case "CMD":
                run = run with { Cmd = Command(ins, run) };
                state.CmdSet = true;
                break;
            case "ENTRYPOINT":
                run = run with { Entrypoint = Command(ins, run), Cmd = state.CmdSet ? run.Cmd : null };
                break;
            case "SHELL":
                run = run with { Shell = ins.IsJson && ins.Args.Length > 0 ? ins.Args : throw Error(ins, "SHELL requires the arguments to be in JSON form") };
                break;
            case "HEALTHCHECK":
                run = run with { Healthcheck = Healthcheck(ins) };
                break;
            case "ONBUILD":
                var trigger = ins.Raw.Trim();
                if (trigger.Split(' ')[0].ToUpperInvariant() is "ONBUILD" or "FROM" or "MAINTAINER")
                {
                    throw Error(ins, $"{trigger.Split(' ')[0].ToUpperInvariant()} isn't allowed as an ONBUILD trigger");
                }

                run = run with { OnBuild = [.. run.OnBuild ?? [], trigger] };
                break;
            case "MAINTAINER":
                state.Author = ins.Raw.Trim();
                break;
            default:
                throw Error(ins, $"unknown instruction: {ins.Keyword}");
        }

        state.Run = run;
        Commit(state, ins, FirstLine(ins.Original), emptyLayer: true, key: ConfigKey(run));
    }

    private static string ConfigKey(ContainerConfig run) => OciJson.Serialize(run);

    /// <summary>Records a config-only step: history (from the cache when it was made before, so the image id is stable).</summary>
    private void Commit(StageState state, Instruction ins, string createdBy, bool emptyLayer, string key)
    {
        var stepKey = Hash($"{state.Key}\n{ins.Keyword}\n{key}");
        var hit = options.NoCache ? null : cache.Get(stepKey);
        var history = hit?.History ?? new HistoryEntry { Created = Now(), CreatedBy = createdBy, EmptyLayer = emptyLayer };
        if (hit is null)
        {
            cache.Put(stepKey, new CacheEntry(history, null), null);
        }

        state.History.Add(history);
        state.Key = stepKey;
    }

    private DateTimeOffset Now() => options.SourceDateEpoch is { } epoch ? DateTimeOffset.FromUnixTimeSeconds(epoch) : engine.Context.Time.GetUtcNow();

    private async Task RunAsync(StageState state, Instruction ins, int n, CancellationToken ct)
    {
        var run = state.Run;
        ImmutableArray<string> command;
        if (ins.IsJson)
        {
            command = ins.Args;
        }
        else
        {
            var script = ins.Raw;
            if (!ins.Heredocs.IsEmpty)
            {
                script = HeredocOnly().IsMatch(script.Trim()) && ins.Heredocs.Length == 1
                    ? ins.Heredocs[0].Content
                    : script + "\n" + string.Concat(ins.Heredocs.Select(h => h.Content + h.Name + "\n"));
            }

            command = [.. run.Shell ?? [.. DefaultShell], script];
        }

        var argEnv = state.Args.Where(a => a.Value is not null && !(run.Env ?? []).Any(e => e.Split('=')[0] == a.Key))
            .OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}").ToArray();
        var network = ins.Flag("network") ?? options.Network;
        var mounts = ins.FlagValues("mount").ToArray();
        var bound = new List<string>();
        foreach (var m in mounts)
        {
            bound.Add(await BindKeyAsync(m, ct).ConfigureAwait(false));
        }

        var key = Hash($"{state.Key}\nRUN\n{string.Join('\0', command)}\n{string.Join('\0', argEnv)}\n{network}\n{string.Join('\0', mounts)}\n{string.Join('\0', bound)}");
        if (FromCache(state, key, n))
        {
            return;
        }

        var lower = LowerDirs(state);
        var temps = new List<string>();
        try
        {
            await RunInContainerAsync(state, ins, n, command, argEnv, network, mounts, key, lower, temps, ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var temp in temps)
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private async Task RunInContainerAsync(StageState state, Instruction ins, int n, ImmutableArray<string> command, string[] argEnv, string network, string[] mounts, string key, IReadOnlyList<string> lower, List<string> temps, CancellationToken ct)
    {
        var run = state.Run;
        var env = (run.Env ?? []).Concat(argEnv).ToList();
        if (!env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)))
        {
            env.Insert(0, DefaultPath);
        }

        var spec = new ContainerSpec
        {
            Rootfs = lower[0],
            LowerLayers = [.. lower.Skip(1)],
            Command = command,
            Environment = [.. env],
            User = string.IsNullOrEmpty(run.User) ? null : run.User,
            WorkingDirectory = string.IsNullOrEmpty(run.WorkingDir) ? "/" : run.WorkingDir,
            NetworkMode = network switch
            {
                "default" => "bridge",
                "none" or "host" => network,
                _ => throw Error(ins, $"RUN --network={network}: expected default, none or host"),
            },
            Hostname = "buildkitsandbox",
            Mounts = [.. await Task.WhenAll(mounts.Select(m => RunMountAsync(ins, m, temps, ct))).ConfigureAwait(false)],
            Labels = ImmutableDictionary<string, string>.Empty.Add("io.containers-dotnet.build", "1"),
        };

        var tail = new Queue<string>();
        var partial = new StringBuilder();
        var gate = new Lock();
        void Output(string stream, ReadOnlyMemory<byte> bytes)
        {
            lock (gate)
            {
                partial.Append(Encoding.UTF8.GetString(bytes.Span));
                var text = partial.ToString();
                var last = text.LastIndexOf('\n');
                if (last < 0)
                {
                    return;
                }

                foreach (var line in text[..last].Split('\n'))
                {
                    Report(n, line);
                    tail.Enqueue(line);
                    if (tail.Count > 10)
                    {
                        tail.Dequeue();
                    }
                }

                partial.Clear().Append(text[(last + 1)..]);
            }
        }

        Container container;
        try
        {
            container = await engine.StartAsync(spec, Output, ct).ConfigureAwait(false);
        }
        catch (ContainerException e)
        {
            throw Error(ins, $"RUN {string.Join(' ', command)}: {e.Message}");
        }

        try
        {
            var exit = await container.WaitAsync(ct).ConfigureAwait(false);
            lock (gate)
            {
                if (partial.Length > 0)
                {
                    Report(n, partial.ToString());
                    tail.Enqueue(partial.ToString());
                }
            }

            if (exit.ExitCode != 0)
            {
                var shown = ins.IsJson ? "[" + string.Join(", ", command.Select(c => "\"" + c + "\"")) + "]" : string.Join(' ', command);
                throw Error(ins, $"process \"{shown}\" did not complete successfully: exit code: {exit.ExitCode}" + (tail.Count > 0 ? "\n" + string.Join('\n', tail) : ""));
            }

            var upper = Path.Combine(engine.Context.Store.Dir(container.Id), "upper");
            var targets = spec.Mounts.Select(m => m.Target.Trim('/')).ToHashSet(StringComparer.Ordinal);
            var (blob, size, diffId) = await new LayerStore(store).AddAsync(
                tar => new LayerWriter(store.Sys).Write(upper, tar, overlay: true, (rel, st) => LayerWriter.RuntimePlaceholders(rel, st) || (st.IsDirectory && targets.Contains(rel)), options.SourceDateEpoch),
                state.Chain,
                $"RUN at {dockerfile.File}:{ins.Line}",
                ct).ConfigureAwait(false);
            var layer = new LayerRef(blob.ToString(), size, MediaTypes.OciLayerGzip, diffId.ToString());
            var entry = new CacheEntry(new HistoryEntry { Created = Now(), CreatedBy = "RUN " + string.Join(' ', command) + " # containers-dotnet" }, layer);
            cache.Put(key, entry, Digest.Chain(state.Chain, diffId));
            Apply(state, entry, key, layer);
        }
        finally
        {
            await container.RemoveAsync(force: true).ConfigureAwait(false);
        }
    }

    private async Task<MountSpec> RunMountAsync(Instruction ins, string mount, List<string> temps, CancellationToken ct)
    {
        var parts = mount.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "true", StringComparer.Ordinal);
        var type = parts.GetValueOrDefault("type", "bind");
        var target = parts.GetValueOrDefault("target") ?? parts.GetValueOrDefault("dst") ?? parts.GetValueOrDefault("destination");
        switch (type)
        {
            case "cache":
                if (target is null)
                {
                    throw Error(ins, "RUN --mount=type=cache needs target=");
                }

                var id = parts.GetValueOrDefault("id", target);
                var dir = Path.Combine(cache.Dir, "mounts", Hash(id)[..16]);
                Directory.CreateDirectory(dir);
                return new MountSpec(MountType.Bind, dir, target);
            case "secret":
                var secretId = parts.GetValueOrDefault("id") ?? (target is null ? throw Error(ins, "RUN --mount=type=secret needs id=") : Path.GetFileName(target));
                if (!options.Secrets.TryGetValue(secretId, out var source) || !File.Exists(source))
                {
                    if (parts.GetValueOrDefault("required") == "true")
                    {
                        throw Error(ins, $"secret {secretId} not found: pass --secret id={secretId},src=PATH");
                    }

                    source = "/dev/null";
                }

                return new MountSpec(MountType.Bind, source, target ?? "/run/secrets/" + secretId, ReadOnly: true);
            case "bind":
                if (target is null)
                {
                    throw Error(ins, "RUN --mount=type=bind needs target=");
                }

                var path = IgnoreMatcher.Clean(parts.GetValueOrDefault("source") ?? parts.GetValueOrDefault("src") ?? "");
                var readWrite = parts.ContainsKey("rw") || parts.GetValueOrDefault("readwrite") == "true";
                if (parts.GetValueOrDefault("from") is not { } from)
                {
                    var host = Path.Combine(Path.GetFullPath(options.ContextDirectory), path);
                    return store.Sys.LStat(host) is null ? throw Error(ins, $"RUN --mount=type=bind: {path} not found in the build context") : Materialize(host, null, path, readWrite, target, temps);
                }

                var view = FindStage(from) is { } stage
                    ? new MergedView(LowerDirs(await BuildStageAsync(stage.Index, ct).ConfigureAwait(false)), store.Sys)
                    : new MergedView(store.LowerDirs(await engine.Images.EnsureAsync(from, PullPolicy.Missing, null, ct).ConfigureAwait(false)), store.Sys);
                var resolved = view.Resolve(path) ?? throw Error(ins, $"RUN --mount=type=bind,from={from}: {path} not found there");
                return Materialize(resolved, view, path, readWrite, target, temps);
            default:
                throw Error(ins, $"RUN --mount=type={type} is not supported (bind, cache and secret are)");
        }
    }

    /// <summary>What a bind mount brings in, for the cache key: the source stage's key, or the context files' checksum.</summary>
    private async Task<string> BindKeyAsync(string mount, CancellationToken ct)
    {
        var parts = mount.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "true", StringComparer.Ordinal);
        if (parts.GetValueOrDefault("type", "bind") != "bind")
        {
            return "";
        }

        if (parts.GetValueOrDefault("from") is { } from)
        {
            return FindStage(from) is { } stage ? (await BuildStageAsync(stage.Index, ct).ConfigureAwait(false)).Key : from;
        }

        var rel = IgnoreMatcher.Clean(parts.GetValueOrDefault("source") ?? parts.GetValueOrDefault("src") ?? "");
        var host = Path.Combine(Path.GetFullPath(options.ContextDirectory), rel);
        if (store.Sys.LStat(host) is not { } st)
        {
            return "";
        }

        var items = new List<CopyItem>();
        if (st.IsDirectory)
        {
            Walk(host, rel, null, (childRel, childHost, childSt) => items.Add(Item(childRel, childHost, childSt, null, null, null)));
        }
        else
        {
            items.Add(Item(rel, host, st, null, null, null));
        }

        return Checksum(items);
    }

    /// <summary>
    /// A bind mount's source as one directory: a stage's path is spread over its layers, so it is copied out (and
    /// deleted after the step); writes to a read-write bind are discarded, as BuildKit does.
    /// </summary>
    private MountSpec Materialize(string host, MergedView? view, string rel, bool readWrite, string target, List<string> temps)
    {
        if (view is null && !readWrite)
        {
            return new MountSpec(MountType.Bind, host, target, ReadOnly: true);
        }

        var temp = Path.Combine(cache.Dir, "tmp-" + Guid.NewGuid().ToString("N"));
        temps.Add(temp);
        var st = store.Sys.LStat(host)!.Value;
        if (!st.IsDirectory)
        {
            Directory.CreateDirectory(temp);
            var file = Path.Combine(temp, Path.GetFileName(host));
            File.Copy(host, file);
            return new MountSpec(MountType.Bind, file, target, ReadOnly: !readWrite);
        }

        Directory.CreateDirectory(temp);
        Walk(host, rel.Trim('/'), view, (childRel, childHost, childSt) =>
        {
            var under = childRel[(rel.Trim('/').Length == 0 ? 0 : rel.Trim('/').Length + 1)..];
            var dest = Path.Combine(temp, under);
            switch (childSt.Type)
            {
                case Linux.FileStatus.Directory:
                    Directory.CreateDirectory(dest);
                    break;
                case Linux.FileStatus.Symlink:
                    File.CreateSymbolicLink(dest, store.Sys.ReadLink(childHost));
                    break;
                case Linux.FileStatus.Regular:
                    File.Copy(childHost, dest);
                    break;
                default:
                    break;
            }
        });
        return new MountSpec(MountType.Bind, temp, target, ReadOnly: !readWrite);
    }

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

    private IReadOnlyList<string> LowerDirs(StageState state)
    {
        if (state.Layers.Count == 0)
        {
            return [store.Snapshots.Empty];
        }

        var dirs = new List<string>();
        Digest? chain = null;
        foreach (var l in state.Layers)
        {
            chain = Digest.Chain(chain, Digest.Parse(l.DiffId));
            dirs.Add(store.Snapshots.PathOf(chain.Value));
        }

        dirs.Reverse();
        return dirs;
    }

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

    private ImmutableArray<string> Command(Instruction ins, ContainerConfig run) =>
        ins.IsJson ? ins.Args : [.. run.Shell ?? [.. DefaultShell], ins.Raw];

    private HealthcheckConfig? Healthcheck(Instruction ins)
    {
        var words = ins.Raw.Trim();
        if (words.Equals("NONE", StringComparison.OrdinalIgnoreCase))
        {
            return new HealthcheckConfig { Test = ["NONE"] };
        }

        if (!words.StartsWith("CMD", StringComparison.OrdinalIgnoreCase))
        {
            throw Error(ins, "HEALTHCHECK expects NONE or CMD followed by a command");
        }

        var rest = words[3..].Trim();
        var test = rest.StartsWith('[') && JsonArray(rest) is { } json ? ImmutableArray.Create("CMD").AddRange(json) : ["CMD-SHELL", rest];
        long Ns(string flag, long fallback) => ins.Flag(flag) is { } v ? (long)(ParseDuration(ins, flag, v).TotalMilliseconds * 1_000_000) : fallback;
        return new HealthcheckConfig
        {
            Test = test,
            Interval = Ns("interval", 0),
            Timeout = Ns("timeout", 0),
            StartPeriod = Ns("start-period", 0),
            StartInterval = Ns("start-interval", 0),
            Retries = ins.Flag("retries") is { } r ? (int.TryParse(r, CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw Error(ins, $"invalid --retries '{r}'")) : 0,
        };
    }

    private TimeSpan ParseDuration(Instruction ins, string flag, string value)
    {
        var total = TimeSpan.Zero;
        foreach (var m in DurationPart().Matches(value).Cast<System.Text.RegularExpressions.Match>())
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "ns" => TimeSpan.FromTicks((long)(n / 100)),
                "us" or "µs" => TimeSpan.FromTicks((long)(n * 10)),
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                _ => TimeSpan.FromHours(n),
            };
        }

        return DurationPart().Replace(value, "").Length == 0 && value.Length > 0 ? total : throw Error(ins, $"invalid --{flag} '{value}': expected a duration like 30s or 1m30s");
    }

    private static ImmutableArray<string>? JsonArray(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Array ? [.. doc.RootElement.EnumerateArray().Select(e => e.GetString() ?? "")] : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private IEnumerable<(string Key, string Value)> Pairs(Instruction ins, ShellWords words)
    {
        var list = words.Split(ins.Raw);
        if (list.Count == 0)
        {
            throw Error(ins, $"{ins.Keyword} requires at least one argument");
        }

        if (!list[0].Contains('=', StringComparison.Ordinal))
        {
            // legacy "ENV key value with spaces"
            var space = ins.Raw.Trim().IndexOfAny([' ', '\t']);
            return space < 0 ? throw Error(ins, $"{ins.Keyword} {ins.Raw.Trim()}: expected key=value") : [(list[0], words.Single(ins.Raw.Trim()[(space + 1)..].Trim()))];
        }

        return list.Select(w =>
        {
            var eq = w.IndexOf('=', StringComparison.Ordinal);
            return eq <= 0 ? throw Error(ins, $"{ins.Keyword}: '{w}' is not key=value") : (w[..eq], w[(eq + 1)..]);
        }).ToList();
    }

    private IEnumerable<(string Name, string? Value)> ArgDeclarations(Instruction ins, Dictionary<string, string?> scope)
    {
        var words = new ShellWords(n => scope.GetValueOrDefault(n), dockerfile.EscapeChar);
        foreach (var w in words.Split(ins.Raw))
        {
            var eq = w.IndexOf('=', StringComparison.Ordinal);
            yield return eq < 0 ? (w, null) : (w[..eq], w[(eq + 1)..]);
        }
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

    [System.Text.RegularExpressions.GeneratedRegex(@"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")]
    private static partial System.Text.RegularExpressions.Regex DurationPart();

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
