using Containers.Runtime;

namespace Containers.Security;

/// <summary>The seccomp filter a container's processes run under: Docker's default profile unless the spec names another or none.</summary>
internal static class SeccompFilters
{
    /// <summary>The compiled filter for <paramref name="spec"/> with <paramref name="capabilities"/> (numbers); null when unconfined or privileged (as Docker).</summary>
    /// <exception cref="InvalidContainerSpecException">The spec's profile is not a valid profile.</exception>
    public static byte[]? For(ContainerSpec spec, IReadOnlyList<int> capabilities)
    {
        if (spec.SeccompProfile == ContainerSpec.SeccompUnconfined || spec.Privileged)
        {
            return null;
        }

        var profile = spec.SeccompProfile is null ? SeccompProfile.Default : Parsed(spec.SeccompProfile);
        var names = capabilities.Where(c => c < Capabilities.All.Count).Select(c => "CAP_" + Capabilities.All[c]).ToList();
        return SeccompCompiler.Compile(profile, names);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SeccompProfile> Profiles = new(StringComparer.Ordinal);

    /// <summary>A profile given as JSON text, parsed once.</summary>
    public static SeccompProfile Parsed(string json) => Profiles.GetOrAdd(json, j => SeccompProfile.Parse(j, "given with --security-opt seccomp"));
}
