namespace Containers.Compose;

/// <summary>A compose file or project that cannot be loaded or brought up; the message names the file, line and path.</summary>
public sealed class ComposeException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    public ComposeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ComposeException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ComposeException()
    {
    }
}
