using System.Globalization;
using System.Text;

namespace Containers.Helm.Templates;

/// <summary>A node of a parsed template (text/template/parse/node.go); <see cref="Pos"/> is its byte offset.</summary>
internal abstract record Node(int Pos)
{
    /// <summary>The node as template source, as Go prints it in error messages ("at &lt;...&gt;").</summary>
    public abstract override string ToString();
}

internal sealed record ListNode(int Pos, List<Node> Nodes) : Node(Pos)
{
    public override string ToString() => string.Concat(Nodes.Select(n => n.ToString()));
}

internal sealed record TextNode(int Pos, string Text) : Node(Pos)
{
    public override string ToString() => GoFormat.Quote(Text);
}

internal sealed record ActionNode(int Pos, PipeNode Pipe) : Node(Pos)
{
    public override string ToString() => "{{" + Pipe + "}}";
}

internal sealed record BreakNode(int Pos) : Node(Pos)
{
    public override string ToString() => "{{break}}";
}

internal sealed record ContinueNode(int Pos) : Node(Pos)
{
    public override string ToString() => "{{continue}}";
}

/// <summary>The markers that end a list: <c>{{end}}</c> and <c>{{else}}</c>.</summary>
internal sealed record EndNode(int Pos) : Node(Pos)
{
    public override string ToString() => "{{end}}";
}

internal sealed record ElseNode(int Pos) : Node(Pos)
{
    public override string ToString() => "{{else}}";
}

/// <summary>if, range and with: the pipeline, the list and the else list.</summary>
internal sealed record BranchNode(int Pos, string Keyword, PipeNode Pipe, ListNode List, ListNode? ElseList) : Node(Pos)
{
    public override string ToString() =>
        "{{" + Keyword + " " + Pipe + "}}" + List + (ElseList is null ? "" : "{{else}}" + ElseList) + "{{end}}";
}

internal sealed record TemplateNode(int Pos, string Name, PipeNode? Pipe) : Node(Pos)
{
    public override string ToString() => Pipe is null ? $"{{{{template {GoFormat.Quote(Name)}}}}}" : $"{{{{template {GoFormat.Quote(Name)} {Pipe}}}}}";
}

/// <summary>A pipeline with its declared or assigned variables.</summary>
internal sealed record PipeNode(int Pos, List<VariableNode> Decl, List<CommandNode> Cmds) : Node(Pos)
{
    public bool IsAssign { get; set; }

    public override string ToString()
    {
        var sb = new StringBuilder();
        if (Decl.Count > 0)
        {
            sb.Append(string.Join(", ", Decl.Select(d => d.ToString()))).Append(IsAssign ? " = " : " := ");
        }

        sb.Append(string.Join(" | ", Cmds.Select(c => c.ToString())));
        return sb.ToString();
    }
}

internal sealed record CommandNode(int Pos, List<Node> Args) : Node(Pos)
{
    public override string ToString() =>
        string.Join(" ", Args.Select(a => a is PipeNode ? "(" + a + ")" : a.ToString()));
}

internal sealed record IdentifierNode(int Pos, string Name) : Node(Pos)
{
    public override string ToString() => Name;
}

/// <summary>$x.Field.Field: the variable name first, then the fields.</summary>
internal sealed record VariableNode(int Pos, string[] Ident) : Node(Pos)
{
    public override string ToString() => string.Join(".", Ident);
}

internal sealed record DotNode(int Pos) : Node(Pos)
{
    public override string ToString() => ".";
}

internal sealed record NilNode(int Pos) : Node(Pos)
{
    public override string ToString() => "nil";
}

/// <summary>.Field.Field (from dot).</summary>
internal sealed record FieldNode(int Pos, string[] Ident) : Node(Pos)
{
    public override string ToString() => string.Concat(Ident.Select(i => "." + i));
}

/// <summary>(pipeline).Field.Field.</summary>
internal sealed record ChainNode(int Pos, Node Target, List<string> Fields) : Node(Pos)
{
    public override string ToString() =>
        (Target is PipeNode ? "(" + Target + ")" : Target.ToString()) + string.Concat(Fields.Select(f => "." + f));
}

internal sealed record BoolNode(int Pos, bool Value) : Node(Pos)
{
    public override string ToString() => Value ? "true" : "false";
}

/// <summary>A number constant, with the values it can take as an int, a float or a rune (as Go's NumberNode).</summary>
internal sealed record NumberNode(int Pos, string Text) : Node(Pos)
{
    public bool IsInt { get; init; }

    public bool IsFloat { get; init; }

    public long Int { get; init; }

    public double Float { get; init; }

    public override string ToString() => Text;

    /// <summary>Parses a number or character constant as Go's parser does; null with the error when it is not one.</summary>
    public static NumberNode Parse(int pos, string text, bool isChar)
    {
        if (isChar)
        {
            string body = GoFormat.Unquote(text) ?? throw new TemplateSyntaxException($"malformed character constant: {text}");
            int rune = char.ConvertToUtf32(body, 0);
            return new NumberNode(pos, text) { IsInt = true, IsFloat = true, Int = rune, Float = rune };
        }

        string clean = text.Replace("_", "", StringComparison.Ordinal);
        if (clean.EndsWith('i'))
        {
            throw new TemplateSyntaxException($"complex numbers are not supported: {text}");
        }

        bool negative = clean.StartsWith('-');
        string unsigned = clean.TrimStart('+', '-');
        long? asInt = null;
        if (unsigned.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && !unsigned.Contains('p', StringComparison.OrdinalIgnoreCase))
        {
            asInt = long.TryParse(unsigned[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long h) ? h : null;
        }
        else if (unsigned.StartsWith("0o", StringComparison.OrdinalIgnoreCase) || (unsigned.Length > 1 && unsigned[0] == '0' && unsigned.All(char.IsAsciiDigit)))
        {
            string digits = unsigned.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? unsigned[2..] : unsigned[1..];
            try
            {
                asInt = Convert.ToInt64(digits, 8);
            }
            catch (FormatException)
            {
                asInt = null;
            }
        }
        else if (unsigned.StartsWith("0b", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                asInt = Convert.ToInt64(unsigned[2..], 2);
            }
            catch (FormatException)
            {
                asInt = null;
            }
        }
        else if (long.TryParse(unsigned, NumberStyles.None, CultureInfo.InvariantCulture, out long d))
        {
            asInt = d;
        }

        if (asInt is { } i)
        {
            long v = negative ? -i : i;
            return new NumberNode(pos, text) { IsInt = true, IsFloat = true, Int = v, Float = v };
        }

        if (double.TryParse(clean, NumberStyles.Float, CultureInfo.InvariantCulture, out double f))
        {
            if (unsigned.IndexOfAny(['.', 'e', 'E', 'p', 'P']) < 0)
            {
                throw new TemplateSyntaxException($"integer overflow: {GoFormat.Quote(text)}");
            }

            bool integral = Math.Floor(f) == f && Math.Abs(f) < 9.2e18;
            return new NumberNode(pos, text) { IsFloat = true, Float = f, IsInt = integral, Int = integral ? (long)f : 0 };
        }

        throw new TemplateSyntaxException($"illegal number syntax: {GoFormat.Quote(text)}");
    }
}

internal sealed record StringNode(int Pos, string Quoted, string Text) : Node(Pos)
{
    public override string ToString() => Quoted;
}
