using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>
/// A one-node cluster whose pods only the <see cref="RecordingPodRuntime"/> runs (no containers), in a root of its
/// own that disposing removes: the control plane alone, for tests of the API.
/// </summary>
public abstract class RecordedCluster : IAsyncLifetime
{
    /// <summary>The cluster's root directory.</summary>
    protected string Root { get; } = Path.Combine(Path.GetTempPath(), "containers-api-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>The running cluster.</summary>
    protected Cluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        try
        {
            Cluster = await Configure(new ClusterBuilder(Root).WithNodes(1).WithPort(0).WithRuntime(new RecordingPodRuntime())).StartAsync();
        }
        catch
        {
            Directory.Delete(Root, recursive: true); // xunit does not call DisposeAsync after a failed InitializeAsync
            throw;
        }
    }

    /// <summary>What a test class adds to the cluster (the root exists by then).</summary>
    protected virtual ClusterBuilder Configure(ClusterBuilder builder) => builder;

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Directory.Delete(Root, recursive: true);
    }
}
