namespace Containers.Helm.Templates;

/// <summary>
/// Go's text/template parser (text/template/parse/parse.go), token for token: the file's own tree plus one tree per
/// <c>define</c> and <c>block</c>, variables checked as they are used, functions checked against the function map.
/// </summary>
internal sealed class Parser
{
    private readonly string name;
    private readonly string text;
    private readonly List<Token> tokens;
    private readonly Func<string, bool> hasFunction;
    private readonly Dictionary<string, ParsedTree> trees;
    private List<string> vars = ["$"];
    private int index;
    private int rangeDepth;

    private Parser(string name, string text, Func<string, bool> hasFunction, Dictionary<string, ParsedTree> trees)
    {
        this.name = name;
        this.text = text;
        this.hasFunction = hasFunction;
        this.trees = trees;
        tokens = Lexer.Lex(text);
    }

    /// <summary>
    /// Parses <paramref name="text"/> as the template <paramref name="name"/>: the trees it defines (its own under
    /// its name, unless it is empty and only defines others) are added to <paramref name="trees"/>.
    /// </summary>
    /// <exception cref="TemplateException">The text is not a valid template (message as Go's: template: NAME:LINE: ...).</exception>
    public static void Parse(string name, string text, Func<string, bool> hasFunction, Dictionary<string, ParsedTree> trees)
    {
        var parser = new Parser(name, text, hasFunction, trees);
        var root = parser.ParseRoot();
        parser.Add(name, root);
    }

    /// <summary>Adds a tree as Go's associate does: a tree that is empty never replaces a defined one.</summary>
    private void Add(string treeName, ListNode tree)
    {
        if (trees.ContainsKey(treeName) && IsEmpty(tree))
        {
            return;
        }

        trees[treeName] = new ParsedTree(treeName, name, text, tree);
    }

    private static bool IsEmpty(ListNode list) =>
        list.Nodes.All(n => n is TextNode t && t.Text.All(Lexer.IsSpace));

    private ListNode ParseRoot()
    {
        var root = new ListNode(Peek().Pos, []);
        while (Peek().Kind != TokenKind.Eof)
        {
            if (Peek().Kind == TokenKind.LeftDelim)
            {
                int mark = index;
                Next();
                if (NextNonSpace().Kind == TokenKind.Define)
                {
                    ParseDefinition();
                    continue;
                }

                index = mark;
            }

            var node = TextOrAction();
            if (node is EndNode or ElseNode)
            {
                throw Error($"unexpected {node}");
            }

            root.Nodes.Add(node);
        }

        return root;
    }

    private void ParseDefinition()
    {
        const string Context = "define clause";
        var token = NextNonSpace();
        string defined = TemplateName(token, Context);
        Expect(TokenKind.RightDelim, Context);
        var saved = vars;
        vars = ["$"];
        var (list, end) = ItemList();
        if (end is not EndNode)
        {
            throw Error($"unexpected {end} in {Context}");
        }

        vars = saved;
        Add(defined, list);
    }

    private Node TextOrAction()
    {
        var token = NextNonSpace();
        return token.Kind switch
        {
            TokenKind.Text => new TextNode(token.Pos, token.Value),
            TokenKind.LeftDelim => Action(),
            _ => throw Unexpected(token, "input"),
        };
    }

    private (ListNode List, Node End) ItemList()
    {
        var list = new ListNode(PeekNonSpace().Pos, []);
        while (PeekNonSpace().Kind != TokenKind.Eof)
        {
            var node = TextOrAction();
            if (node is EndNode or ElseNode)
            {
                return (list, node);
            }

            list.Nodes.Add(node);
        }

        throw Error("unexpected EOF");
    }

