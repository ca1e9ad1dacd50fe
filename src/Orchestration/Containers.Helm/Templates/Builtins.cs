using System.Collections;
using System.Net;
using System.Text;

namespace Containers.Helm.Templates;

/// <summary>Go's predefined template functions (text/template/funcs.go); and and or are evaluated by the executor, lazily.</summary>
internal static class Builtins
{
    public static Dictionary<string, TemplateFunction> Create()
    {
        var all = new Dictionary<string, TemplateFunction>(StringComparer.Ordinal);
        void Add(string name, GoType[] parameters, bool variadic, Func<object?[], object?> body) => all[name] = new TemplateFunction(name, parameters, variadic, body);

        Add("and", [GoType.Any, GoType.Any], true, a => a[^1]);
        Add("or", [GoType.Any, GoType.Any], true, a => a[^1]);
        Add("not", [GoType.Any], false, a => !GoValues.IsTrue(a[0]));
        Add("len", [GoType.Any], false, a => a[0] switch
        {
            string s => (long)Encoding.UTF8.GetByteCount(s),
            IDictionary<string, object?> m => (long)m.Count,
            ICollection c => (long)c.Count,
            null => throw new TemplateFunctionException("len of nil pointer"),
            var v => throw new TemplateFunctionException($"len of type {GoFormat.TypeName(v)}"),
        });
        Add("index", [GoType.Any, GoType.Any], true, a => Index(a[0], a.Skip(1)));
        Add("slice", [GoType.Any, GoType.Any], true, a => Slice(a[0], a.Skip(1).ToArray()));
        Add("print", [GoType.Any], true, a => GoFormat.Sprint(a));
        Add("println", [GoType.Any], true, a => GoFormat.Sprintln(a));
        Add("printf", [GoType.String, GoType.Any], true, a => GoFormat.Sprintf((string)a[0]!, a[1..]));
        Add("html", [GoType.Any], true, a => WebUtility.HtmlEncode(GoFormat.Sprint(a)).Replace("&quot;", "&#34;", StringComparison.Ordinal));
        Add("urlquery", [GoType.Any], true, a => Uri.EscapeDataString(GoFormat.Sprint(a)).Replace("%20", "+", StringComparison.Ordinal));
        Add("js", [GoType.Any], true, a => JsEscape(GoFormat.Sprint(a)));
        Add("eq", [GoType.Any, GoType.Any], true, a => GoValues.Equal(a[0], a[1..]));
        Add("ne", [GoType.Any, GoType.Any], false, a => !GoValues.Equal(a[0], [a[1]]));
        Add("lt", [GoType.Any, GoType.Any], false, a => GoValues.Less(a[0], a[1]));
        Add("le", [GoType.Any, GoType.Any], false, a => GoValues.Less(a[0], a[1]) || GoValues.Equal(a[0], [a[1]]));
        Add("gt", [GoType.Any, GoType.Any], false, a => !GoValues.Less(a[0], a[1]) && !GoValues.Equal(a[0], [a[1]]));
        Add("ge", [GoType.Any, GoType.Any], false, a => !GoValues.Less(a[0], a[1]));
        return all;
    }

    private static object? Index(object? item, IEnumerable<object?> indexes)
    {
        if (item is null)
        {
            throw new TemplateFunctionException("index of untyped nil");
        }

        foreach (var index in indexes)
        {
            switch (item)
            {
                case IDictionary<string, object?> map:
                    if (index is not string key)
                    {
                        throw new TemplateFunctionException($"value has type {GoFormat.TypeName(index)}; should be string");
                    }

                    item = map.TryGetValue(key, out var v) ? v : null;
                    break;
                case IList list:
                    long i = index is long l ? l : throw new TemplateFunctionException($"cannot index slice/array with type {GoFormat.TypeName(index)}");
                    if (i < 0 || i >= list.Count)
                    {
                        throw new TemplateFunctionException($"index out of range: {i}");
                    }

                    item = list[(int)i];
                    break;
                case string s:
                    long si = index is long sl ? sl : throw new TemplateFunctionException($"cannot index slice/array with type {GoFormat.TypeName(index)}");
                    byte[] bytes = Encoding.UTF8.GetBytes(s);
                    if (si < 0 || si >= bytes.Length)
                    {
                        throw new TemplateFunctionException($"index out of range: {si}");
                    }

                    item = (long)bytes[si];
                    break;
                case null:
                    throw new TemplateFunctionException("index of untyped nil");
                default:
                    throw new TemplateFunctionException($"can't index item of type {GoFormat.TypeName(item)}");
            }
        }

        return item;
    }

    private static object? Slice(object? item, object?[] indexes)
    {
        if (indexes.Length > 3)
        {
            throw new TemplateFunctionException($"too many slice indexes: {indexes.Length}");
        }

        var ints = indexes.Select(i => i is long l ? (int)l : throw new TemplateFunctionException($"cannot index slice/array with type {GoFormat.TypeName(i)}")).ToArray();
        switch (item)
        {
            case string s:
                if (ints.Length == 3)
                {
                    throw new TemplateFunctionException("cannot 3-index slice a string");
                }

                int from = ints.Length > 0 ? ints[0] : 0, to = ints.Length > 1 ? ints[1] : s.Length;
                return from < 0 || to > s.Length || from > to ? throw new TemplateFunctionException($"index out of range: {to}") : s[from..to];
            case IList list:
                int start = ints.Length > 0 ? ints[0] : 0, end = ints.Length > 1 ? ints[1] : list.Count;
                return start < 0 || end > list.Count || start > end ? throw new TemplateFunctionException($"index out of range: {end}") : list.Cast<object?>().Skip(start).Take(end - start).ToList();
            case null:
                throw new TemplateFunctionException("slice of untyped nil");
            default:
                throw new TemplateFunctionException($"can't slice item of type {GoFormat.TypeName(item)}");
        }
    }

    private static string JsEscape(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '\'': sb.Append(@"\'"); break;
                case '"': sb.Append("\\\""); break;
                case '<': sb.Append(@"\u003C"); break;
                case '>': sb.Append(@"\u003E"); break;
                case '&': sb.Append(@"\u0026"); break;
                case '=': sb.Append(@"\u003D"); break;
                default:
                    if (c < ' ')
                    {
                        sb.Append(@"\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.ToString();
    }
}
