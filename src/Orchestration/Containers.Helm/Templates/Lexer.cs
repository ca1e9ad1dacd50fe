namespace Containers.Helm.Templates;

/// <summary>The kinds of token Go's text/template lexer produces (text/template/parse/lex.go).</summary>
internal enum TokenKind
{
    Error, Bool, Char, CharConstant, Assign, Declare, Eof, Field, Identifier, LeftDelim, LeftParen, Number, Pipe,
    RawString, RightDelim, RightParen, Space, String, Text, Variable,
    Block, Break, Continue, Dot, Define, Else, End, If, Nil, Range, Template, With,
}

/// <summary>A token: its kind, its byte offset in the template text and its text.</summary>
internal readonly record struct Token(TokenKind Kind, int Pos, string Value);

/// <summary>
/// Splits a template into tokens as Go's lexer does: text outside <c>{{ }}</c>, the trim markers <c>{{-</c> and
/// <c>-}}</c> (a dash beside whitespace), comments, and inside actions identifiers, keywords, fields, variables,
/// numbers, strings, raw strings, characters, pipes, parentheses and the declarations <c>:=</c> and <c>=</c>.
/// </summary>
internal sealed class Lexer
{
    private const string LeftDelim = "{{", RightDelim = "}}";
    private static readonly Dictionary<string, TokenKind> Keywords = new(StringComparer.Ordinal)
    {
        ["block"] = TokenKind.Block, ["break"] = TokenKind.Break, ["continue"] = TokenKind.Continue, ["define"] = TokenKind.Define,
        ["else"] = TokenKind.Else, ["end"] = TokenKind.End, ["if"] = TokenKind.If, ["range"] = TokenKind.Range, ["nil"] = TokenKind.Nil,
        ["template"] = TokenKind.Template, ["with"] = TokenKind.With,
    };

    private readonly string input;
    private readonly List<Token> tokens = [];
    private int pos;
    private int start;
    private int parenDepth;

    private Lexer(string input) => this.input = input;

    /// <summary>The tokens of <paramref name="input"/>, ending with Eof or Error (whose value is the message).</summary>
    public static List<Token> Lex(string input)
    {
        var lexer = new Lexer(input);
        lexer.Run();
        return lexer.tokens;
    }

    private void Run()
    {
        while (true)
        {
            int x = input.IndexOf(LeftDelim, pos, StringComparison.Ordinal);
            if (x < 0)
            {
                pos = input.Length;
                if (pos > start)
                {
                    Emit(TokenKind.Text);
                }

                tokens.Add(new Token(TokenKind.Eof, pos, ""));
                return;
            }

            bool trim = HasLeftTrim(x + LeftDelim.Length);
            int end = x;
            if (trim)
            {
                while (end > start && IsSpace(input[end - 1]))
                {
                    end--;
                }
            }

            if (end > start)
            {
                tokens.Add(new Token(TokenKind.Text, start, input[start..end]));
            }

            pos = x;
            start = x;
            if (!LexAction(trim))
            {
                return;
            }
        }
    }

    private bool HasLeftTrim(int at) => at + 1 < input.Length && input[at] == '-' && IsSpace(input[at + 1]);

    private bool AtRightTrim(int at) => at < input.Length && IsSpace(input[at]) && At(at + 1, "-" + RightDelim);

    private bool At(int at, string s) => at <= input.Length - s.Length && string.CompareOrdinal(input, at, s, 0, s.Length) == 0;

    /// <summary>Lexes one action from its <c>{{</c>; false after an error.</summary>
    private bool LexAction(bool trim)
    {
        pos += LeftDelim.Length + (trim ? 2 : 0);
        start = pos;
        if (At(pos, "/*"))
        {
            return LexComment();
        }

        tokens.Add(new Token(TokenKind.LeftDelim, pos - (trim ? 2 : 0) - LeftDelim.Length, LeftDelim));
        parenDepth = 0;
        while (true)
        {
            // the right delimiter, with or without its trim marker
            bool rightTrim = AtRightTrim(pos);
            if (rightTrim || At(pos, RightDelim))
            {
                if (parenDepth != 0)
                {
                    return Fail("unclosed left paren");
                }

                if (rightTrim)
                {
                    pos += 2;
                }

                tokens.Add(new Token(TokenKind.RightDelim, pos, RightDelim));
                pos += RightDelim.Length;
                if (rightTrim)
                {
                    while (pos < input.Length && IsSpace(input[pos]))
                    {
                        pos++;
                    }
                }

                start = pos;
                return true;
            }

            start = pos;
            if (pos >= input.Length)
            {
                return Fail("unclosed action");
            }

            char c = input[pos];
            if (IsSpace(c))
            {
                while (pos < input.Length && IsSpace(input[pos]) && !AtRightTrim(pos))
                {
                    pos++;
                }

                Emit(TokenKind.Space);
            }
            else if (c == '=')
            {
                pos++;
                Emit(TokenKind.Assign);
            }
            else if (c == ':')
            {
                if (pos + 1 >= input.Length || input[pos + 1] != '=')
                {
                    return Fail("expected :=");
                }

                pos += 2;
                Emit(TokenKind.Declare);
            }
            else if (c == '|')
            {
                pos++;
                Emit(TokenKind.Pipe);
            }
            else if (c == '"')
            {
                if (!LexQuote('"', TokenKind.String, "unterminated quoted string"))
                {
                    return false;
                }
            }
            else if (c == '`')
            {
                int close = input.IndexOf('`', pos + 1);
                if (close < 0)
                {
                    return Fail("unterminated raw quoted string");
                }

                pos = close + 1;
                Emit(TokenKind.RawString);
            }
            else if (c == '\'')
            {
                if (!LexQuote('\'', TokenKind.CharConstant, "unterminated character constant"))
                {
                    return false;
                }
            }
            else if (c == '$')
            {
                pos++;
                while (pos < input.Length && IsAlphaNumeric(input[pos]))
                {
                    pos++;
                }

                Emit(TokenKind.Variable);
            }
            else if (c == '.')
            {
                if (pos + 1 < input.Length && char.IsAsciiDigit(input[pos + 1]))
                {
                    if (!LexNumber())
                    {
                        return false;
                    }

                    continue;
                }

                pos++;
                if (pos < input.Length && IsAlphaNumeric(input[pos]))
                {
                    while (pos < input.Length && IsAlphaNumeric(input[pos]))
                    {
                        pos++;
                    }

                    if (!CheckTerminator())
                    {
                        return false;
                    }

                    Emit(TokenKind.Field);
                }
                else
                {
                    Emit(TokenKind.Dot);
                }
            }
            else if (c is '+' or '-' || char.IsAsciiDigit(c))
            {
                if (!LexNumber())
                {
                    return false;
                }
            }
            else if (IsAlphaNumeric(c))
            {
                while (pos < input.Length && IsAlphaNumeric(input[pos]))
                {
                    pos++;
                }

                if (!CheckTerminator())
                {
                    return false;
                }

                string word = input[start..pos];
                Emit(Keywords.TryGetValue(word, out var keyword) ? keyword : word is "true" or "false" ? TokenKind.Bool : TokenKind.Identifier);
            }
            else if (c == '(')
            {
                pos++;
                parenDepth++;
                Emit(TokenKind.LeftParen);
            }
            else if (c == ')')
            {
                pos++;
                parenDepth--;
                if (parenDepth < 0)
                {
                    return Fail("unexpected right paren");
                }

                Emit(TokenKind.RightParen);
            }
            else if (c == ',')
            {
                pos++;
                Emit(TokenKind.Char);
            }
            else
            {
                return Fail($"unrecognized character in action: {Quote(c)}");
            }
        }
    }

