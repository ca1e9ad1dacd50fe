using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

public static partial class Sprig
{
    private static void AddLists(Adder add)
    {
        add("list", [A], a => a.ToList(), variadic: true);
        add("tuple", [A], a => a.ToList(), variadic: true);
        foreach (string name in new[] { "push", "append" })
        {
            add(name, [A, A], a => Append(Cast.List(a[0]), a[1]) ?? throw Fail($"Cannot push on type {GoFormat.TypeName(a[0])}"));
            add("must" + char.ToUpperInvariant(name[0]) + name[1..], [A, A], a => Append(Cast.List(a[0]), a[1]) ?? throw Fail($"Cannot push on type {GoFormat.TypeName(a[0])}"));
        }

        ListFunction(add, "prepend", [A, A], (l, a) => (List<object?>)[a[1], .. l], "prepend");
        ListFunction(add, "first", [A], (l, _) => l.Count == 0 ? null : l[0], "find first");
        ListFunction(add, "last", [A], (l, _) => l.Count == 0 ? null : l[^1], "find last");
        ListFunction(add, "rest", [A], (l, _) => l.Count == 0 ? null : l.Skip(1).ToList(), "find rest");
        ListFunction(add, "initial", [A], (l, _) => l.Count == 0 ? null : l.Take(l.Count - 1).ToList(), "find initial");
        ListFunction(add, "reverse", [A], (l, _) => Enumerable.Reverse(l).ToList(), "find reverse");
        ListFunction(add, "uniq", [A], (l, _) => Uniq(l), "find uniq");
        ListFunction(add, "compact", [A], (l, _) => l.Where(x => !Cast.Empty(x)).ToList(), "compact");
        ListFunction(add, "without", [A, A], (l, a) => l.Where(x => !a.Skip(1).Any(o => Cast.DeepEqual(o, x))).ToList(), "find without", variadic: true);
        ListFunction(add, "has", [A, A], (l, a) => l.Any(x => Cast.DeepEqual(x, a[0])), "find has", listArg: 1);
        ListFunction(add, "slice", [A, A], (l, a) => SliceList(l, a.Skip(1).Select(Cast.Int).ToArray()), "slice", variadic: true);
        ListFunction(add, "chunk", [I, A], (l, a) => l.Chunk((int)Math.Max((long)a[0]!, 1)).Select(c => (object?)c.ToList()).ToList(), "chunk", listArg: 1);
        add("concat", [A], a => a.SelectMany(l => Cast.List(l) ?? throw Fail($"Cannot concat type {GoFormat.TypeName(l)} as list")).ToList(), variadic: true);
        add("until", [I], a => Until(0, (long)a[0]!, (long)a[0]! < 0 ? -1 : 1));
        add("untilStep", [I, I, I], a => Until((long)a[0]!, (long)a[1]!, (long)a[2]!));
        add("seq", [I], a => Seq(a.Cast<long>().ToArray()), variadic: true);
        add("all", [A], a => a.All(x => !Cast.Empty(x)), variadic: true);
        add("any", [A], a => a.Any(x => !Cast.Empty(x)), variadic: true);
    }

    private static void ListFunction(Adder add, string name, GoType[] parameters, Func<List<object?>, object?[], object?> body, string verb, bool variadic = false, int listArg = 0)
    {
        add(name, parameters, a => Cast.List(a[listArg]) is { } l ? body(l, a) : listArg == 1 && name == "has" && a[1] is null ? false : throw Fail($"Cannot {verb} on type {GoFormat.TypeName(a[listArg])}"), variadic);
        add("must" + char.ToUpperInvariant(name[0]) + name[1..], parameters, a => Cast.List(a[listArg]) is { } l ? body(l, a) : throw Fail($"Cannot {verb} on type {GoFormat.TypeName(a[listArg])}"), variadic);
    }

    private static List<object?>? Append(List<object?>? list, object? value) => list is null ? null : [.. list, value];

    private static List<object?> Uniq(List<object?> list)
    {
        var result = new List<object?>();
        foreach (var item in list)
        {
            if (!result.Any(r => Cast.DeepEqual(r, item)))
            {
                result.Add(item);
            }
        }

        return result;
    }

    private static List<object?> SliceList(List<object?> list, long[] indexes)
    {
        long from = indexes.Length > 0 ? indexes[0] : 0, to = indexes.Length > 1 ? indexes[1] : list.Count;
        return from < 0 || to > list.Count || from > to ? throw Fail($"slice bounds out of range [{from}:{to}]") : list.Skip((int)from).Take((int)(to - from)).ToList();
    }

    private static List<object?> Until(long start, long stop, long step)
    {
        var result = new List<object?>();
        if (step == 0 || (step > 0 && start >= stop) || (step < 0 && start <= stop))
        {
            return result;
        }

        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            result.Add(i);
        }

