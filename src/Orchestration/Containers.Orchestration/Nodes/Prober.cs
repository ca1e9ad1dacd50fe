using System.Net.Sockets;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// The kubelet's prober manager for one node: startup, liveness and readiness probes (exec in the container, httpGet
/// and tcpSocket to the pod's IP) on their periods and thresholds, with the Unhealthy and Killing events. As the
/// kubelet, a new container's readiness (or startup) probe runs as soon as it runs (after initialDelaySeconds); then,
/// until it first succeeds and for at most one period, a failed try is tried again after 10, 20, 40... ms instead of a
/// whole period later, without counting it or recording an event (the container is not ready either way), so a server
/// that listens a moment after its process starts is Ready a moment later, not a period later.
/// </summary>
internal sealed class Prober(ObjectApi api, IPodRuntime runtime, string node) : IDisposable
{
    private readonly HttpClient http = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false });

    /// <summary>
    /// Runs the probes of a running container that are due (startup until it succeeds, then liveness and readiness),
    /// updates its Started and Ready, and stops it when startup or liveness fails its threshold (the next sync
    /// restarts it). Returns when a probe is next due.
    /// </summary>
    public async Task<TimeSpan> ProbeAsync(JsonObject pod, PodRecord rec, ContainerRecord cr, JsonObject spec, RuntimeContainerStatus status, DateTimeOffset now, CancellationToken cancellationToken)
    {
        TimeSpan next = TimeSpan.FromSeconds(10);
        var started = status.StartedAt ?? cr.StartedAt ?? now;
        foreach (string kind in new[] { "startupProbe", "livenessProbe", "readinessProbe" })
        {
            if (Json.At(spec, kind) is not JsonObject probe || (kind != "startupProbe" && !cr.Started))
            {
                continue;
            }

            if (kind == "startupProbe" && cr.Started)
            {
                continue;
            }

            var state = cr.Probes.TryGetValue(kind, out var s) ? s : cr.Probes[kind] = new ProbeState();
            long initialDelay = Json.Int(probe, "initialDelaySeconds") ?? 0;
            long period = Math.Max(1, Json.Int(probe, "periodSeconds") ?? 10);
            var due = state.Retry ?? (state.Last is { } last ? last.AddSeconds(period) : started.AddSeconds(initialDelay));
            if (due > now)
            {
                next = due - now < next ? due - now : next;
                continue;
            }

            state.Last ??= now; // the period counts from the first try
            state.Retry = null;
            string? failure = await RunProbeAsync(probe, rec, cr, cancellationToken).ConfigureAwait(false);
            if (failure is not null && kind != "livenessProbe" && !state.Succeeded && now - started.AddSeconds(initialDelay) < TimeSpan.FromSeconds(period))
            {
                // warming up: tried again soon, not counted
                var retry = now + TimeSpan.FromMilliseconds(Math.Min(10 << Math.Min(state.WarmUpTries++, 10), 1000));
                if (retry < state.Last.Value.AddSeconds(period))
                {
                    state.Retry = retry;
                    next = retry - now < next ? retry - now : next;
                    continue;
                }
            }

            state.Last = now;
            long failureThreshold = Math.Max(1, Json.Int(probe, "failureThreshold") ?? 3);
            long successThreshold = Math.Max(1, Json.Int(probe, "successThreshold") ?? 1);
            if (failure is null)
            {
                state.Succeeded = true;
                state.Failures = 0;
                state.Successes++;
                if (kind == "startupProbe")
                {
                    cr.Started = true;
                    cr.Ready = Json.At(spec, "readinessProbe") is null;
                }
                else if (kind == "readinessProbe" && state.Successes >= successThreshold)
                {
                    cr.Ready = true;
                }
            }
            else
            {
                state.Successes = 0;
                state.Failures++;
                string label = kind switch { "startupProbe" => "Startup", "livenessProbe" => "Liveness", _ => "Readiness" };
                api.RecordEvent(pod, "Warning", "Unhealthy", $"{label} probe failed: {failure}", "kubelet", node);
                if (kind == "readinessProbe" && state.Failures >= failureThreshold)
                {
                    cr.Ready = false;
                }
                else if (kind != "readinessProbe" && state.Failures >= failureThreshold)
                {
                    api.RecordEvent(pod, "Normal", "Killing", $"Container {cr.Name} failed {label.ToLowerInvariant()} probe, will be restarted", "kubelet", node);
                    cr.Ready = false;
                    await runtime.StopAsync(status.Id, TimeSpan.FromSeconds(Json.Int(pod, "spec", "terminationGracePeriodSeconds") ?? 30), cancellationToken).ConfigureAwait(false);
                    return TimeSpan.Zero;
                }
            }

            next = TimeSpan.FromSeconds(period) < next ? TimeSpan.FromSeconds(period) : next;
        }

        return next;
    }

    /// <summary>Runs one probe (exec, httpGet or tcpSocket, within its timeoutSeconds); returns why it failed, or null.</summary>
    public async Task<string?> RunProbeAsync(JsonObject probe, PodRecord rec, ContainerRecord cr, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(Math.Max(1, Json.Int(probe, "timeoutSeconds") ?? 1));
        try
        {
            if (Json.At(probe, "exec", "command") is JsonArray command)
            {
                var (exit, output) = await runtime.ExecAsync(cr.Id!, [.. command.Select(c => c?.GetValue<string>() ?? "")], timeout, cancellationToken).ConfigureAwait(false);
                return exit == 0 ? null : $"command exited with {exit}: {output.Trim()}";
            }

            string host = rec.PodIP ?? "127.0.0.1";
            if (Json.At(probe, "httpGet") is JsonObject get)
            {
                long port = ResolvePort(Json.At(get, "port"), cr, rec);
                string scheme = (Json.Str(get, "scheme") ?? "HTTP").ToLowerInvariant();
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(timeout);
                using var request = new HttpRequestMessage(HttpMethod.Get, $"{scheme}://{Json.Str(get, "host") ?? host}:{port}{Json.Str(get, "path") ?? "/"}");
                foreach (var h in Json.ReadItems(get, "httpHeaders"))
                {
                    request.Headers.TryAddWithoutValidation(Json.Str(h, "name") ?? "", Json.Str(h, "value"));
                }

                using var response = await http.SendAsync(request, cts.Token).ConfigureAwait(false);
                int code = (int)response.StatusCode;
                return code is >= 200 and < 400 ? null : $"HTTP probe failed with statuscode: {code}";
            }

            if (Json.At(probe, "tcpSocket") is JsonObject tcp)
            {
                long port = ResolvePort(Json.At(tcp, "port"), cr, rec);
                using var client = new TcpClient();
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(timeout);
                await client.ConnectAsync(Json.Str(tcp, "host") ?? host, (int)port, cts.Token).ConfigureAwait(false);
                return null;
            }

            return null;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"timeout after {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s";
        }
        catch (Exception e) when (e is HttpRequestException or SocketException or ContainerException or IOException)
        {
            return e.Message;
        }
    }

    private static long ResolvePort(JsonNode? port, ContainerRecord cr, PodRecord rec)
    {
        if (port is JsonValue v && v.TryGetValue(out string? name) && !long.TryParse(name, out _))
        {
            return rec.NamedPorts.GetValueOrDefault(name);
        }

        return port is JsonValue n && n.TryGetValue(out string? s) ? long.Parse(s, CultureInfo.InvariantCulture) : Json.Int(port) ?? 0;
    }

    /// <summary>How long after a start the first readiness or startup probe is looked at (in ms): at once, or after initialDelaySeconds.</summary>
    public static long FirstProbeDelay(JsonObject spec) =>
        1000 * new[] { "startupProbe", "readinessProbe" }.Select(p => Json.Int(spec, p, "initialDelaySeconds") ?? 0).Max();

    /// <summary>Closes the probes' HTTP client.</summary>
    public void Dispose() => http.Dispose();
}
