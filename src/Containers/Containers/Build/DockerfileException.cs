namespace Containers.Build;

/// <summary>A Dockerfile that cannot be parsed or built: the message starts with <c>file:line[:column]</c>.</summary>
public sealed class DockerfileException : ContainerException
{
    /// <summary>Creates the error for <paramref name="file"/> at <paramref name="line"/> (and <paramref name="column"/> when known).</summary>
    public DockerfileException(string file, int line, int column, string message)
        : base($"{file}:{line}{(column > 0 ? $":{column}" : "")}: {message}")
    {
        File = file;
        Line = line;
        Column = column;
    }

    /// <summary>The Dockerfile.</summary>
    public string File { get; }

    /// <summary>The 1-based line.</summary>
    public int Line { get; }

    /// <summary>The 1-based column, or 0.</summary>
    public int Column { get; }
}
