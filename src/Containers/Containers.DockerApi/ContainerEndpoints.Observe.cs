using Containers.DockerApi.Models;
using Containers.Runtime.Cgroups;

namespace Containers.DockerApi;

/// <summary>The container endpoints that watch a container: logs, top, stats.</summary>
internal sealed partial class ContainerEndpoints
{
    /// <summary>GET /containers/{id}/logs: the json log as Docker's multiplexed stream (raw with a TTY), with follow, tail, since, until, timestamps.</summary>
    public async Task LogsAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var q = ctx.Request.Query;
        bool Flag(string k) => DockerApiServer.Flag(q, k);
        var wantOut = Flag("stdout");
        var wantErr = Flag("stderr");
        if (!wantOut && !wantErr)
        {
            await DockerApiServer.Error(ctx, 400, "Bad parameters: you must choose at least one stream").ConfigureAwait(false);
            return;
        }

        var tty = c.State.Spec.Tty;
        int? tail = q["tail"].ToString() is { Length: > 0 } t && t != "all" ? int.TryParse(t, CultureInfo.InvariantCulture, out var n) ? n : null : null;
        var since = Seconds(q["since"]);
        var until = Seconds(q["until"]);
        ctx.Response.ContentType = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        await ctx.Response.StartAsync().ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync().ConfigureAwait(false);
        var frames = new FrameWriter(ctx.Response.Body, tty);
        try
        {
            await foreach (var e in c.GetLogsAsync(Flag("follow"), tail, ctx.RequestAborted).ConfigureAwait(false))
            {
                if (since is { } from && e.Time < from)
                {
                    continue;
                }

                if (until is { } to && e.Time > to)
                {
                    break;
                }

                await StreamEndpoints.WriteEntryAsync(frames, e, wantOut, wantErr, Flag("timestamps"), ctx.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static DateTimeOffset? Seconds(string? value) =>
        decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s != 0 ? DateTimeOffset.UnixEpoch.AddTicks((long)(s * TimeSpan.TicksPerSecond)) : null;

    /// <summary>GET /containers/{id}/top: the container's processes, as ps -ef would show them.</summary>
    public async Task TopAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        if (!c.State.IsActive)
        {
            await DockerApiServer.Error(ctx, 409, $"container {c.Id} is not running").ConfigureAwait(false);
            return;
        }

        var ticks = 100.0;
        var boot = DateTimeOffset.UtcNow - TimeSpan.FromSeconds(double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture));
        var rows = new List<List<string>>();
        foreach (var pid in c.GetProcesses().Order())
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var close = stat.LastIndexOf(')');
                var f = stat[(close + 2)..].Split(' ');
                var uid = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
                var cmd = File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0').Replace('\0', ' ');
                var cpu = TimeSpan.FromSeconds((long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / ticks);
                var started = boot + TimeSpan.FromSeconds(long.Parse(f[19], CultureInfo.InvariantCulture) / ticks);
                rows.Add([
                    uid == "0" ? "root" : uid,
                    pid.ToString(CultureInfo.InvariantCulture),
                    f[1],
                    "0",
                    started.ToLocalTime().ToString("HH:mm", CultureInfo.InvariantCulture),
                    "?",
                    $"{(int)cpu.TotalHours:00}:{cpu.Minutes:00}:{cpu.Seconds:00}",
                    cmd.Length > 0 ? cmd : "[" + stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close] + "]"]);
            }
            catch (Exception e) when (e is IOException or FormatException or InvalidOperationException or IndexOutOfRangeException)
            {
                // it exited meanwhile
            }
        }

        await DockerApiServer.Json(ctx, new ContainerTopResponse { Titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], Processes = rows }, j => j.ContainerTopResponse).ConfigureAwait(false);
    }

    /// <summary>GET /containers/{id}/stats: Docker's stats object, once (stream=false, with a 500 ms earlier sample as precpu unless one-shot) or every second.</summary>
    public async Task StatsAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var q = ctx.Request.Query;
        var stream = DockerApiServer.Flag(q, "stream", absent: true);
        var oneShot = DockerApiServer.Flag(q, "one-shot");
        ctx.Response.ContentType = "application/json";
        (CgroupStats? Stats, long System, DateTimeOffset At) Sample()
        {
            CgroupStats? stats = null;
            try
            {
                stats = c.State.IsActive ? c.GetStatsAsync().GetAwaiter().GetResult() : null;
            }
            catch (ContainerException)
            {
            }

            return (stats, SystemCpuNanoseconds(), DateTimeOffset.UtcNow);
        }

        var previous = Sample();
        if (!stream && !oneShot)
        {
            await Task.Delay(500, ctx.RequestAborted).ConfigureAwait(false);
        }

        try
        {
            while (true)
            {
                var now = Sample();
                await ctx.Response.WriteAsync(DockerJsonContext.Serialize(StatsJson(c, now, previous), j => j.ContainerStatsResponse) + "\n", ctx.RequestAborted).ConfigureAwait(false);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted).ConfigureAwait(false);
                if (!stream || now.Stats is null)
                {
                    break;
                }

                previous = now;
                await Task.Delay(1000, ctx.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static ContainerStatsResponse StatsJson(Container c, (CgroupStats? Stats, long System, DateTimeOffset At) now, (CgroupStats? Stats, long System, DateTimeOffset At) pre)
    {
        ContainerCPUStats Cpu((CgroupStats? Stats, long System, DateTimeOffset At) x) => new()
        {
            CpuUsage = new ContainerCPUUsage { TotalUsage = x.Stats?.CpuUsageNanoseconds ?? 0, UsageInUsermode = x.Stats?.CpuUsageNanoseconds ?? 0 },
            SystemCpuUsage = x.System,
            OnlineCpus = Environment.ProcessorCount,
        };
        var s = now.Stats;
        return new ContainerStatsResponse
        {
            Name = "/" + c.Name,
            Id = c.Id,
            Read = Time(now.At),
            Preread = Time(pre.At),
            PidsStats = s is null ? new() : new ContainerPidsStats { Current = s.Pids, Limit = s.PidsLimit },
            CpuStats = Cpu(now),
            PrecpuStats = Cpu(pre),
            MemoryStats = s is null ? new() : new ContainerMemoryStats { Usage = s.MemoryUsageBytes, MaxUsage = s.MemoryPeakBytes, Limit = s.MemoryLimitBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, Stats = [] },
        };
    }

    /// <summary>/proc/stat's total of all CPUs in nanoseconds (Docker's system_cpu_usage).</summary>
    private static long SystemCpuNanoseconds()
    {
        var line = File.ReadLines("/proc/stat").First();
        var total = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(7).Sum(v => long.Parse(v, CultureInfo.InvariantCulture));
        return total * (1_000_000_000 / 100);
    }
}
