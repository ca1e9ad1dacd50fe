using System.Runtime.CompilerServices;

namespace CourseStack.Tests;

/// <summary>
/// The engine makes the <c>containers-dotnet</c> parent cgroups on demand and leaves them for the next container: at
/// the end of this test run they are removed when empty (a parent still holding a container's cgroup stays).
/// </summary>
internal static class CgroupParents
{
    [ModuleInitializer]
    internal static void RemoveWhenEmptyAtExit() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var hierarchy in Directory.EnumerateDirectories("/sys/fs/cgroup"))
        {
            try
            {
                Directory.Delete(Path.Combine(hierarchy, "containers-dotnet"));
            }
            catch (IOException)
            {
                // absent, or not empty
            }
        }
    };
}
