namespace Containers.Build;

/// <summary>The instructions that only change the run configuration (ENV, CMD, HEALTHCHECK, ...), and their parsing.</summary>
internal sealed partial class ImageBuilder
{
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

    private TimeSpan ParseDuration(Instruction ins, string flag, string value) =>
        Runtime.GoDuration.TryParse(value, out var d) ? d : throw Error(ins, $"invalid --{flag} '{value}': expected a duration like 30s or 1m30s");

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
}
