namespace Containers;

/// <summary>What the host machine says of itself, for the documents that report it (docker info, a Node's status).</summary>
public static class HostInfo
{
    /// <summary>A field of /etc/os-release (<c>VERSION_ID</c>, <c>PRETTY_NAME</c>), unquoted; null when there is none.</summary>
    public static string? OsRelease(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        try
        {
            var prefix = key + "=";
            var line = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            return line?[prefix.Length..].Trim('"');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