        return result;
    }

    private static string Seq(long[] p)
    {
        long start = 1, end, step = 1;
        switch (p.Length)
        {
            case 0: return "";
            case 1: end = p[0]; if (end < start) { step = -1; } break;
            case 2: start = p[0]; end = p[1]; if (end < start) { step = -1; } break;
            case 3: start = p[0]; step = p[1]; end = p[2]; if (end < start && step > 0 || end > start && step < 0 || step == 0) { return ""; } break;
            default: return "";
        }

        var values = new List<long>();
        for (long i = start; step > 0 ? i <= end : i >= end; i += step)
        {
            values.Add(i);
        }

        return string.Join(" ", values);
    }

    private static void AddDicts(Adder add)
    {
        add("dict", [A], a =>
        {
            var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (int i = 0; i < a.Length; i += 2)
            {
                dict[Str(a[i])] = i + 1 < a.Length ? a[i + 1] : "";
            }

            return dict;
        }, variadic: true);
        add("get", [M, S], a => Dict(a[0]).TryGetValue((string)a[1]!, out var v) ? v : "");
        add("set", [M, S, A], a => { Dict(a[0])[(string)a[1]!] = a[2]; return a[0]; });
        add("unset", [M, S], a => { Dict(a[0]).Remove((string)a[1]!); return a[0]; });
        add("hasKey", [M, S], a => a[0] is IDictionary<string, object?> d && d.ContainsKey((string)a[1]!));
        add("pluck", [S, M], a => a.Skip(1).OfType<IDictionary<string, object?>>().Where(d => d.ContainsKey((string)a[0]!)).Select(d => d[(string)a[0]!]).ToList(), variadic: true);
        add("keys", [M], a => a.OfType<IDictionary<string, object?>>().SelectMany(d => d.Keys).Order(StringComparer.Ordinal).Cast<object?>().ToList(), variadic: true);
        add("values", [M], a => a[0] is IDictionary<string, object?> d ? d.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value).ToList() : new List<object?>());
        add("pick", [M, S], a => Dict(a[0]).Where(kv => a.Skip(1).Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), variadic: true);
        add("omit", [M, S], a => Dict(a[0]).Where(kv => !a.Skip(1).Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), variadic: true);
        foreach (string prefix in new[] { "", "must" })
        {
            add(prefix.Length == 0 ? "merge" : "mustMerge", [M, M], a => MergeAll(a, overwrite: false), variadic: true);
            add(prefix.Length == 0 ? "mergeOverwrite" : "mustMergeOverwrite", [M, M], a => MergeAll(a, overwrite: true), variadic: true);
            add(prefix.Length == 0 ? "deepCopy" : "mustDeepCopy", [A], a => Cast.DeepCopy(a[0]));
        }

        add("dig", [A, A, A], a =>
        {
            if (a[^1] is not IDictionary<string, object?> dict)
            {
                throw Fail($"interface conversion: interface {{}} is {GoFormat.TypeName(a[^1])}, not map[string]interface {{}}");
            }

            object? current = dict;
            foreach (var key in a[..^2])
            {
                if (current is IDictionary<string, object?> d && d.TryGetValue(Str(key), out var next))
                {
                    current = next;
                }
                else
                {
                    return a[^2];
                }
            }

            return current;
        }, variadic: true);
    }

    private static IDictionary<string, object?> Dict(object? v) =>
        v as IDictionary<string, object?> ?? new Dictionary<string, object?>(StringComparer.Ordinal);

    private static object? MergeAll(object?[] a, bool overwrite)
    {
        var dst = a[0] as IDictionary<string, object?> ?? new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var src in a.Skip(1).OfType<IDictionary<string, object?>>())
        {
            Merge(dst, src, overwrite);
        }

        return dst;
    }

    /// <summary>mergo.Merge (and WithOverride): maps merge deeply; other values fill missing or empty keys, or replace them when overwriting.</summary>
    internal static void Merge(IDictionary<string, object?> dst, IDictionary<string, object?> src, bool overwrite)
    {
        foreach (var (key, value) in src)
        {
            dst.TryGetValue(key, out var existing);
            if (value is IDictionary<string, object?> srcMap && existing is IDictionary<string, object?> dstMap)
            {
                Merge(dstMap, srcMap, overwrite);
                continue;
            }

            if (existing is IDictionary<string, object?> or System.Collections.IList && !Cast.Empty(existing) && value is IDictionary<string, object?> or System.Collections.IList && !overwrite)
            {
                continue;
            }

            if (overwrite || !dst.ContainsKey(key) || Cast.Empty(existing))
            {
                dst[key] = value is IDictionary<string, object?> m && existing is null ? Cast.DeepCopy(m) : value;
            }
        }
    }
}
