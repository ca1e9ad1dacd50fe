namespace Containers.Helm;

/// <summary>A Helm operation that failed: the message is Helm's ("cannot re-use a name that is still in use", "another operation (install/upgrade/rollback) is in progress", ...).</summary>
public class HelmException(string message, Exception? inner = null) : Exception(message, inner);
