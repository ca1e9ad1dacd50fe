namespace Containers.Images;

/// <summary>
/// docker's <c>--change</c> for import and commit: the Dockerfile instructions that only change the run
/// configuration (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, STOPSIGNAL, VOLUME).
/// </summary>
public static class ConfigChanges
{
    /// <summary>Applies <paramref name="changes"/> in order. Throws <see cref="ImageException"/> naming the bad change.</summary>
    public static ContainerConfig Apply(ContainerConfig config, IEnumerable<string> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var change in changes)
        {
            var trimmed = change.Trim();
            var space = trimmed.IndexOfAny([' ', '\t']);
            if (space < 0)
            {
                throw new ImageException($"invalid change '{change}': expected INSTRUCTION ARGUMENTS");
            }

            var instruction = trimmed[..space].ToUpperInvariant();
            var args = trimmed[(space + 1)..].Trim();
            config = instruction switch
            {
                "CMD" => config with { Cmd = CommandForm(args, change) },
                "ENTRYPOINT" => config with { Entrypoint = CommandForm(args, change) },
                "ENV" => config with { Env = Pairs(args, change).Aggregate(config.Env ?? [], (env, kv) => [.. env.Where(e => e.Split('=')[0] != kv.Key), $"{kv.Key}={kv.Value}"]) },
                "LABEL" => config with { Labels = (config.Labels ?? ImmutableSortedDictionary<string, string>.Empty).SetItems(Pairs(args, change)) },
                "EXPOSE" => config with { ExposedPorts = (config.ExposedPorts ?? ImmutableSortedDictionary<string, EmptyObject>.Empty).SetItems(args.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => KeyValuePair.Create(p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp", EmptyObject.Instance))) },
                "USER" => config with { User = args },
                "WORKDIR" => config with { WorkingDir = args },
                "STOPSIGNAL" => config with { StopSignal = args },
                "VOLUME" => config with { Volumes = (config.Volumes ?? ImmutableSortedDictionary<string, EmptyObject>.Empty).SetItems((args.StartsWith('[') ? CommandForm(args, change) : [.. args.Split(' ', StringSplitOptions.RemoveEmptyEntries)]).Select(v => KeyValuePair.Create(v, EmptyObject.Instance))) },
                _ => throw new ImageException($"invalid change '{change}': {instruction} is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, STOPSIGNAL, VOLUME"),
            };
        }

        return config;
    }

    private static ImmutableArray<string> CommandForm(string args, string change)
    {
        if (!args.StartsWith('['))
        {
            return ["/bin/sh", "-c", args];
        }

        try
        {
            using var doc = JsonDocument.Parse(args);
            return [.. doc.RootElement.EnumerateArray().Select(e => e.GetString() ?? throw new ImageException($"invalid change '{change}': not a JSON array of strings"))];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ImageException($"invalid change '{change}': not a JSON array of strings");
        }
    }

    private static IEnumerable<KeyValuePair<string, string>> Pairs(string args, string change)
    {
        if (!args.Contains('=', StringComparison.Ordinal))
        {
            var space = args.IndexOf(' ', StringComparison.Ordinal);
            return space < 0
                ? throw new ImageException($"invalid change '{change}': expected KEY=VALUE or KEY VALUE")
                : [KeyValuePair.Create(args[..space], args[(space + 1)..].Trim())];
        }

        return Words(args).Select(w =>
        {
            var eq = w.IndexOf('=', StringComparison.Ordinal);
            return eq <= 0 ? throw new ImageException($"invalid change '{change}': '{w}' is not KEY=VALUE") : KeyValuePair.Create(w[..eq], w[(eq + 1)..]);
        }).ToArray();
    }

    /// <summary>Splits on spaces outside double quotes, dropping the quotes.</summary>
    private static IEnumerable<string> Words(string s)
    {
        var current = new System.Text.StringBuilder();
        var quoted = false;
        foreach (var c in s)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ' ' && !quoted)
            {
                if (current.Length > 0)
                {
                    yield return current.ToString();
                    current.Clear();
                }
            }
            else
            {
                current.Append(c);
            }
        }

        if (current.Length > 0)
        {
            yield return current.ToString();
        }
    }
}