    private Node Action()
    {
        var token = NextNonSpace();
        switch (token.Kind)
        {
            case TokenKind.Block: return BlockControl();
            case TokenKind.Break: return LoopControl(token, "break");
            case TokenKind.Continue: return LoopControl(token, "continue");
            case TokenKind.Else: return ElseControl();
            case TokenKind.End: return new EndNode(Expect(TokenKind.RightDelim, "end").Pos);
            case TokenKind.If: return Control("if");
            case TokenKind.Range: return Control("range");
            case TokenKind.Template: return TemplateControl();
            case TokenKind.With: return Control("with");
        }

        index--;
        var first = Peek();
        return new ActionNode(first.Pos, Pipeline("command", TokenKind.RightDelim));
    }

    private Node LoopControl(Token token, string keyword)
    {
        var close = NextNonSpace();
        if (close.Kind != TokenKind.RightDelim)
        {
            throw Unexpected(close, "{{" + keyword + "}}");
        }

        if (rangeDepth == 0)
        {
            throw Error($"{{{{{keyword}}}}} outside {{{{range}}}}");
        }

        return keyword == "break" ? new BreakNode(token.Pos) : new ContinueNode(token.Pos);
    }

    private Node ElseControl()
    {
        var peek = PeekNonSpace();
        if (peek.Kind is TokenKind.If or TokenKind.With)
        {
            return new ElseNode(peek.Pos);
        }

        return new ElseNode(Expect(TokenKind.RightDelim, "else").Pos);
    }

    private BranchNode Control(string context)
    {
        int saved = vars.Count;
        var pipe = Pipeline(context, TokenKind.RightDelim);
        if (context == "range")
        {
            rangeDepth++;
        }

        var (list, next) = ItemList();
        if (context == "range")
        {
            rangeDepth--;
        }

        ListNode? elseList = null;
        if (next is ElseNode)
        {
            if (context == "if" && PeekNonSpace().Kind == TokenKind.If)
            {
                NextNonSpace();
                elseList = new ListNode(next.Pos, [Control("if")]);
            }
            else if (context == "with" && PeekNonSpace().Kind == TokenKind.With)
            {
                NextNonSpace();
                elseList = new ListNode(next.Pos, [Control("with")]);
            }
            else
            {
                (elseList, next) = ItemList();
                if (next is not EndNode)
                {
                    throw Error($"expected end; found {next}");
                }
            }
        }

        vars.RemoveRange(saved, vars.Count - saved);
        return new BranchNode(pipe.Pos, context, pipe, list, elseList);
    }

    private TemplateNode TemplateControl()
    {
        const string Context = "template clause";
        var token = NextNonSpace();
        string called = TemplateName(token, Context);
        PipeNode? pipe = null;
        if (NextNonSpace().Kind != TokenKind.RightDelim)
        {
            index--;
            pipe = Pipeline(Context, TokenKind.RightDelim);
        }

        return new TemplateNode(token.Pos, called, pipe);
    }

    private TemplateNode BlockControl()
    {
        const string Context = "block clause";
        var token = NextNonSpace();
        string blockName = TemplateName(token, Context);
        var pipe = Pipeline(Context, TokenKind.RightDelim);
        var saved = vars;
        vars = ["$"];
        var (list, end) = ItemList();
        if (end is not EndNode)
        {
            throw Error($"unexpected {end} in {Context}");
        }

        vars = saved;
        Add(blockName, list);
        return new TemplateNode(token.Pos, blockName, pipe);
    }

    private string TemplateName(Token token, string context)
    {
        if (token.Kind is TokenKind.String or TokenKind.RawString)
        {
            return GoFormat.Unquote(token.Value) ?? throw Error($"bad string {token.Value}");
        }

        throw Unexpected(token, context);
    }

