namespace Containers.Images.Registry;

/// <summary>Reads <c>auths</c> from docker's config.json (what <c>docker login</c> writes).</summary>
internal static class DockerConfig
{
    public static RegistryCredentials? Find(string? path, string registry)
    {
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ImageException($"{path}: not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (!doc.RootElement.TryGetProperty("auths", out var auths) || auths.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            foreach (var entry in auths.EnumerateObject())
            {
                if (!Matches(entry.Name, registry))
                {
                    continue;
                }

                if (entry.Value.TryGetProperty("auth", out var auth) && auth.GetString() is { Length: > 0 } encoded)
                {
                    string decoded;
                    try
                    {
                        decoded = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
                    }
                    catch (FormatException)
                    {
                        throw new ImageException($"{path}: auths.\"{entry.Name}\".auth is not base64");
                    }

                    var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                    return colon < 0
                        ? throw new ImageException($"{path}: auths.\"{entry.Name}\".auth is not user:password")
                        : new RegistryCredentials(decoded[..colon], decoded[(colon + 1)..]);
                }

                if (entry.Value.TryGetProperty("username", out var u) && entry.Value.TryGetProperty("password", out var p))
                {
                    return new RegistryCredentials(u.GetString() ?? "", p.GetString() ?? "");
                }
            }
        }

        return null;
    }

    private static bool Matches(string key, string registry)
    {
        var host = key;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            host = host[(scheme + 3)..];
        }

        host = host.Split('/')[0];
        return host == registry || (registry == ImageReference.DockerHub && host is "index.docker.io" or "registry-1.docker.io");
    }
}
