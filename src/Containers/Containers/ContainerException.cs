namespace Containers;

/// <summary>The base of every error the SDK reports: the message says what failed and where.</summary>
public class ContainerException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public ContainerException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public ContainerException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public ContainerException()
    {
    }
}

/// <summary>A container, network or other object that does not exist.</summary>
public sealed class ContainerNotFoundException(string message) : ContainerException(message);

/// <summary>A request that conflicts with the current state (a name in use, removing a running container, a port taken).</summary>
public sealed class ContainerConflictException(string message) : ContainerException(message);

/// <summary>A specification that cannot be run as given (an invalid memory size, an unknown user, a bad port spec).</summary>
public sealed class InvalidContainerSpecException(string message) : ContainerException(message);

/// <summary>
/// The container could not be started: the shim failed at <see cref="Step"/> with <see cref="Errno"/>.
/// <see cref="ExitCode"/> follows docker: 127 when the command was not found, 126 when it cannot be executed, else 125.
/// </summary>
public sealed class ContainerStartException(string message, string step, int errno, int exitCode) : ContainerException(message)
{
    /// <summary>The setup step that failed (e.g. "mount rootfs overlay", "exec").</summary>
    public string Step { get; } = step;

    /// <summary>The errno of the failing call, 0 when none.</summary>
    public int Errno { get; } = errno;

    /// <summary>The exit code docker's CLI uses for this failure.</summary>
    public int ExitCode { get; } = exitCode;
}
