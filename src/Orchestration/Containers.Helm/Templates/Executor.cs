using System.Collections;
using System.Text;

namespace Containers.Helm.Templates;

/// <summary>
/// Runs a parsed template as Go's text/template/exec.go does: pipelines with the previous command's value as the
/// last argument, variables scoped to their control, if/with/range with Go's truth, range over lists, maps (in key
/// order) and integers, break and continue, template calls with a fresh $, arguments checked against parameter types.
/// </summary>
internal sealed class Executor
{
    private const int MaxDepth = 100_000;
    private readonly TemplateSet set;
    private readonly StringBuilder output;
    private readonly List<(string Name, object? Value)> vars = [];
    private readonly ParsedTree tree;
    private Node? at;
    private readonly int depth;

    private enum Flow { Normal, Break, Continue }

    private Executor(TemplateSet set, ParsedTree tree, StringBuilder output, int depth)
    {
        this.set = set;
        this.tree = tree;
        this.output = output;
        this.depth = depth;
    }

    /// <summary>Runs <paramref name="tree"/> with dot and $ set to <paramref name="data"/>, appending to <paramref name="output"/>.</summary>
    public static void Run(TemplateSet set, ParsedTree tree, object? data, StringBuilder output)
    {
        var executor = new Executor(set, tree, output, 0);
        executor.vars.Add(("$", data));
        executor.Walk(data, tree.Root);
    }

