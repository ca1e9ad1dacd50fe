namespace Containers.DevContainers;

/// <summary>A dev container could not be read, built or brought up: the message names the file, field, feature or command.</summary>
public class DevContainerException : ContainerException
{
    /// <summary>Creates the exception with a message.</summary>
    public DevContainerException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public DevContainerException(string message, Exception? inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// A lifecycle command (onCreateCommand, postCreateCommand, ...) failed. The container is left as it is, for inspection,
/// as the reference implementation leaves it.
/// </summary>
public sealed class DevContainerCommandException : DevContainerException
{
    /// <summary>Creates the exception for <paramref name="commandName"/>'s <paramref name="command"/> exiting with <paramref name="exitCode"/>.</summary>
    public DevContainerCommandException(string commandName, string command, int exitCode, string containerId)
        : base($"{commandName} failed: '{command}' exited with code {exitCode} (the container {containerId[..Math.Min(12, containerId.Length)]} is left for inspection)")
    {
        CommandName = commandName;
        Command = command;
        ExitCode = exitCode;
        ContainerId = containerId;
    }

    /// <summary>The lifecycle property: postCreateCommand, for example.</summary>
    public string CommandName { get; }

    /// <summary>The command as written.</summary>
    public string Command { get; }

    /// <summary>Its exit code.</summary>
    public int ExitCode { get; }

    /// <summary>The container the command ran in.</summary>
    public string ContainerId { get; }
}
