using System.Collections;

namespace Containers.Helm.Templates;

/// <summary>Go's truth and comparisons as templates apply them (text/template/exec.go isTrue, funcs.go eq/lt).</summary>
public static class GoValues
{
    /// <summary>Go's truth: false, 0, nil and empty strings, lists and maps are false; everything else is true.</summary>
    public static bool IsTrue(object? value) => value switch
    {
        null => false,
        bool b => b,
        string s => s.Length > 0,
        long l => l != 0,
        int i => i != 0,
        double d => d != 0,
        IDictionary<string, object?> m => m.Count > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    private enum Kind { Invalid, Bool, Int, Float, String, Other }

    private static Kind KindOf(object? v) => v switch
    {
        null => Kind.Invalid,
        bool => Kind.Bool,
        long or int => Kind.Int,
        double => Kind.Float,
        string => Kind.String,
        _ => Kind.Other,
    };

    /// <summary>eq arg1 arg2...: true when arg1 equals any of the others.</summary>
    /// <exception cref="TemplateFunctionException">The values cannot be compared (an int with a float, maps, lists).</exception>
    public static bool Equal(object? arg1, IReadOnlyList<object?> others)
    {
        if (others.Count == 0)
        {
            throw new TemplateFunctionException("missing argument for comparison");
        }

        var k1 = KindOf(arg1);
        foreach (var arg in others)
        {
            var k2 = KindOf(arg);
            bool truth;
            if (k1 != k2)
            {
                if (arg1 is not null && arg is not null)
                {
                    throw new TemplateFunctionException("incompatible types for comparison");
                }

                truth = false;
            }
            else
            {
                switch (k1)
                {
                    case Kind.Invalid: truth = true; break;
                    case Kind.Bool: truth = (bool)arg1! == (bool)arg!; break;
                    case Kind.Int: truth = Convert.ToInt64(arg1, System.Globalization.CultureInfo.InvariantCulture) == Convert.ToInt64(arg, System.Globalization.CultureInfo.InvariantCulture); break;
                    case Kind.Float: truth = (double)arg1! == (double)arg!; break;
                    case Kind.String: truth = (string)arg1! == (string)arg!; break;
                    default:
                        if (arg1 is IList or IDictionary<string, object?> || arg is IList or IDictionary<string, object?>)
                        {
                            throw new TemplateFunctionException($"non-comparable type {GoFormat.Print(arg1)}: {GoFormat.TypeName(arg1)}");
                        }

                        truth = Equals(arg1, arg);
                        break;
                }
            }

            if (truth)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>lt arg1 arg2: only between two bools... never; ints, floats and strings of one kind.</summary>
    /// <exception cref="TemplateFunctionException">The values are not comparable.</exception>
    public static bool Less(object? arg1, object? arg2)
    {
        var k1 = KindOf(arg1);
        var k2 = KindOf(arg2);
        if (k1 is Kind.Invalid or Kind.Other || k2 is Kind.Invalid or Kind.Other)
        {
            throw new TemplateFunctionException("invalid type for comparison");
        }

        if (k1 != k2)
        {
            throw new TemplateFunctionException("incompatible types for comparison");
        }

        return k1 switch
        {
            Kind.Int => Convert.ToInt64(arg1, System.Globalization.CultureInfo.InvariantCulture) < Convert.ToInt64(arg2, System.Globalization.CultureInfo.InvariantCulture),
            Kind.Float => (double)arg1! < (double)arg2!,
            Kind.String => string.CompareOrdinal((string)arg1!, (string)arg2!) < 0,
            _ => throw new TemplateFunctionException("invalid type for comparison"),
        };
    }
}