    private Flow Walk(object? dot, Node node)
    {
        at = node;
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case ActionNode action:
                object? value = EvalPipeline(dot, action.Pipe);
                if (action.Pipe.Decl.Count == 0)
                {
                    PrintValue(action, value);
                }

                return Flow.Normal;
            case ListNode list:
                foreach (var child in list.Nodes)
                {
                    var flow = Walk(dot, child);
                    if (flow != Flow.Normal)
                    {
                        return flow;
                    }
                }

                return Flow.Normal;
            case BranchNode { Keyword: "range" } range:
                return WalkRange(dot, range);
            case BranchNode branch:
                return WalkIfOrWith(dot, branch);
            case TemplateNode call:
                WalkTemplate(dot, call);
                return Flow.Normal;
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw Error($"unknown node: {node}");
        }
    }

    private Flow WalkIfOrWith(object? dot, BranchNode branch)
    {
        int mark = vars.Count;
        try
        {
            object? value = EvalPipeline(dot, branch.Pipe);
            if (GoValues.IsTrue(value))
            {
                return Walk(branch.Keyword == "with" ? value : dot, branch.List);
            }

            return branch.ElseList is null ? Flow.Normal : Walk(dot, branch.ElseList);
        }
        finally
        {
            vars.RemoveRange(mark, vars.Count - mark);
        }
    }

    private Flow WalkRange(object? dot, BranchNode range)
    {
        at = range;
        int mark = vars.Count;
        try
        {
            object? value = EvalPipeline(dot, range.Pipe);
            int bodyMark = vars.Count;
            var decl = range.Pipe.Decl;
            bool any = false;

            Flow OneIteration(object? index, object? element)
            {
                if (decl.Count > 0)
                {
                    if (range.Pipe.IsAssign)
                    {
                        SetVar(decl[0].Ident[0], decl.Count > 1 ? index : element);
                    }
                    else
                    {
                        vars[^1] = (vars[^1].Name, element);
                    }
                }

                if (decl.Count > 1)
                {
                    if (range.Pipe.IsAssign)
                    {
                        SetVar(decl[1].Ident[0], element);
                    }
                    else
                    {
                        vars[^2] = (vars[^2].Name, index);
                    }
                }

                try
                {
                    return Walk(element, range.List);
                }
                finally
                {
                    vars.RemoveRange(bodyMark, vars.Count - bodyMark);
                }
            }

            switch (value)
            {
                case IList list:
                    for (int i = 0; i < list.Count; i++)
                    {
                        any = true;
                        if (OneIteration((long)i, list[i]) == Flow.Break)
                        {
                            break;
                        }
                    }

                    break;
                case IDictionary<string, object?> map:
                    foreach (var key in map.Keys.Order(StringComparer.Ordinal).ToList())
                    {
                        any = true;
                        if (OneIteration(key, map[key]) == Flow.Break)
                        {
                            break;
                        }
                    }

                    break;
                case long count:
                    if (decl.Count > 1)
                    {
                        throw Error($"can't use {count} to iterate over more than one variable");
                    }

                    for (long i = 0; i < count; i++)
                    {
                        any = true;
                        if (OneIteration(i, i) == Flow.Break)
                        {
                            break;
                        }
                    }

                    break;
                case null:
                    break;
                default:
                    throw Error($"range can't iterate over {GoFormat.Print(value)}");
            }

            if (!any && range.ElseList is not null)
            {
                return Walk(dot, range.ElseList);
            }

            return Flow.Normal;
        }
        finally
        {
            vars.RemoveRange(mark, vars.Count - mark);
        }
    }

    private void WalkTemplate(object? dot, TemplateNode call)
    {
        at = call;
        var target = set.Lookup(call.Name) ?? throw Error($"template {GoFormat.Quote(call.Name)} not defined");
        if (depth >= MaxDepth)
        {
            throw Error($"exceeded maximum template depth ({MaxDepth})");
        }

        object? data = call.Pipe is null ? null : EvalPipeline(dot, call.Pipe);
        var inner = new Executor(set, target, output, depth + 1);
        inner.vars.Add(("$", data));
        inner.Walk(data, target.Root);
    }

    private void PrintValue(Node node, object? value)
    {
        at = node;
        if (value is null)
        {
            output.Append("<no value>");
            return;
        }

        if (value is TemplateFunction)
        {
            throw Error($"can't print {node} of type func");
        }

        GoFormat.Append(output, value);
    }

    private object? EvalPipeline(object? dot, PipeNode pipe)
    {
        at = pipe;
        object? value = Missing.Value;
        foreach (var cmd in pipe.Cmds)
        {
            value = EvalCommand(dot, cmd, value);
        }

        foreach (var variable in pipe.Decl)
        {
            if (pipe.IsAssign)
            {
                SetVar(variable.Ident[0], value);
            }
            else
            {
                vars.Add((variable.Ident[0], value));
            }
        }

        return value;
    }

    private object? EvalCommand(object? dot, CommandNode cmd, object? final)
    {
        var first = cmd.Args[0];
        switch (first)
        {
            case FieldNode field:
                at = field;
                return EvalFieldChain(dot, dot, field, field.Ident, cmd.Args, final);
            case ChainNode chain: return EvalChain(dot, chain, cmd.Args, final);
            case IdentifierNode ident: return EvalFunction(dot, ident, cmd, cmd.Args, final);
            case PipeNode inner:
                NotAFunction(cmd.Args, final);
                return EvalPipeline(dot, inner);
            case VariableNode variable: return EvalVariable(dot, variable, cmd.Args, final);
        }

        at = first;
        NotAFunction(cmd.Args, final);
        return first switch
        {
            BoolNode b => b.Value,
            DotNode => dot,
            NilNode => throw Error("nil is not a command"),
            NumberNode n => IdealConstant(n),
            StringNode s => s.Text,
            _ => throw Error($"can't evaluate command {GoFormat.Quote(first.ToString())}"),
        };
    }

    private void NotAFunction(List<Node> args, object? final)
    {
        if (args.Count > 1 || !ReferenceEquals(final, Missing.Value))
        {
            throw Error($"can't give argument to non-function {args[0]}");
        }
    }

    private object? IdealConstant(NumberNode n)
    {
        if (n.IsFloat && n.Text.IndexOfAny(['.', 'e', 'E', 'p', 'P']) >= 0 && !n.Text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && !n.Text.StartsWith('\''))
        {
            return n.Float;
        }

        return n.IsInt ? n.Int : throw Error($"{n.Text} overflows int");
    }

    private object? EvalVariable(object? dot, VariableNode variable, List<Node>? args, object? final)
    {
        at = variable;
        object? value = GetVar(variable.Ident[0]);
        if (variable.Ident.Length == 1)
        {
            if (args is not null)
            {
                NotAFunction(args, final);
            }

            return value;
        }

        return EvalFieldChain(dot, value, variable, variable.Ident[1..], args, final);
    }

    private object? EvalChain(object? dot, ChainNode chain, List<Node>? args, object? final)
    {
        if (chain.Fields.Count == 0)
        {
            throw Error("internal error: no fields in evalChainNode");
        }

        if (chain.Target is NilNode)
        {
            throw Error($"indirection through explicit nil in {chain}");
        }

        at = chain;
        object? receiver = EvalArg(dot, GoType.Any, chain.Target);
        return EvalFieldChain(dot, receiver, chain, [.. chain.Fields], args, final);
    }

    private object? EvalFieldChain(object? dot, object? receiver, Node node, string[] ident, List<Node>? args, object? final)
    {
        int n = ident.Length;
        for (int i = 0; i < n - 1; i++)
        {
            receiver = EvalField(dot, ident[i], node, null, Missing.Value, receiver, nilIsError: i > 0);
        }

        return EvalField(dot, ident[n - 1], node, args, final, receiver, nilIsError: n > 1);
    }

    private object? EvalField(object? dot, string name, Node node, List<Node>? args, object? final, object? receiver, bool nilIsError)
    {
        if (receiver is null)
        {
            if (nilIsError)
            {
                throw Error($"nil pointer evaluating interface {{}}.{name}");
            }

            if (set.MissingKey == MissingKey.Error)
            {
                throw Error($"nil data; no entry for key {GoFormat.Quote(name)}");
            }

            return null;
        }

        bool hasArgs = (args is not null && args.Count > 1) || !ReferenceEquals(final, Missing.Value);
        switch (receiver)
        {
            case ITemplateObject obj:
                if (obj.GetMethod(name) is { } method)
                {
                    return EvalCall(dot, method, node, name, args, final);
                }

                if (obj.TryGetField(name, out object? fieldValue))
                {
                    return hasArgs ? throw Error($"{name} has arguments but cannot be invoked as function") : fieldValue;
                }

                throw Error($"can't evaluate field {name} in type {obj.GoTypeName}");
            case IDictionary<string, object?> map:
                if (hasArgs)
                {
                    throw Error($"{name} is not a method but has arguments");
                }

                if (map.TryGetValue(name, out object? value))
                {
                    return value;
                }

                return set.MissingKey == MissingKey.Error ? throw Error($"map has no entry for key {GoFormat.Quote(name)}") : null;
            default:
                throw Error($"can't evaluate field {name} in type {(nilIsError ? "interface {}" : GoFormat.TypeName(receiver))}");
        }
    }

    private object? EvalFunction(object? dot, IdentifierNode ident, CommandNode cmd, List<Node>? args, object? final)
    {
        at = ident;
        string name = ident.Name;
        if (name is "and" or "or")
        {
            return EvalAndOr(dot, name == "and", cmd, args, final);
        }

        var function = set.Function(name) ?? throw Error($"{GoFormat.Quote(name)} is not a defined function");
        return EvalCall(dot, function, cmd, name, args, final);
    }

    private object? EvalAndOr(object? dot, bool and, Node node, List<Node>? args, object? final)
    {
        var rest = args?.Skip(1).ToList() ?? [];
        int count = rest.Count + (ReferenceEquals(final, Missing.Value) ? 0 : 1);
        if (count < 1)
        {
            at = node;
            throw Error($"wrong number of args for {(and ? "and" : "or")}: want at least 1 got 0");
        }

        object? value = null;
        for (int i = 0; i < count; i++)
        {
            value = i < rest.Count ? EvalArg(dot, GoType.Any, rest[i]) : final;
            if (GoValues.IsTrue(value) != and)
            {
                return value;
            }
        }

        return value;
    }

    private object? EvalCall(object? dot, TemplateFunction function, Node node, string name, List<Node>? args, object? final)
    {
        var given = args is null ? [] : args.Skip(1).ToList();
        bool hasFinal = !ReferenceEquals(final, Missing.Value);
        int numIn = given.Count + (hasFinal ? 1 : 0);
        var parameters = function.Parameters;
        int numFixed = function.Variadic ? parameters.Length - 1 : parameters.Length;
        if (function.Variadic ? numIn < numFixed : numIn != parameters.Length)
        {
            at = node;
            throw Error($"wrong number of args for {name}: want {(function.Variadic ? "at least " : "")}{numFixed} got {numIn}");
        }

        var argv = new object?[numIn];
        for (int i = 0; i < given.Count; i++)
        {
            argv[i] = EvalArg(dot, i < numFixed ? parameters[i] : parameters[^1], given[i]);
        }

        if (hasFinal)
        {
            at = node;
            argv[numIn - 1] = Validate(final, numIn - 1 < numFixed ? parameters[numIn - 1] : parameters[^1]);
        }

        at = node;
        try
        {
            return function.Invoke(argv);
        }
        catch (TemplateFunctionException e)
        {
            at = node;
            throw Error($"error calling {name}: {e.Message}", e);
        }
    }

    private object? EvalArg(object? dot, GoType type, Node node)
    {
        at = node;
        switch (node)
        {
            case DotNode: return Validate(dot, type);
            case NilNode: return type is GoType.Any or GoType.Map or GoType.List ? null : throw Error($"cannot assign nil to {Describe(type)}");
            case FieldNode field:
                at = field;
                return Validate(EvalFieldChain(dot, dot, field, field.Ident, [node], Missing.Value), type);
            case VariableNode variable: return Validate(EvalVariable(dot, variable, null, Missing.Value), type);
            case PipeNode pipe: return Validate(EvalPipeline(dot, pipe), type);
            case IdentifierNode ident: return Validate(EvalFunction(dot, ident, new CommandNode(ident.Pos, [ident]), null, Missing.Value), type);
            case ChainNode chain: return Validate(EvalChain(dot, chain, null, Missing.Value), type);
        }

        switch (type)
        {
            case GoType.Bool: return node is BoolNode b ? b.Value : throw Error($"expected bool; found {node}");
            case GoType.Float: return node is NumberNode { IsFloat: true } f ? f.Float : throw Error($"expected float; found {node}");
            case GoType.Int: return node is NumberNode { IsInt: true } n ? n.Int : throw Error($"expected integer; found {node}");
            case GoType.String: return node is StringNode s ? s.Text : throw Error($"expected string; found {node}");
            case GoType.Any:
                return node switch
                {
                    BoolNode bn => bn.Value,
                    NumberNode nn => IdealConstant(nn),
                    StringNode sn => sn.Text,
                    _ => throw Error($"can't handle assignment of {node} to empty interface argument"),
                };
            default:
                throw Error($"can't handle {node} for arg of type {Describe(type)}");
        }
    }

    private object? Validate(object? value, GoType type)
    {
        if (value is null)
        {
            return type is GoType.Any or GoType.Map or GoType.List ? null : throw Error($"invalid value; expected {Describe(type)}");
        }

        bool ok = type switch
        {
            GoType.Any => true,
            GoType.String => value is string,
            GoType.Int => value is long or int,
            GoType.Float => value is double,
            GoType.Bool => value is bool,
            GoType.Map => value is IDictionary<string, object?>,
            GoType.List => value is IList,
            _ => false,
        };
        return ok ? value is int i ? (long)i : value : throw Error($"wrong type for value; expected {Describe(type)}; got {GoFormat.TypeName(value)}");
    }

    private static string Describe(GoType type) => type switch
    {
        GoType.Any => "interface {}",
        GoType.String => "string",
        GoType.Int => "int",
        GoType.Float => "float64",
        GoType.Bool => "bool",
        GoType.Map => "map[string]interface {}",
        _ => "[]interface {}",
    };

    private object? GetVar(string name)
    {
        for (int i = vars.Count - 1; i >= 0; i--)
        {
            if (vars[i].Name == name)
            {
                return vars[i].Value;
            }
        }

        throw Error($"undefined variable: {name}");
    }

    private void SetVar(string name, object? value)
    {
        for (int i = vars.Count - 1; i >= 0; i--)
        {
            if (vars[i].Name == name)
            {
                vars[i] = (name, value);
                return;
            }
        }

        throw Error($"undefined variable: {name}");
    }

    private TemplateException Error(string message, Exception? inner = null)
    {
        if (at is null)
        {
            return new TemplateException($"template: {tree.Name}: {message}", tree.ParseName, 0, 0, message, inner);
        }

        var (line, column) = tree.Locate(at.Pos);
        string context = at.ToString();
        return new TemplateException($"template: {tree.ParseName}:{line}:{column}: executing {GoFormat.Quote(tree.Name)} at <{context}>: {message}", tree.ParseName, line, column, message, inner);
    }

    /// <summary>Go's missingVal: no previous command in the pipeline.</summary>
    private sealed class Missing
    {
        public static readonly Missing Value = new();
    }
}
