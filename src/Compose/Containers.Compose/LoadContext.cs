namespace Containers.Compose;

/// <summary>State of one load: the variables, where each path came from (file:line), warnings, the extends chain.</summary>
internal sealed class LoadContext(Func<string, string?> lookup, IReadOnlyDictionary<string, string> environment)
{
    public Func<string, string?> Lookup { get; } = lookup;

    public IReadOnlyDictionary<string, string> Environment { get; } = environment;

    /// <summary><c>services.web.ports[1]</c> → <c>compose.yaml:12</c> (the last file that set it).</summary>
    public Dictionary<string, string> Lines { get; } = [];

    public List<string> Warnings { get; } = [];

    private readonly HashSet<string> including = [];

    /// <summary>Where <paramref name="path"/> (or its nearest ancestor) was written.</summary>
    public string Where(string path)
    {
        for (var p = path; p.Length > 0; p = Parent(p))
        {
            if (Lines.TryGetValue(p, out var at))
            {
                return at;
            }
        }

        return "";
    }

    private static string Parent(string p)
    {
        var i = Math.Max(p.LastIndexOf('.'), p.LastIndexOf('['));
        return i < 0 ? "" : p[..i];
    }

    /// <summary>Reads a file: interpolated, its includes merged in, relative paths made absolute against <paramref name="baseDir"/>, services normalised.</summary>
    public JsonObject ReadFile(string file, string baseDir)
    {
        var lines = new Dictionary<string, int>();
        var doc = YamlReader.Read(file, Lookup, w => { if (!Warnings.Contains(w)) { Warnings.Add(w); } }, lines);
        foreach (var (p, l) in lines)
        {
            Lines[p] = $"{file}:{l}";
        }

        if (doc["include"] is JsonArray includes)
        {
            doc.Remove("include");
            foreach (var (entry, i) in includes.Select((e, i) => (e, i)))
            {
                var paths = entry switch
                {
                    JsonValue v => [(string)v!],
                    JsonObject o when o["path"] is JsonValue pv => [(string)pv!],
                    JsonObject o when o["path"] is JsonArray pa => pa.Select(x => (string)x!).ToArray(),
                    _ => throw new ComposeException($"{Where($"include[{i}]")}: include[{i}]: expected a path or a mapping with path"),
                };
                foreach (var p in paths)
                {
                    var abs = Path.GetFullPath(p, Path.GetDirectoryName(file)!);
                    if (!File.Exists(abs))
                    {
                        throw new ComposeException($"{Where($"include[{i}]")}: include[{i}]: {abs} does not exist");
                    }

                    if (!including.Add(abs))
                    {
                        throw new ComposeException($"{Where($"include[{i}]")}: include cycle through {abs}");
                    }

                    var sub = ReadFile(abs, Path.GetDirectoryName(abs)!);
                    ResolveExtends(sub, abs);
                    including.Remove(abs);
                    foreach (var section in new[] { "services", "networks", "volumes", "secrets", "configs" })
                    {
                        if (sub[section] is not JsonObject from)
                        {
                            continue;
                        }

                        var into = doc[section] as JsonObject ?? (JsonObject)(doc[section] = new JsonObject());
                        foreach (var (k, v) in from.ToArray())
                        {
                            if (into.ContainsKey(k))
                            {
                                throw new ComposeException($"{Where($"{section}.{k}")}: {section}.{k} conflicts with the one included from {abs}");
                            }

                            from.Remove(k);
                            into[k] = v;
                        }
                    }
                }
            }
        }

        if (doc["services"] is JsonObject services)
        {
            foreach (var (name, svc) in services)
            {
                if (svc is JsonObject s)
                {
                    Normalizer.Service(s, baseDir);
                }
            }
        }

        foreach (var section in new[] { "secrets", "configs" })
        {
            if (doc[section] is JsonObject items)
            {
                foreach (var (_, item) in items)
                {
                    if (item is JsonObject o && o["file"] is JsonValue fv && fv.TryGetValue<string>(out var f))
                    {
                        o["file"] = Normalizer.Absolute(f, baseDir);
                    }
                }
            }
        }

        return doc;
    }

