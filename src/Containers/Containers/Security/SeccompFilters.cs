using Containers.Runtime;

namespace Containers.Security;

/// <summary>The seccomp filter a container's processes run under: Docker's default profile unless the spec names another or none.</summary>
internal static class SeccompFilters
{
    /// <summary>The compiled filter for <paramref name="spec"/> with <paramref name="capabilities"/> (numbers); null when unconfined or privileged (as Docker).</summary>
    /// <exception cref="InvalidContainerSpecException">The spec's profile is not a valid profile.</exception>
    /// <remarks>
    /// With <paramref name="cacheDirectory"/>, the filter of Docker's default profile is kept there between processes
    /// (named after this build of the library and the capability set): parsing and compiling it takes a process 5 ms
    /// here, most of a CLI's <c>run</c> that is not the kernel's. A file that is not a whole program is compiled again.
    /// </remarks>
    public static byte[]? For(ContainerSpec spec, IReadOnlyList<int> capabilities, string? cacheDirectory = null)
    {
        if (spec.SeccompProfile == ContainerSpec.SeccompUnconfined || spec.Privileged)
        {
            return null;
        }

        var names = new List<string>();
        foreach (var c in capabilities)
        {
            if (c < Capabilities.All.Count)
            {
                names.Add("CAP_" + Capabilities.All[c]);
            }
        }

        if (spec.SeccompProfile is not null)
        {
            return SeccompCompiler.Compile(Parsed(spec.SeccompProfile), names);
        }

        if (cacheDirectory is null)
        {
            return SeccompCompiler.Compile(SeccompProfile.Default, names);
        }

        names.Sort(StringComparer.Ordinal);
        string file = Path.Combine(cacheDirectory, $"default-{Build:N}-{Fnv1a(string.Join(',', names)):x16}.bpf");
        try
        {
            var cached = File.ReadAllBytes(file);
            if (cached.Length > 0 && cached.Length % 8 == 0)
            {
                return cached;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        var program = SeccompCompiler.Compile(SeccompProfile.Default, names);
        try
        {
            if (Path.GetDirectoryName(Path.GetFullPath(cacheDirectory)) is { } parent && !Directory.Exists(parent))
            {
                return program; // the store went meanwhile (a start that failed, its root deleted): not made again by a cache
            }

            Directory.CreateDirectory(cacheDirectory);
            string temp = file + "." + Environment.ProcessId + ".tmp";
            File.WriteAllBytes(temp, program);
            File.Move(temp, file, overwrite: true);
        }
        catch (IOException)
        {
            // a full disk or a read-only root: compiled again next time
        }
        catch (UnauthorizedAccessException)
        {
        }

        return program;
    }

    /// <summary>This build of the library (the default profile and the compiler are compiled into it).</summary>
    private static readonly Guid Build = typeof(SeccompFilters).Module.ModuleVersionId;

    private static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037;
        foreach (char ch in text)
        {
            hash = (hash ^ ch) * 1099511628211;
        }

        return hash;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SeccompProfile> Profiles = new(StringComparer.Ordinal);

    /// <summary>A profile given as JSON text, parsed once.</summary>
    public static SeccompProfile Parsed(string json) => Profiles.GetOrAdd(json, j => SeccompProfile.Parse(j, "given with --security-opt seccomp"));
}
