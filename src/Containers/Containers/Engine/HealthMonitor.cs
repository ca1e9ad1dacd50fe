namespace Containers;

/// <summary>
/// Runs a container's health check as docker does: exec'd in the container every interval (the start interval
/// during the start period, when failures do not count), unhealthy after Retries consecutive failures; the state
/// and the last five results are kept with the container (inspect's State.Health).
/// </summary>
internal static class HealthMonitor
{
    private const int MaxOutput = 4096;

    public static Func<string, CancellationToken, Task> Companion(RuntimeContext ctx) => (id, ct) => RunAsync(ctx, id, ct);

    private static async Task RunAsync(RuntimeContext ctx, string id, CancellationToken ct)
    {
        var check = ctx.Store.Read(id)?.Spec.HealthCheck;
        if (check is null || check.IsDisabled)
        {
            return;
        }

        var started = ctx.Time.GetUtcNow();
        while (!ct.IsCancellationRequested)
        {
            var inStartPeriod = ctx.Time.GetUtcNow() - started < check.StartPeriod;
            await Task.Delay(inStartPeriod ? check.StartInterval : check.Interval, ctx.Time, ct).ConfigureAwait(false);
            var state = ctx.Store.Read(id);
            if (state is null || state.Status != ContainerStatus.Running)
            {
                continue; // paused or between runs: docker skips the check
            }

            var begin = ctx.Time.GetUtcNow();
            var (exit, output) = await ProbeAsync(ctx, state, check, ct).ConfigureAwait(false);
            var entry = new HealthLogEntry(begin, ctx.Time.GetUtcNow(), exit, output);
            ctx.Store.Update(id, s =>
            {
                var health = s.Health ?? new HealthState();
                var failing = exit == 0 ? 0 : inStartPeriod && health.Status == "starting" ? health.FailingStreak : health.FailingStreak + 1;
                var status = exit == 0 ? "healthy" : failing >= check.Retries ? "unhealthy" : health.Status;
                var log = health.Log.Add(entry);
                return s with { Health = new HealthState { Status = status, FailingStreak = failing, Log = log.Length > 5 ? log[^5..] : log } };
            });
        }
    }

    private static async Task<(int Exit, string Output)> ProbeAsync(RuntimeContext ctx, ContainerState state, HealthCheck check, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(check.Timeout);
        try
        {
            await using var exec = await ExecProcess.StartAsync(ctx, state, new ExecOptions { Command = check.Command }, timeout.Token).ConfigureAwait(false);
            var stdout = ReadAsync(exec.StandardOutput, timeout.Token);
            var stderr = ReadAsync(exec.StandardError, timeout.Token);
            var code = await exec.WaitAsync(timeout.Token).ConfigureAwait(false);
            var text = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
            return (code == 0 ? 0 : 1, text.Length > MaxOutput ? text[..MaxOutput] : text);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return (-1, $"Health check exceeded timeout ({check.Timeout.TotalSeconds}s)");
        }
        catch (ContainerException e)
        {
            return (-1, e.Message);
        }
    }

    private static async Task<string> ReadAsync(Stream stream, CancellationToken ct)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(ct).ConfigureAwait(false);
    }
}
