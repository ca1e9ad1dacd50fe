namespace Containers.Helm.Templates;

/// <summary>The Go type a function parameter declares: the executor converts and checks arguments as Go's does.</summary>
public enum GoType
{
    /// <summary>interface{}: anything, nil included.</summary>
    Any,

    /// <summary>string.</summary>
    String,

    /// <summary>int (an integer, never a float: Go refuses float64 for int).</summary>
    Int,

    /// <summary>float64 (a float; untyped integer constants convert).</summary>
    Float,

    /// <summary>bool.</summary>
    Bool,

    /// <summary>map[string]interface{} (nil allowed).</summary>
    Map,

    /// <summary>[]interface{} (nil allowed).</summary>
    List,
}

/// <summary>
/// A function templates can call: its name, its parameters' Go types (the last repeated when
/// <see cref="Variadic"/>), and its body. A body reports failure by throwing <see cref="TemplateFunctionException"/>,
/// which the template shows as "error calling NAME: ...".
/// </summary>
/// <param name="Name">The name templates call it by.</param>
/// <param name="Parameters">The parameter types.</param>
/// <param name="Variadic">Whether the last parameter repeats (Go's ...T).</param>
/// <param name="Invoke">The body, given the converted arguments.</param>
public sealed record TemplateFunction(string Name, GoType[] Parameters, bool Variadic, Func<object?[], object?> Invoke);

/// <summary>A Go struct-like object templates reach into: fields by name, and methods called with arguments.</summary>
public interface ITemplateObject
{
    /// <summary>The Go type name shown in messages ("*chart.Metadata", "chartutil.Capabilities").</summary>
    string GoTypeName { get; }

    /// <summary>The field <paramref name="name"/>; false when there is none.</summary>
    bool TryGetField(string name, out object? value);

    /// <summary>The method <paramref name="name"/>, or null when there is none.</summary>
    TemplateFunction? GetMethod(string name);
}

/// <summary>What a missing map key gives (Go's missingkey option).</summary>
public enum MissingKey
{
    /// <summary>missingkey=zero (Helm's default): the zero value, printed as "&lt;no value&gt;".</summary>
    Zero,

    /// <summary>missingkey=error (helm --strict): an error naming the key.</summary>
    Error,
}