    private PipeNode Pipeline(string context, TokenKind end)
    {
        var pipe = new PipeNode(PeekNonSpace().Pos, [], []);
        while (PeekNonSpace().Kind == TokenKind.Variable)
        {
            int mark = index;
            var v = NextNonSpace();
            var next = PeekNonSpace();
            if (next.Kind is TokenKind.Assign or TokenKind.Declare)
            {
                pipe.IsAssign = next.Kind == TokenKind.Assign;
                NextNonSpace();
                pipe.Decl.Add(new VariableNode(v.Pos, [v.Value]));
                vars.Add(v.Value);
                break;
            }

            if (next.Kind == TokenKind.Char && next.Value == ",")
            {
                NextNonSpace();
                pipe.Decl.Add(new VariableNode(v.Pos, [v.Value]));
                vars.Add(v.Value);
                if (context == "range" && pipe.Decl.Count < 2)
                {
                    if (PeekNonSpace().Kind is TokenKind.Variable or TokenKind.RightDelim or TokenKind.RightParen)
                    {
                        continue;
                    }

                    throw Error("range can only initialize variables");
                }

                throw Error($"too many declarations in {context}");
            }

            index = mark;
            break;
        }

        while (true)
        {
            var token = NextNonSpace();
            if (token.Kind == end)
            {
                CheckPipeline(pipe, context);
                return pipe;
            }

            switch (token.Kind)
            {
                case TokenKind.Bool or TokenKind.CharConstant or TokenKind.Dot or TokenKind.Field or TokenKind.Identifier or TokenKind.Number
                    or TokenKind.Nil or TokenKind.RawString or TokenKind.String or TokenKind.Variable or TokenKind.LeftParen:
                    index--;
                    pipe.Cmds.Add(Command());
                    break;
                default:
                    throw Unexpected(token, context);
            }
        }
    }

    private void CheckPipeline(PipeNode pipe, string context)
    {
        if (pipe.Cmds.Count == 0)
        {
            throw Error($"missing value for {context}");
        }

        for (int i = 1; i < pipe.Cmds.Count; i++)
        {
            if (pipe.Cmds[i].Args[0] is BoolNode or DotNode or NilNode or NumberNode or StringNode)
            {
                throw Error($"non executable command in pipeline stage {i + 1}");
            }
        }
    }

    private CommandNode Command()
    {
        var cmd = new CommandNode(PeekNonSpace().Pos, []);
        while (true)
        {
            PeekNonSpace();
            if (Operand() is { } operand)
            {
                cmd.Args.Add(operand);
            }

            var token = Next();
            if (token.Kind == TokenKind.Space)
            {
                continue;
            }

            if (token.Kind is TokenKind.RightDelim or TokenKind.RightParen)
            {
                index--;
            }
            else if (token.Kind != TokenKind.Pipe)
            {
                throw Unexpected(token, "operand");
            }

            break;
        }

        if (cmd.Args.Count == 0)
        {
            throw Error("empty command");
        }

        return cmd;
    }

    private Node? Operand()
    {
        var node = Term();
        if (node is null || Peek().Kind != TokenKind.Field)
        {
            return node;
        }

        int pos = Peek().Pos;
        var fields = new List<string>();
        while (Peek().Kind == TokenKind.Field)
        {
            fields.Add(Next().Value[1..]);
        }

        return node switch
        {
            FieldNode f => new FieldNode(pos, [.. f.Ident, .. fields]),
            VariableNode v => new VariableNode(pos, [.. v.Ident, .. fields]),
            BoolNode or StringNode or NumberNode or NilNode or DotNode => throw Error($"unexpected . after term {GoFormat.Quote(node.ToString())}"),
            _ => new ChainNode(pos, node, fields),
        };
    }

