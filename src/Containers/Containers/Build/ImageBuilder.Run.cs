using Containers.Images.Snapshots;

namespace Containers.Build;

/// <summary>RUN: a container of our runtime over the stage's layers; its changes become the step's layer.</summary>
internal sealed partial class ImageBuilder
{
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
            Labels = ImmutableDictionary<string, string>.Empty.Add(ContainerSpec.BuildStepLabel, "1"),
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
}
