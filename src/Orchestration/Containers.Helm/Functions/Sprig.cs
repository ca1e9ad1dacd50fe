using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

/// <summary>
/// Sprig v3's text functions (Masterminds/sprig functions.go genericMap) with Go signatures, so the template engine
/// converts and checks arguments as Go does; env and expandenv are left out, as Helm leaves them out.
/// </summary>
public static partial class Sprig
{
    private const GoType A = GoType.Any, S = GoType.String, I = GoType.Int, F = GoType.Float, B = GoType.Bool, M = GoType.Map;

    /// <summary>All of Sprig's functions; <paramref name="time"/> and <paramref name="random"/> drive now and the rand* functions.</summary>
    public static IReadOnlyList<TemplateFunction> Functions(TimeProvider? time = null, Random? random = null)
    {
        var list = new List<TemplateFunction>();
        void Add(string name, GoType[] parameters, Func<object?[], object?> body, bool variadic = false) => list.Add(new TemplateFunction(name, parameters, variadic, body));
        var context = new Context(time ?? TimeProvider.System, random ?? System.Random.Shared);
        AddStrings(Add, context);
        AddLists(Add);
        AddDicts(Add);
        AddMath(Add, context);
        AddEncoding(Add, context);
        AddMisc(Add, context);
        return list;
    }

    private delegate void Adder(string name, GoType[] parameters, Func<object?[], object?> body, bool variadic = false);

    private sealed record Context(TimeProvider Time, Random Random);

    private static string Str(object? v) => Cast.Str(v);

    private static TemplateFunctionException Fail(string message) => new(message);
}
