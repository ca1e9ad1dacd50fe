using Containers;
using Containers.Runtime;

namespace Containers.Cli;

/// <summary>The docker-shaped JSON of <c>containers inspect</c>.</summary>
internal static class Inspection
{
    public static Dictionary<string, object?> Of(ContainerEngine engine, ContainerState s) => new()
    {
        ["Id"] = s.Id,
        ["Created"] = s.Created,
        ["Path"] = s.Spec.Command.FirstOrDefault(),
        ["Args"] = s.Spec.Command.Skip(1).ToArray(),
        ["State"] = new Dictionary<string, object?>
        {
            ["Status"] = s.Status.ToString().ToLowerInvariant(),
            ["Running"] = s.Status is ContainerStatus.Running or ContainerStatus.Paused,
            ["Paused"] = s.Status == ContainerStatus.Paused,
            ["Restarting"] = s.Status == ContainerStatus.Restarting,
            ["OOMKilled"] = s.OomKilled,
            ["Dead"] = s.Status == ContainerStatus.Dead,
            ["Pid"] = s.Pid,
            ["ExitCode"] = s.ExitCode,
            ["Error"] = s.Error ?? "",
            ["StartedAt"] = s.StartedAt,
            ["FinishedAt"] = s.FinishedAt,
        },
        ["Image"] = s.Spec.Image ?? "",
        ["Name"] = "/" + s.Name,
        ["RestartCount"] = s.RestartCount,
        ["LogPath"] = Path.Combine(engine.Root, "containers", s.Id, s.Id + "-json.log"),
        ["HostConfig"] = new Dictionary<string, object?>
        {
            ["NetworkMode"] = s.Spec.NetworkMode,
            ["RestartPolicy"] = new { s.Spec.Restart.Name, s.Spec.Restart.MaximumRetryCount },
            ["AutoRemove"] = s.Spec.AutoRemove,
            ["ReadonlyRootfs"] = s.Spec.ReadOnlyRootfs,
            ["CapAdd"] = s.Spec.CapAdd,
            ["CapDrop"] = s.Spec.CapDrop,
            ["Memory"] = s.Spec.Resources.MemoryBytes ?? 0,
            ["MemorySwap"] = s.Spec.Resources.MemorySwapBytes ?? 0,
            ["NanoCpus"] = s.Spec.Resources.NanoCpus ?? 0,
            ["CpuShares"] = s.Spec.Resources.CpuShares ?? 0,
            ["PidsLimit"] = s.Spec.Resources.PidsLimit,
            ["Binds"] = s.Spec.Mounts.Where(m => m.Type == MountType.Bind).Select(m => $"{m.Source}:{m.Target}{(m.ReadOnly ? ":ro" : "")}").ToArray(),
            ["Tmpfs"] = s.Spec.Mounts.Where(m => m.Type == MountType.Tmpfs).ToDictionary(m => m.Target, m => m.TmpfsOptions ?? ""),
        },
        ["Config"] = new Dictionary<string, object?>
        {
            ["Hostname"] = s.Spec.Hostname ?? s.Id[..12],
            ["User"] = s.Spec.User ?? "",
            ["Env"] = s.Spec.Environment,
            ["Cmd"] = s.Spec.Command,
            ["WorkingDir"] = s.Spec.WorkingDirectory ?? "",
            ["Tty"] = s.Spec.Tty,
            ["OpenStdin"] = s.Spec.OpenStdin,
            ["Labels"] = s.Spec.Labels,
            ["StopSignal"] = s.Spec.StopSignal,
            ["StopTimeout"] = (int)s.Spec.StopTimeout.TotalSeconds,
        },
        ["NetworkSettings"] = new Dictionary<string, object?>
        {
            ["IPAddress"] = s.IPAddress ?? "",
            ["Gateway"] = s.Gateway ?? "",
            ["Ports"] = s.Ports.GroupBy(p => $"{p.ContainerPort}/{p.Protocol}").ToDictionary(g => g.Key, g => g.Select(p => new { HostIp = p.HostIp, HostPort = p.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToArray()),
        },
        ["Rootfs"] = s.Spec.Rootfs,
    };
}
