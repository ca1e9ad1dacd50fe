namespace Containers;

/// <summary>
/// What kind of failure an error is, as containerd's errdefs: callers (the Docker API, the Kubernetes API, the CLI)
/// decide on the kind, never on the text of a message. <see cref="ErrorKinds"/> maps each kind to its codes.
/// </summary>
public enum ErrorKind
{
    /// <summary>Anything not classified: an internal error.</summary>
    Unknown,

    /// <summary>The object does not exist.</summary>
    NotFound,

    /// <summary>The request conflicts with the current state (a name in use, a running container, a port taken).</summary>
    Conflict,

    /// <summary>The request is malformed or names an impossible value.</summary>
    InvalidArgument,

    /// <summary>The request is refused whatever the state (removing a pre-defined network).</summary>
    Forbidden,

    /// <summary>Something the request needs is not reachable now (a registry, a daemon).</summary>
    Unavailable,
}

/// <summary>One table from error kinds to the codes the SDK's servers answer with (containerd's pkg/http ToHTTP, and kube-apiserver's Status reasons).</summary>
public static class ErrorKinds
{
    /// <summary>The HTTP status of a kind (the Docker Engine API's, as dockerd's errdefs map them).</summary>
    public static int HttpStatus(ErrorKind kind) => kind switch
    {
        ErrorKind.NotFound => 404,
        ErrorKind.Conflict => 409,
        ErrorKind.InvalidArgument => 400,
        ErrorKind.Forbidden => 403,
        ErrorKind.Unavailable => 503,
        _ => 500,
    };

    /// <summary>The Kubernetes Status reason of a kind (metav1.StatusReason).</summary>
    public static string KubernetesReason(ErrorKind kind) => kind switch
    {
        ErrorKind.NotFound => "NotFound",
        ErrorKind.Conflict => "Conflict",
        ErrorKind.InvalidArgument => "BadRequest",
        ErrorKind.Forbidden => "Forbidden",
        ErrorKind.Unavailable => "ServiceUnavailable",
        _ => "InternalError",
    };

    /// <summary>The kind of any exception: a <see cref="ContainerException"/>'s own, invalid data and formats as InvalidArgument, else Unknown.</summary>
    public static ErrorKind Of(Exception e) => e switch
    {
        ContainerException c => c.Kind,
        FormatException or System.Text.Json.JsonException or InvalidDataException => ErrorKind.InvalidArgument,
        _ => ErrorKind.Unknown,
    };
}

/// <summary>The base of every error the SDK reports: the message says what failed and where, <see cref="Kind"/> what kind of failure it is.</summary>
public class ContainerException : Exception
{
    /// <summary>What kind of failure it is (Unknown unless a subclass says).</summary>
    public virtual ErrorKind Kind => ErrorKind.Unknown;

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
public sealed class ContainerNotFoundException(string message) : ContainerException(message)
{
    /// <inheritdoc/>
    public override ErrorKind Kind => ErrorKind.NotFound;
}

/// <summary>
/// A request that conflicts with the current state (a name in use, removing a running container, a port taken), or,
/// with <see cref="ErrorKind.Forbidden"/>, one that no state would allow (removing the pre-defined bridge network).
/// </summary>
public sealed class ContainerConflictException(string message, ErrorKind kind = ErrorKind.Conflict) : ContainerException(message)
{
    /// <inheritdoc/>
    public override ErrorKind Kind { get; } = kind;
}

/// <summary>A specification that cannot be run as given (an invalid memory size, an unknown user, a bad port spec).</summary>
public sealed class InvalidContainerSpecException(string message) : ContainerException(message)
{
    /// <inheritdoc/>
    public override ErrorKind Kind => ErrorKind.InvalidArgument;
}

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