    /// <summary>Replaces every <c>extends</c> of <paramref name="doc"/>'s services by the merged result; cycles are refused.</summary>
    public void ResolveExtends(JsonObject doc, string file)
    {
        if (doc["services"] is not JsonObject services)
        {
            return;
        }

        foreach (var name in services.Select(kv => kv.Key).ToArray())
        {
            Resolve(services, name, file, []);
        }
    }

    private JsonObject Resolve(JsonObject services, string name, string file, List<string> chain)
    {
        var key = file + "#" + name;
        if (chain.Contains(key))
        {
            throw new ComposeException($"{Where($"services.{name}.extends")}: services.{name}.extends: circular reference: {string.Join(" -> ", chain.Append(key).Select(c => c.Split('#')[1]))}");
        }

        if (services[name] is not JsonObject svc)
        {
            throw new ComposeException($"{Where($"services.{name}")}: services.{name}: must be a mapping");
        }

        if (svc["extends"] is not { } ext)
        {
            return svc;
        }

        chain.Add(key);
        string baseName;
        string? baseFile = null;
        if (ext is JsonValue v)
        {
            baseName = (string)v!;
        }
        else if (ext is JsonObject o && o["service"] is JsonValue sv)
        {
            baseName = (string)sv!;
            baseFile = (string?)o["file"];
        }
        else
        {
            throw new ComposeException($"{Where($"services.{name}.extends")}: services.{name}.extends: expected a service name or a mapping with service");
        }

        JsonObject parent;
        if (baseFile is null)
        {
            if (!services.ContainsKey(baseName))
            {
                throw new ComposeException($"{Where($"services.{name}.extends")}: services.{name}.extends: service {baseName} not found");
            }

            parent = Resolve(services, baseName, file, chain);
        }
        else
        {
            if (!File.Exists(baseFile))
            {
                throw new ComposeException($"{Where($"services.{name}.extends")}: services.{name}.extends: {baseFile} does not exist");
            }

            var other = ReadFile(baseFile, Path.GetDirectoryName(baseFile)!);
            if (other["services"] is not JsonObject otherServices || !otherServices.ContainsKey(baseName))
            {
                throw new ComposeException($"{Where($"services.{name}.extends")}: services.{name}.extends: service {baseName} not found in {baseFile}");
            }

            parent = Resolve(otherServices, baseName, baseFile, chain);
        }

        chain.RemoveAt(chain.Count - 1);
        var own = (JsonObject)svc.DeepClone();
        own.Remove("extends");
        var result = Merger.MergeService((JsonObject)parent.DeepClone(), own);
        services[name] = result;
        return result;
    }
}

/// <summary>Brings the short forms of a service to the long ones, so files merge field by field.</summary>
internal static class Normalizer
{
    public static string Absolute(string path, string baseDir) =>
        path.StartsWith('~') ? Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), path.TrimStart('~', '/'))
        : Path.GetFullPath(path, baseDir);

    public static void Service(JsonObject s, string baseDir)
    {
        if (s["build"] is JsonValue b)
        {
            s["build"] = new JsonObject { ["context"] = Absolute((string)b!, baseDir) };
        }
        else if (s["build"] is JsonObject bo && bo["context"] is JsonValue cv && cv.TryGetValue<string>(out var c) && !c.Contains("://", StringComparison.Ordinal))
        {
            bo["context"] = Absolute(c, baseDir);
        }
        else if (s["build"] is JsonObject bo2 && bo2["context"] is null)
        {
            bo2["context"] = baseDir;
        }

        if (s["env_file"] is { } ef)
        {
            var list = ef is JsonArray a ? a.ToArray() : [ef];
            s["env_file"] = new JsonArray([.. list.Select(e => (JsonNode)(e switch
            {
                JsonValue v => new JsonObject { ["path"] = Absolute((string)v!, baseDir), ["required"] = true },
                JsonObject o => new JsonObject { ["path"] = Absolute((string)o["path"]!, baseDir), ["required"] = o["required"]?.DeepClone() ?? true },
                _ => e!.DeepClone(),
            }))]);
        }

        foreach (var key in new[] { "environment", "labels", "annotations", "sysctls" })
        {
            if (s[key] is JsonArray list)
            {
                var map = new JsonObject();
                foreach (var item in list)
                {
                    var text = item?.ToString() ?? "";
                    var eq = text.IndexOf('=', StringComparison.Ordinal);
                    map[eq < 0 ? text : text[..eq]] = eq < 0 ? null : text[(eq + 1)..];
                }

                s[key] = map;
            }
        }

        if (s["networks"] is JsonArray nets)
        {
            s["networks"] = new JsonObject(nets.Select(n => KeyValuePair.Create(n?.ToString() ?? "", (JsonNode?)null)));
        }

        if (s["depends_on"] is JsonArray deps)
        {
            s["depends_on"] = new JsonObject(deps.Select(d => KeyValuePair.Create(d?.ToString() ?? "", (JsonNode?)new JsonObject { ["condition"] = "service_started", ["required"] = true })));
        }

        if (s["volumes"] is JsonArray vols)
        {
            for (var i = 0; i < vols.Count; i++)
            {
                if (vols[i] is JsonValue v && v.TryGetValue<string>(out var text))
                {
                    var parts = text.Split(':');
                    if (parts.Length >= 2 && (parts[0].StartsWith('.') || parts[0].StartsWith('~')))
                    {
                        parts[0] = Absolute(parts[0], baseDir);
                        vols[i] = string.Join(':', parts);
                    }
                }
                else if (vols[i] is JsonObject o && (string?)o["type"] == "bind" && o["source"] is JsonValue src && src.TryGetValue<string>(out var source))
                {
                    o["source"] = Absolute(source, baseDir);
                }
            }
        }

        if (s["extends"] is JsonObject ext && ext["file"] is JsonValue fv && fv.TryGetValue<string>(out var file))
        {
            ext["file"] = Absolute(file, baseDir);
        }
    }
}

