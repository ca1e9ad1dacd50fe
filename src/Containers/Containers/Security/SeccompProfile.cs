using System.Text.Json;

namespace Containers.Security;

/// <summary>One argument comparison of a rule (Docker's seccomp JSON: index, value, valueTwo, op).</summary>
internal sealed record SeccompArg(int Index, ulong Value, ulong ValueTwo, string Op);

/// <summary>A rule after its includes and excludes were applied: names, the action's return value, and its argument tests (all must hold).</summary>
internal sealed record SeccompRule(IReadOnlyList<string> Names, uint Action, IReadOnlyList<SeccompArg> Args);

/// <summary>
/// A seccomp profile in Docker's JSON format (moby profiles/seccomp: defaultAction, defaultErrnoRet, archMap,
/// syscalls with names, action, errnoRet, args, includes and excludes by capability, architecture and kernel), and
/// Docker's default profile, embedded.
/// </summary>
internal sealed class SeccompProfile
{
    private readonly JsonElement root;

    private SeccompProfile(JsonElement root, string source)
    {
        this.root = root;
        Source = source;
    }

    /// <summary>Where the profile came from (a path, or "default").</summary>
    public string Source { get; }

    private static readonly Lazy<SeccompProfile> DefaultProfile = new(() =>
    {
        using var stream = typeof(SeccompProfile).Assembly.GetManifestResourceStream("seccomp-default.json")!;
        return Parse(JsonDocument.Parse(stream).RootElement.Clone(), "default");
    });

    /// <summary>Docker's default profile.</summary>
    public static SeccompProfile Default => DefaultProfile.Value;

