using System.Text;

namespace Containers.Helm.Templates;

/// <summary>
/// A set of Go text/templates sharing one function map, as Go's template.Template with its associated templates:
/// <see cref="Parse"/> adds a file (and its defines), <see cref="Execute(string, object?)"/> runs one by name.
/// </summary>
public sealed class TemplateSet
{
    private readonly Dictionary<string, ParsedTree> trees;
    private readonly Dictionary<string, TemplateFunction> functions;

    /// <summary>
    /// Creates an empty set named <paramref name="name"/> (Go's root template, named in "no template ... associated
    /// with template NAME") with Go's builtins and <paramref name="functions"/> (which override builtins).
    /// </summary>
    public TemplateSet(IEnumerable<TemplateFunction> functions, MissingKey missingKey = MissingKey.Zero, string name = "gotpl")
        : this(new Dictionary<string, ParsedTree>(StringComparer.Ordinal), Builtins.Create(), missingKey, name)
    {
        foreach (var function in functions)
        {
            this.functions[function.Name] = function;
        }
    }

    private TemplateSet(Dictionary<string, ParsedTree> trees, Dictionary<string, TemplateFunction> functions, MissingKey missingKey, string name)
    {
        Name = name;
        this.trees = trees;
        this.functions = functions;
        MissingKey = missingKey;
    }

    /// <summary>The root template's name.</summary>
    public string Name { get; }

    /// <summary>What a missing map key gives.</summary>
    public MissingKey MissingKey { get; }

    /// <summary>The names of the templates defined so far.</summary>
    public IEnumerable<string> Names => trees.Keys;

    /// <summary>Adds or replaces a function (functions can be added once the set exists, as Helm adds include and tpl).</summary>
    public void AddFunction(TemplateFunction function) => functions[function.Name] = function;

    /// <summary>Parses <paramref name="text"/> as the template <paramref name="name"/>, adding its defines.</summary>
    /// <exception cref="TemplateException">It does not parse (the message names the file and line).</exception>
    public void Parse(string name, string text) => Parser.Parse(name, text, functions.ContainsKey, trees);

    /// <summary>Whether a template of that name is defined.</summary>
    public bool Contains(string name) => trees.ContainsKey(name);

    /// <summary>Runs the template <paramref name="name"/> with <paramref name="data"/> as dot and $.</summary>
    /// <exception cref="TemplateException">It is not defined, or fails (the message names file, line and column).</exception>
    public string Execute(string name, object? data)
    {
        var sb = new StringBuilder();
        Execute(name, data, sb);
        return sb.ToString();
    }

    /// <summary>Runs the template <paramref name="name"/>, appending its output to <paramref name="output"/>.</summary>
    /// <exception cref="TemplateException">It is not defined, or fails.</exception>
    public void Execute(string name, object? data, StringBuilder output)
    {
        var tree = Lookup(name) ?? throw new TemplateException($"template: no template {GoFormat.Quote(name)} associated with template {GoFormat.Quote(Name)}", name, 0, null, $"no template {GoFormat.Quote(name)}");
        Executor.Run(this, tree, data, output);
    }

    /// <summary>A copy sharing the functions, whose later parses do not change this set (Helm's tpl clones).</summary>
    public TemplateSet Clone() => new(new Dictionary<string, ParsedTree>(trees, StringComparer.Ordinal), new Dictionary<string, TemplateFunction>(functions, StringComparer.Ordinal), MissingKey, Name);

    internal ParsedTree? Lookup(string name) => trees.GetValueOrDefault(name);

    internal TemplateFunction? Function(string name) => functions.GetValueOrDefault(name);
}
