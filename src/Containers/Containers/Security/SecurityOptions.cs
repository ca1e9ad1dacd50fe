namespace Containers.Security;

/// <summary>
/// Docker's <c>--security-opt</c> values (also HostConfig.SecurityOpt and compose's security_opt):
/// <c>no-new-privileges[:true|=true]</c>, <c>seccomp=unconfined</c>, and <c>seccomp=PROFILE</c>, where PROFILE is a
/// file (read through <c>readFile</c>) or, as the docker CLI sends it, the profile's JSON itself.
/// </summary>
public static class SecurityOptions
{
    /// <summary>The spec with the options applied.</summary>
    /// <exception cref="InvalidContainerSpecException">An option is unknown, or the profile cannot be read or is not a profile.</exception>
    public static ContainerSpec Apply(ContainerSpec spec, IEnumerable<string> options, Func<string, string>? readFile = null)
    {
        foreach (string option in options)
        {
            if (option is "no-new-privileges" or "no-new-privileges:true" or "no-new-privileges=true")
            {
                spec = spec with { NoNewPrivileges = true };
            }
            else if (option is "no-new-privileges:false" or "no-new-privileges=false")
            {
                spec = spec with { NoNewPrivileges = false };
            }
            else if (option.StartsWith("seccomp=", StringComparison.Ordinal) || option.StartsWith("seccomp:", StringComparison.Ordinal))
            {
                string value = option["seccomp=".Length..];
                if (value == ContainerSpec.SeccompUnconfined)
                {
                    spec = spec with { SeccompProfile = value };
                    continue;
                }

                string json = value.TrimStart().StartsWith('{') ? value : Read(value, readFile);
                _ = SeccompFilters.Parsed(json);
                spec = spec with { SeccompProfile = json };
            }
            else
            {
                throw new InvalidContainerSpecException($"invalid --security-opt: \"{option}\" (no-new-privileges, seccomp=unconfined or seccomp=PROFILE.json)");
            }
        }

        return spec;
    }

    private static string Read(string path, Func<string, string>? readFile)
    {
        try
        {
            return (readFile ?? File.ReadAllText)(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidContainerSpecException($"opening seccomp profile ({path}) failed: {e.Message}");
        }
    }
}
