using Containers.Build;

namespace Containers.Tests.Build;

public class DockerfileParserTests
{
    [Fact]
    public void Parses_directives_continuations_comments_json_and_flags()
    {
        var df = DockerfileParser.Parse("""
            # syntax=docker/dockerfile:1
            # escape=`
            from busybox AS base
            # a comment
            RUN echo a `
              # dropped inside a continuation
              && echo b
            COPY --from=base --chown=1:2 ["a b", "/dst/"]
            ENV k v
            MAINTAINER someone
            """, "Dockerfile.test");
        Assert.Equal('`', df.EscapeChar);
        Assert.Equal(["FROM", "RUN", "COPY", "ENV", "MAINTAINER"], df.Instructions.Select(i => i.Keyword));
        var run = df.Instructions[1];
        Assert.Equal(5, run.Line);
        Assert.Equal("echo a   && echo b", run.Raw);
        var copy = df.Instructions[2];
        Assert.True(copy.IsJson);
        Assert.Equal(["a b", "/dst/"], copy.Args.ToArray());
        Assert.Equal("base", copy.Flag("from"));
        Assert.Equal("1:2", copy.Flag("chown"));
        Assert.Equal(2, df.Warnings.Length);
        Assert.Contains("Dockerfile.test:9: legacy", df.Warnings[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Parses_heredocs_quoted_stripped_and_several_per_line()
    {
        var df = DockerfileParser.Parse("FROM scratch\nRUN <<EOF\necho $HOME\nEOF\nCOPY <<-'ONE' <<TWO /dst/\n\tfirst $x\n\tONE\nsecond\nTWO\nRUN true\n");
        var run = df.Instructions[1];
        Assert.Equal(new Heredoc("EOF", "echo $HOME\n", true), Assert.Single(run.Heredocs));
        var copy = df.Instructions[2];
        Assert.Equal([new Heredoc("ONE", "first $x\n", false), new Heredoc("TWO", "second\n", true)], copy.Heredocs.ToArray());
        Assert.Equal(10, df.Instructions[3].Line);
    }

    [Theory]
    [InlineData("FROM x\nFROBNICATE y\n", "Dockerfile:2:1: unknown instruction: FROBNICATE")]
    [InlineData("FROM x\nRUN <<EOF\necho\n", "Dockerfile:2:5: unterminated heredoc")]
    [InlineData("# escape=x\nFROM x\n", "Dockerfile:1:10: invalid escape token")]
    public void Errors_name_file_line_and_column(string text, string expected)
    {
        var e = Assert.Throws<DockerfileException>(() => DockerfileParser.Parse(text));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("$A-${A}-${B:-d}-${B-e}-${A:+p}-${B+q}", "a-a-d-e-p-")]
    [InlineData("'$A' \"$A\" \\$A", "$A a $A")]
    [InlineData("${E:-x}${E-y}", "x")]
    public void Expands_variables_like_docker(string text, string expected)
    {
        var words = new ShellWords(n => n switch { "A" => "a", "E" => "", _ => null });
        Assert.Equal(expected, words.Single(text));
    }

    [Fact]
    public void Dockerignore_last_match_wins_with_exceptions_and_double_stars()
    {
        var m = new IgnoreMatcher(["# comment", "*.log", "!keep.log", "node_modules", "**/secret*", "docs/**/*.md", "!docs/README.md"]);
        Assert.True(m.IsIgnored("a.log"));
        Assert.False(m.IsIgnored("keep.log"));
        Assert.True(m.IsIgnored("node_modules/x/y.js"));
        Assert.True(m.IsIgnored("deep/dir/secret.txt"));
        Assert.True(m.IsIgnored("docs/a/b.md"));
        Assert.False(m.IsIgnored("docs/README.md"));
        Assert.False(m.IsIgnored("src/a.cs"));
        Assert.False(m.IsIgnored("sub/a.log")); // *.log matches at the top only, as docker's
    }
}
