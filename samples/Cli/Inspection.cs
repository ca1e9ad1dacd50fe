using System.Globalization;
using System.Text.Json.Nodes;
using Containers;
using Containers.Runtime;

namespace Containers.Cli;

/// <summary>The docker-shaped JSON of <c>containers inspect</c> (built as a JSON tree: no reflection, NativeAOT-safe).</summary>
internal static class Inspection
{
    public static JsonObject Of(ContainerEngine engine, ContainerState s) => new()
    {
        ["Id"] = s.Id,
        ["Created"] = Time(s.Created),
        ["Path"] = s.Spec.Command.FirstOrDefault(),
        ["Args"] = Strings(s.Spec.Command.Skip(1)),
        ["State"] = new JsonObject
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
            ["StartedAt"] = Time(s.StartedAt),
            ["FinishedAt"] = Time(s.FinishedAt),
            ["Health"] = s.Health is { } h ? new JsonObject
            {
                ["Status"] = h.Status,
                ["FailingStreak"] = h.FailingStreak,
                ["Log"] = new JsonArray([.. h.Log.Select(l => (JsonNode)new JsonObject { ["Start"] = Time(l.Start), ["End"] = Time(l.End), ["ExitCode"] = l.ExitCode, ["Output"] = l.Output })]),
            } : null,
        },
        ["Image"] = s.Spec.ImageId ?? s.Spec.Image ?? "",
        ["Name"] = "/" + s.Name,
        ["RestartCount"] = s.RestartCount,
        ["LogPath"] = Path.Combine(engine.Root, "containers", s.Id, s.Id + "-json.log"),
        ["HostConfig"] = new JsonObject
        {
            ["NetworkMode"] = s.Spec.NetworkMode,
            ["RestartPolicy"] = new JsonObject { ["Name"] = s.Spec.Restart.Name, ["MaximumRetryCount"] = s.Spec.Restart.MaximumRetryCount },
            ["AutoRemove"] = s.Spec.AutoRemove,
            ["ReadonlyRootfs"] = s.Spec.ReadOnlyRootfs,
            ["CapAdd"] = Strings(s.Spec.CapAdd),
            ["CapDrop"] = Strings(s.Spec.CapDrop),
            ["Memory"] = s.Spec.Resources.MemoryBytes ?? 0,
            ["MemorySwap"] = s.Spec.Resources.MemorySwapBytes ?? 0,
            ["NanoCpus"] = s.Spec.Resources.NanoCpus ?? 0,
            ["CpuShares"] = s.Spec.Resources.CpuShares ?? 0,
            ["PidsLimit"] = s.Spec.Resources.PidsLimit,
            ["Binds"] = Strings(s.Spec.Mounts.Where(m => m.Type == MountType.Bind).Select(m => $"{m.Source}:{m.Target}{(m.ReadOnly ? ":ro" : "")}")),
            ["Tmpfs"] = new JsonObject(s.Spec.Mounts.Where(m => m.Type == MountType.Tmpfs).Select(m => KeyValuePair.Create(m.Target, (JsonNode?)(m.TmpfsOptions ?? "")))),
        },
        ["Config"] = new JsonObject
        {
            ["Hostname"] = s.Spec.Hostname ?? s.Id[..12],
            ["User"] = s.Spec.User ?? "",
            ["Env"] = Strings(s.Spec.Environment),
            ["Cmd"] = Strings(s.Spec.Command),
            ["WorkingDir"] = s.Spec.WorkingDirectory ?? "",
            ["Tty"] = s.Spec.Tty,
            ["OpenStdin"] = s.Spec.OpenStdin,
            ["Labels"] = new JsonObject(s.Spec.Labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["StopSignal"] = s.Spec.StopSignal,
            ["StopTimeout"] = (int)s.Spec.StopTimeout.TotalSeconds,
        },
        ["NetworkSettings"] = new JsonObject
        {
            ["IPAddress"] = s.IPAddress ?? "",
            ["Gateway"] = s.Gateway ?? "",
            ["Networks"] = new JsonObject(s.Spec.EffectiveNetworks().Select(n => KeyValuePair.Create(n.Network, (JsonNode?)NetworkCommands.Endpoint(n, s.Networks.FirstOrDefault(e => e.Network == n.Network))))),
            ["Ports"] = new JsonObject(s.Ports.GroupBy(p => $"{p.ContainerPort}/{p.Protocol}").Select(g => KeyValuePair.Create(g.Key, (JsonNode?)new JsonArray(
                [.. g.Select(p => (JsonNode?)new JsonObject { ["HostIp"] = p.HostIp, ["HostPort"] = p.HostPort.ToString(CultureInfo.InvariantCulture) })])))),
        },
        ["Rootfs"] = s.Spec.Rootfs,
    };

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)v)]);

    private static string? Time(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}
