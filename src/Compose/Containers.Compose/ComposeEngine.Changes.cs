using System.Security.Cryptography;
using System.Text;

namespace Containers.Compose;

/// <summary>What decides a recreate: the configuration hash of a service and the differences a plan names.</summary>
public sealed partial class ComposeEngine
{
    /// <summary>The configuration hash: the service's resolved definition, its image ID and its networks' real names.</summary>
    public static string Hash(ComposeProject project, ServiceConfig svc, string? imageId)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(svc);
        var text = new StringBuilder(svc.Definition.ToJsonString());
        text.Append('\n').Append(imageId);
        foreach (var n in svc.Networks.Keys)
        {
            text.Append('\n').Append(project.Networks[n].Name);
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private string Differences(ContainerState c, ComposeProject project, ServiceConfig svc)
    {
        var image = engine.Images.Find(ImageName(project, svc));
        var want = Spec(project, svc, 1, "");
        var diffs = new List<string>();
        void Check<T>(string field, T a, T b)
        {
            if (!EqualityComparer<T>.Default.Equals(a, b))
            {
                diffs.Add(field);
            }
        }

        Check("image", c.Spec.ImageId, image?.Id.ToString());
        Check("command", string.Join(' ', c.Spec.Command), string.Join(' ', want.Command.IsEmpty ? c.Spec.Command : want.Command));
        Check("environment", string.Join(',', c.Spec.Environment.Where(e => want.Environment.Contains(e))), string.Join(',', want.Environment));
        Check("ports", string.Join(',', c.Spec.Ports), string.Join(',', want.Ports));
        Check("volumes", string.Join(',', c.Spec.Mounts.Where(m => m.Source.Length > 0 || m.Type != MountType.Volume)), string.Join(',', want.Mounts.Where(m => m.Source.Length > 0 || m.Type != MountType.Volume)));
        Check("networks", string.Join(',', c.Spec.Networks), string.Join(',', want.Networks));
        Check("labels", string.Join(',', svc.Labels.Select(kv => c.Spec.Labels.GetValueOrDefault(kv.Key))), string.Join(',', svc.Labels.Values));
        Check("restart", c.Spec.Restart, want.Restart);
        Check("healthcheck", c.Spec.HealthCheck?.Test.Length, want.HealthCheck?.Test.Length);
        return diffs.Count > 0 ? string.Join(", ", diffs) : "definition";
    }
}
