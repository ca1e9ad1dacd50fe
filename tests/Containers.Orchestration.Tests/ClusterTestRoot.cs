namespace Containers.Tests.Orchestration;

/// <summary>
/// What the cluster test classes share: a root directory of the test's own (made before, removed after), manifests
/// written into it, and polling until a condition holds.
/// </summary>
public abstract class ClusterTestRoot : IAsyncLifetime
{
    /// <summary>The test's root directory.</summary>
    protected string Root { get; }

    /// <summary>A root named after <paramref name="prefix"/>.</summary>
    protected ClusterTestRoot(string prefix) => Root = Path.Combine(Path.GetTempPath(), $"containers-{prefix}-" + Guid.NewGuid().ToString("N")[..12]);

    public virtual Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        return Task.CompletedTask;
    }

    public virtual Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Writes <paramref name="yaml"/> to ROOT/NAME.yaml and returns its path.</summary>
    protected string Manifest(string name, string yaml)
    {
        string path = Path.Combine(Root, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> after <paramref name="seconds"/>.</summary>
    protected static async Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !await condition(); await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "waited for " + what);
        }
    }

    /// <summary>Polls <paramref name="condition"/> until it holds.</summary>
    protected static Task UntilAsync(Func<bool> condition, string what, int seconds = 60) => UntilAsync(() => Task.FromResult(condition()), what, seconds);
}