    private bool LexComment()
    {
        int close = input.IndexOf("*/", pos + 2, StringComparison.Ordinal);
        if (close < 0)
        {
            return Fail("unclosed comment");
        }

        pos = close + 2;
        bool trim = AtRightTrim(pos);
        if (trim)
        {
            pos += 2;
        }

        if (!At(pos, RightDelim))
        {
            return Fail("comment ends before closing delimiter");
        }

        pos += RightDelim.Length;
        if (trim)
        {
            while (pos < input.Length && IsSpace(input[pos]))
            {
                pos++;
            }
        }

        start = pos;
        return true;
    }

    private bool LexQuote(char quote, TokenKind kind, string unterminated)
    {
        pos++;
        while (true)
        {
            if (pos >= input.Length || input[pos] == '\n')
            {
                return Fail(unterminated);
            }

            char c = input[pos++];
            if (c == '\\')
            {
                if (pos >= input.Length || input[pos] == '\n')
                {
                    return Fail(unterminated);
                }

                pos++;
            }
            else if (c == quote)
            {
                break;
            }
        }

        Emit(kind);
        return true;
    }

    private bool LexNumber()
    {
        if (pos < input.Length && input[pos] is '+' or '-')
        {
            pos++;
        }

        string digits = "0123456789_";
        if (pos + 1 < input.Length && input[pos] == '0' && input[pos + 1] is 'x' or 'X' or 'o' or 'O' or 'b' or 'B')
        {
            digits = input[pos + 1] switch { 'x' or 'X' => "0123456789abcdefABCDEF_", 'o' or 'O' => "01234567_", _ => "01_" };
            pos += 2;
        }

        Accept(digits);
        if (pos < input.Length && input[pos] == '.')
        {
            pos++;
            Accept(digits);
        }

        if (digits.Length == 11 && pos < input.Length && input[pos] is 'e' or 'E')
        {
            pos++;
            if (pos < input.Length && input[pos] is '+' or '-')
            {
                pos++;
            }

            Accept("0123456789_");
        }

        if (digits.Length == 23 && pos < input.Length && input[pos] is 'p' or 'P')
        {
            pos++;
            if (pos < input.Length && input[pos] is '+' or '-')
            {
                pos++;
            }

            Accept("0123456789_");
        }

        if (pos < input.Length && input[pos] == 'i')
        {
            pos++;
        }

        if (pos < input.Length && IsAlphaNumeric(input[pos]))
        {
            pos++;
            return Fail($"bad number syntax: {Quote(input[start..pos])}");
        }

        Emit(TokenKind.Number);
        return true;
    }

    private void Accept(string valid)
    {
        while (pos < input.Length && valid.Contains(input[pos], StringComparison.Ordinal))
        {
            pos++;
        }
    }

    private bool CheckTerminator()
    {
        if (pos >= input.Length)
        {
            return true;
        }

        char c = input[pos];
        if (IsSpace(c) || c is '.' or ',' or '|' or ':' or ')' or '(' || AtRightTrim(pos) || At(pos, RightDelim))
        {
            return true;
        }

        return Fail($"bad character {Quote(c)}");
    }

    private void Emit(TokenKind kind)
    {
        tokens.Add(new Token(kind, start, input[start..pos]));
        start = pos;
    }

    private bool Fail(string message)
    {
        tokens.Add(new Token(TokenKind.Error, start, message));
        return false;
    }

    private static string Quote(char c) => Quote(c.ToString());

    private static string Quote(string s) => GoFormat.Quote(s);

    internal static bool IsSpace(char c) => c is ' ' or '\t' or '\r' or '\n';

    private static bool IsAlphaNumeric(char c) => c == '_' || char.IsLetterOrDigit(c);
}