/// <summary>The compose spec's merge rules for several files and for <c>extends</c>.</summary>
internal static class Merger
{
    private static readonly HashSet<string> Replaced = ["command", "entrypoint", "test", "dns", "dns_search"];

    public static JsonObject MergeTop(JsonObject a, JsonObject b)
    {
        foreach (var (k, v) in b.ToArray())
        {
            b.Remove(k);
            if (k == "services" && a[k] is JsonObject sa && v is JsonObject sb)
            {
                foreach (var (name, svc) in sb.ToArray())
                {
                    sb.Remove(name);
                    sa[name] = sa[name] is JsonObject existing && svc is JsonObject over ? MergeService(existing, over) : svc;
                }
            }
            else if (a[k] is JsonObject oa && v is JsonObject ob)
            {
                a[k] = MergeObject(oa, ob);
            }
            else
            {
                a[k] = v;
            }
        }

        return a;
    }

    public static JsonObject MergeService(JsonObject a, JsonObject b) => MergeObject(a, b);

    private static JsonObject MergeObject(JsonObject a, JsonObject b)
    {
        foreach (var (k, v) in b.ToArray())
        {
            b.Remove(k);
            a[k] = (a[k], v) switch
            {
                (JsonObject x, JsonObject y) => MergeObject(x, y),
                (JsonArray x, JsonArray y) when !Replaced.Contains(k) => MergeArray(k, x, y),
                _ => v,
            };
        }

        return a;
    }

    private static JsonArray MergeArray(string key, JsonArray a, JsonArray b)
    {
        var result = new JsonArray();
        var items = a.Select(x => x?.DeepClone()).ToList();
        foreach (var item in b)
        {
            var copy = item?.DeepClone();
            var id = Identity(key, copy);
            var at = id is null ? -1 : items.FindIndex(x => Identity(key, x) == id);
            if (at >= 0)
            {
                items[at] = copy;
            }
            else if (!items.Any(x => JsonNode.DeepEquals(x, copy)))
            {
                items.Add(copy);
            }
        }

        foreach (var i in items)
        {
            result.Add(i);
        }

        return result;
    }

    /// <summary>What makes two entries "the same" when merging: a volume's target, a secret's source.</summary>
    private static string? Identity(string key, JsonNode? item) => key switch
    {
        "volumes" or "tmpfs" => item switch
        {
            JsonObject o => (string?)o["target"],
            JsonValue v when v.TryGetValue<string>(out var s) => s.Split(':') is var p && p.Length >= 2 ? p[1] : p[0],
            _ => null,
        },
        "secrets" or "configs" => item switch
        {
            JsonObject o => (string?)o["source"],
            JsonValue v => v.ToString(),
            _ => null,
        },
        _ => null,
    };
}
