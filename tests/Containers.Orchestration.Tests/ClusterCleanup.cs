using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>How a test on real containers ends its cluster (shared with the dashboard's tests as a linked file).</summary>
internal static class ClusterCleanup
{
    /// <summary>Stops <paramref name="cluster"/> and removes its pods' containers, then its pod network (the test engine then checks that nothing is left).</summary>
    public static async Task RemoveAsync(Cluster cluster, TestEngine te)
    {
        await cluster.RemoveWorkloadsAsync();
        await cluster.DisposeAsync();
        for (int i = 0; ; i++)
        {
            foreach (var c in te.Engine.List(all: true))
            {
                await te.Engine.Get(c.Id).RemoveAsync(force: true);
            }

            try
            {
                te.Engine.Networks.Remove(cluster.Options.PodNetwork);
                return;
            }
            catch (ContainerConflictException) when (i < 50)
            {
                await Task.Delay(100);
            }
        }
    }
}
