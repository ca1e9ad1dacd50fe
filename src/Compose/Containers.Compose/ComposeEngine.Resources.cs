using System.Security.Cryptography;
using Containers.Networking;

namespace Containers.Compose;

/// <summary>The networks and volumes of a project that up makes, and what a failed up made and removes again.</summary>
public sealed partial class ComposeEngine
{
    private void EnsureNetworks(ComposeProject project, ImmutableDictionary<string, string> extraLabels, Made made, IProgress<string>? progress)
    {
        foreach (var (key, n) in project.Networks)
        {
            var exists = engine.Networks.List().Any(x => x.Name == n.Name);
            if (n.External)
            {
                if (!exists)
                {
                    throw new ComposeException($"network {n.Name} declared as external, but could not be found");
                }

                continue;
            }

            if (!exists)
            {
                progress?.Report($"Network {n.Name}  Creating");
                engine.Networks.Create(n.Name, new NetworkCreateOptions
                {
                    Subnet = n.Subnet,
                    Gateway = n.Gateway,
                    Internal = n.Internal,
                    Labels = n.Labels.ToImmutableDictionary().SetItem(ProjectLabel, project.Name).SetItem("com.docker.compose.network", key).SetItems(extraLabels),
                });
                made.Networks.Add(n.Name);
                progress?.Report($"Network {n.Name}  Created");
            }
        }
    }

    private void EnsureVolumes(ComposeProject project, ImmutableDictionary<string, string> extraLabels, Made made, IProgress<string>? progress)
    {
        foreach (var (key, v) in project.Volumes)
        {
            var exists = engine.Volumes.List().Any(x => x.Name == v.Name);
            if (v.External && !exists)
            {
                throw new ComposeException($"external volume \"{v.Name}\" not found");
            }

            if (!exists)
            {
                progress?.Report($"Volume {v.Name}  Creating");
                engine.Volumes.Create(v.Name, v.Labels.ToImmutableDictionary().SetItem(ProjectLabel, project.Name).SetItem("com.docker.compose.volume", key).SetItems(extraLabels), v.Driver, v.DriverOptions);
                made.Volumes.Add(v.Name);
            }
        }
    }

    /// <summary>What one up made, to undo on failure.</summary>
    private sealed class Made
    {
        public List<string> Containers { get; } = [];

        public List<string> Networks { get; } = [];

        public List<string> Volumes { get; } = [];

        public async Task UndoAsync(ContainerEngine engine)
        {
            foreach (var id in Containers)
            {
                try
                {
                    await engine.Get(id).RemoveAsync(force: true).ConfigureAwait(false);
                }
                catch (ContainerNotFoundException)
                {
                }
            }

            foreach (var n in Networks)
            {
                try
                {
                    engine.Networks.Remove(n);
                }
                catch (ContainerException)
                {
                }
            }

            foreach (var v in Volumes)
            {
                try
                {
                    engine.Volumes.Remove(v, force: true);
                }
                catch (ContainerException)
                {
                }
            }
        }
    }
}