    /// <summary>Reads a profile in Docker's JSON format.</summary>
    /// <exception cref="InvalidContainerSpecException">It is not JSON, or not a profile (the field is named).</exception>
    public static SeccompProfile Parse(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return Parse(doc.RootElement.Clone(), source);
        }
        catch (JsonException e)
        {
            throw new InvalidContainerSpecException($"seccomp profile {source}: not JSON: {e.Message}");
        }
    }

    private static SeccompProfile Parse(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("defaultAction", out var action) || action.ValueKind != JsonValueKind.String)
        {
            throw new InvalidContainerSpecException($"seccomp profile {source}: defaultAction is required");
        }

        var profile = new SeccompProfile(root, source);
        _ = profile.Rules(new HashSet<string>(), out _); // every action and op is checked once, at parse time
        return profile;
    }

    /// <summary>
    /// The rules that apply to a container with <paramref name="capabilities"/> (CAP_ names) on amd64 with this
    /// kernel, in the profile's order, and the default action.
    /// </summary>
    public List<SeccompRule> Rules(IReadOnlySet<string> capabilities, out uint defaultAction)
    {
        uint defaultErrno = root.TryGetProperty("defaultErrnoRet", out var der) && der.ValueKind == JsonValueKind.Number ? der.GetUInt32() : 1;
        defaultAction = Action(root.GetProperty("defaultAction").GetString()!, defaultErrno, "defaultAction");
        var rules = new List<SeccompRule>();
        if (!root.TryGetProperty("syscalls", out var syscalls) || syscalls.ValueKind != JsonValueKind.Array)
        {
            return rules;
        }

        int i = 0;
        foreach (var call in syscalls.EnumerateArray())
        {
            string where = $"syscalls[{i++}]";
            if (call.TryGetProperty("excludes", out var ex) && Matches(ex, capabilities, any: true))
            {
                continue;
            }

            if (call.TryGetProperty("includes", out var inc) && !Matches(inc, capabilities, any: false))
            {
                continue;
            }

            var names = new List<string>();
            if (call.TryGetProperty("names", out var n) && n.ValueKind == JsonValueKind.Array)
            {
                names.AddRange(n.EnumerateArray().Select(x => x.GetString() ?? ""));
            }

            if (call.TryGetProperty("name", out var single) && single.ValueKind == JsonValueKind.String)
            {
                names.Add(single.GetString()!);
            }

            uint errno = call.TryGetProperty("errnoRet", out var er) && er.ValueKind == JsonValueKind.Number ? er.GetUInt32() : defaultErrno;
            string actionName = call.TryGetProperty("action", out var a) ? a.GetString() ?? "" : throw new InvalidContainerSpecException($"seccomp profile {Source}: {where}.action is required");
            var args = new List<SeccompArg>();
            if (call.TryGetProperty("args", out var argList) && argList.ValueKind == JsonValueKind.Array)
            {
                foreach (var arg in argList.EnumerateArray())
                {
                    string op = arg.GetProperty("op").GetString() ?? "";
                    if (op is not ("SCMP_CMP_EQ" or "SCMP_CMP_NE" or "SCMP_CMP_LT" or "SCMP_CMP_LE" or "SCMP_CMP_GT" or "SCMP_CMP_GE" or "SCMP_CMP_MASKED_EQ"))
                    {
                        throw new InvalidContainerSpecException($"seccomp profile {Source}: {where}.args: unknown op {op}");
                    }

                    int index = arg.GetProperty("index").GetInt32();
                    if (index is < 0 or > 5)
                    {
                        throw new InvalidContainerSpecException($"seccomp profile {Source}: {where}.args: index {index} is not 0 to 5");
                    }

                    args.Add(new SeccompArg(index, arg.GetProperty("value").GetUInt64(), arg.TryGetProperty("valueTwo", out var v2) ? v2.GetUInt64() : 0, op));
                }
            }

            rules.Add(new SeccompRule(names, Action(actionName, errno, where + ".action"), args));
        }

        return rules;
    }

    /// <summary>includes (all must match) or excludes (any matches) of a rule, for amd64 and this kernel.</summary>
    private static bool Matches(JsonElement filter, IReadOnlySet<string> capabilities, bool any)
    {
        var tests = new List<bool>();
        if (filter.TryGetProperty("arches", out var arches) && arches.ValueKind == JsonValueKind.Array && arches.GetArrayLength() > 0)
        {
            tests.Add(arches.EnumerateArray().Any(x => x.GetString() is "amd64" or "x86_64" or "SCMP_ARCH_X86_64"));
        }

        if (filter.TryGetProperty("caps", out var caps) && caps.ValueKind == JsonValueKind.Array && caps.GetArrayLength() > 0)
        {
            var listed = caps.EnumerateArray().Select(c => c.GetString() ?? "").ToList();
            tests.Add(any ? listed.Any(capabilities.Contains) : listed.All(capabilities.Contains));
        }

        if (filter.TryGetProperty("minKernel", out var minKernel) && minKernel.ValueKind == JsonValueKind.String)
        {
            tests.Add(Environment.OSVersion.Version >= Version.Parse(minKernel.GetString()! + (minKernel.GetString()!.Count(c => c == '.') == 0 ? ".0" : "")));
        }

        return tests.Count > 0 && (any ? tests.Any(t => t) : tests.All(t => t));
    }

    /// <summary>The seccomp return value of an action.</summary>
    private uint Action(string name, uint errno, string where) => name switch
    {
        "SCMP_ACT_ALLOW" => 0x7fff0000,
        "SCMP_ACT_ERRNO" => 0x00050000 | (errno & 0xffff),
        "SCMP_ACT_KILL" or "SCMP_ACT_KILL_THREAD" => 0x00000000,
        "SCMP_ACT_KILL_PROCESS" => 0x80000000,
        "SCMP_ACT_TRAP" => 0x00030000,
        "SCMP_ACT_LOG" => 0x7ffc0000,
        "SCMP_ACT_TRACE" => 0x7ff00000 | (errno & 0xffff),
        _ => throw new InvalidContainerSpecException($"seccomp profile {Source}: {where}: unknown action {name}"),
    };
}
