using Containers.Helm.Functions;

namespace Containers.Helm.Charts;

/// <summary>Helm's values arithmetic (chartutil coalesce.go, values.go): coalescing, merging and paths.</summary>
public static class ValueMaps
{
    /// <summary>mergeMaps of -f files: later maps override, nested maps merge.</summary>
    public static Dictionary<string, object?> MergeMaps(Dictionary<string, object?> a, IDictionary<string, object?> b)
    {
        var result = new Dictionary<string, object?>(a, StringComparer.Ordinal);
        foreach (var (k, v) in b)
        {
            if (v is IDictionary<string, object?> vm && result.TryGetValue(k, out var existing) && existing is Dictionary<string, object?> em)
            {
                result[k] = MergeMaps(em, vm);
                continue;
            }

            result[k] = v;
        }

        return result;
    }

    /// <summary>
    /// CoalesceValues: the chart's defaults (and its subcharts', under their names, with globals passed down)
    /// beneath <paramref name="user"/>; a null in user values removes the default.
    /// </summary>
    public static Dictionary<string, object?> Coalesce(Chart chart, IDictionary<string, object?> user, bool merge = false)
    {
        var dest = (Dictionary<string, object?>)Cast.DeepCopy(user is Dictionary<string, object?> d ? d : new Dictionary<string, object?>(user, StringComparer.Ordinal))!;
        return CoalesceChart(chart, dest, merge);
    }

    private static Dictionary<string, object?> CoalesceChart(Chart chart, Dictionary<string, object?> dest, bool merge)
    {
        CoalesceValues(chart, dest, merge);
        foreach (var sub in chart.Dependencies)
        {
            if (!dest.TryGetValue(sub.Name, out var existing) || existing is null)
            {
                dest[sub.Name] = existing = new Dictionary<string, object?>(StringComparer.Ordinal);
            }

            if (existing is not Dictionary<string, object?> subValues)
            {
                throw new ChartException($"type mismatch on {sub.Name}: {GoFormatBool(existing)}");
            }

            CoalesceGlobals(subValues, dest);
            dest[sub.Name] = CoalesceChart(sub, subValues, merge);
        }

        return dest;
    }

    private static string GoFormatBool(object? v) => "%!t(" + Templates.GoFormat.TypeName(v) + "=" + Templates.GoFormat.Print(v) + ")";

    private static void CoalesceValues(Chart chart, Dictionary<string, object?> v, bool merge)
    {
        var defaults = (Dictionary<string, object?>)Cast.DeepCopy(chart.Values)!;
        foreach (var (key, val) in defaults)
        {
            if (v.TryGetValue(key, out var value))
            {
                if (value is null && !merge)
                {
                    v.Remove(key);
                }
                else if (value is Dictionary<string, object?> dst && val is Dictionary<string, object?> src)
                {
                    bool childMerge = merge || chart.Dependencies.Any(d => d.Name == key);
                    CoalesceTables(dst, src, childMerge);
                }
            }
            else
            {
                v[key] = val;
            }
        }
    }

    /// <summary>coalesceTablesFullKey: <paramref name="dst"/> wins; tables merge; a null in dst removes the key.</summary>
    public static Dictionary<string, object?> CoalesceTables(Dictionary<string, object?> dst, Dictionary<string, object?> src, bool merge)
    {
        foreach (var (key, val) in src)
        {
            bool present = dst.TryGetValue(key, out var dv);
            if (present && !merge && dv is null)
            {
                dst.Remove(key);
            }
            else if (!present)
            {
                dst[key] = val;
            }
            else if (val is Dictionary<string, object?> valMap && dv is Dictionary<string, object?> dvMap)
            {
                CoalesceTables(dvMap, valMap, merge);
            }
        }

        return dst;
    }

    private static void CoalesceGlobals(Dictionary<string, object?> dest, Dictionary<string, object?> src)
    {
        if (dest.TryGetValue("global", out var dgv) && dgv is not Dictionary<string, object?> and not null)
        {
            return;
        }

        var dg = dgv as Dictionary<string, object?> ?? new Dictionary<string, object?>(StringComparer.Ordinal);
        if (src.TryGetValue("global", out var sgv) && sgv is not Dictionary<string, object?> and not null)
        {
            return;
        }

        var sg = sgv as Dictionary<string, object?> ?? new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, val) in sg)
        {
            if (val is Dictionary<string, object?> table)
            {
                var copy = (Dictionary<string, object?>)Cast.DeepCopy(table)!;
                if (!dg.TryGetValue(key, out var destv))
                {
                    dg[key] = copy;
                }
                else if (destv is Dictionary<string, object?> destMap)
                {
                    CoalesceTables(copy, destMap, true);
                    dg[key] = copy;
                }
            }
            else if (!(dg.TryGetValue(key, out var dv) && dv is Dictionary<string, object?>))
            {
                dg[key] = val;
            }
        }

        dest["global"] = dg;
    }

    /// <summary>The value at a dotted path (a.b.c), or null when a part is missing or not a table.</summary>
    public static object? PathValue(IDictionary<string, object?> values, string path, out bool found)
    {
        object? current = values;
        found = false;
        foreach (string part in path.Split('.'))
        {
            if (current is not IDictionary<string, object?> map || !map.TryGetValue(part, out current))
            {
                return null;
            }
        }

        found = true;
        return current;
    }
}