    private Node? Term()
    {
        var token = NextNonSpace();
        try
        {
            switch (token.Kind)
            {
                case TokenKind.Identifier:
                    return hasFunction(token.Value) ? new IdentifierNode(token.Pos, token.Value) : throw Error($"function {GoFormat.Quote(token.Value)} not defined");
                case TokenKind.Dot: return new DotNode(token.Pos);
                case TokenKind.Nil: return new NilNode(token.Pos);
                case TokenKind.Variable:
                    return vars.Contains(token.Value) ? new VariableNode(token.Pos, [token.Value]) : throw Error($"undefined variable {GoFormat.Quote(token.Value)}");
                case TokenKind.Field: return new FieldNode(token.Pos, [token.Value[1..]]);
                case TokenKind.Bool: return new BoolNode(token.Pos, token.Value == "true");
                case TokenKind.CharConstant or TokenKind.Number: return NumberNode.Parse(token.Pos, token.Value, token.Kind == TokenKind.CharConstant);
                case TokenKind.LeftParen: return Pipeline("parenthesized pipeline", TokenKind.RightParen);
                case TokenKind.String or TokenKind.RawString:
                    return new StringNode(token.Pos, token.Value, GoFormat.Unquote(token.Value) ?? throw Error("invalid syntax"));
            }
        }
        catch (TemplateSyntaxException e)
        {
            throw Error(e.Message);
        }

        index--;
        return null;
    }

    private Token Expect(TokenKind kind, string context)
    {
        var token = NextNonSpace();
        return token.Kind == kind ? token : throw Unexpected(token, context);
    }

    private Token Next()
    {
        var token = tokens[Math.Min(index, tokens.Count - 1)];
        index++;
        if (token.Kind == TokenKind.Error)
        {
            throw Error(token.Value, token.Pos);
        }

        return token;
    }

    private Token Peek()
    {
        var token = tokens[Math.Min(index, tokens.Count - 1)];
        return token.Kind == TokenKind.Error ? throw Error(token.Value, token.Pos) : token;
    }

    private Token NextNonSpace()
    {
        Token token;
        do
        {
            token = Next();
        }
        while (token.Kind == TokenKind.Space);
        return token;
    }

    private Token PeekNonSpace()
    {
        var token = NextNonSpace();
        index--;
        return token;
    }

    private TemplateException Unexpected(Token token, string context) =>
        token.Kind switch
        {
            TokenKind.Eof => Error("unexpected EOF", token.Pos),
            TokenKind.RightDelim or TokenKind.LeftDelim => Error($"unexpected {GoFormat.Quote(token.Value)} in {context}", token.Pos),
            _ => Error($"unexpected {Describe(token)} in {context}", token.Pos),
        };

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.Text or TokenKind.String or TokenKind.RawString => GoFormat.Quote(token.Value),
        TokenKind.Space => "space",
        _ when token.Kind >= TokenKind.Block => $"<{token.Value}>",
        _ => token.Value.Length > 10 ? GoFormat.Quote(token.Value[..10]) + "..." : GoFormat.Quote(token.Value),
    };

    private TemplateException Error(string message, int? pos = null)
    {
        int at = pos ?? tokens[Math.Clamp(index - 1, 0, tokens.Count - 1)].Pos;
        int line = 1 + text.AsSpan(0, Math.Min(at, text.Length)).Count('\n');
        return new TemplateException($"template: {name}:{line}: {message}", name, line, null, message);
    }
}

/// <summary>A parsed template: its name, the file (parse name) and text it came from (for error positions), its root.</summary>
internal sealed record ParsedTree(string Name, string ParseName, string Text, ListNode Root)
{
    /// <summary>Go's ErrorContext location: PARSENAME:LINE:COL (COL the 0-based byte offset in the line).</summary>
    public (int Line, int Column) Locate(int pos)
    {
        pos = Math.Min(pos, Text.Length);
        int lastNewline = Text.LastIndexOf('\n', Math.Max(pos - 1, 0));
        if (pos == 0)
        {
            lastNewline = -1;
        }

        int line = 1 + Text.AsSpan(0, pos).Count('\n');
        return (line, lastNewline < 0 ? pos : pos - lastNewline - 1);
    }
}

/// <summary>A number or string constant that does not parse (turned into a located error by the parser).</summary>
internal sealed class TemplateSyntaxException(string message) : Exception(message);
