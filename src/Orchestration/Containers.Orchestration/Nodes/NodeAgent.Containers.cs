using System.Collections.Immutable;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Containers.Orchestration.Api;
using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

public sealed partial class NodeAgent
{
    private static readonly TimeSpan BackoffStart = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan BackoffMax = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan BackoffReset = TimeSpan.FromMinutes(10);

    private async Task<TimeSpan> SyncContainerAsync(JsonObject pod, PodRecord rec, ContainerRecord cr, JsonObject spec, Dictionary<string, string> volumes, bool init, string policy, DateTimeOffset now, CancellationToken cancellationToken)
    {
        string key = PodState.Key(pod);
        var status = cr.Id is null ? null : runtime.Inspect(cr.Id);
        if (status is { Running: true })
        {
            if (!init)
            {
                return await ProbeAsync(pod, rec, cr, spec, status, now, cancellationToken).ConfigureAwait(false);
            }

            return TimeSpan.FromSeconds(10);
        }

        if (status is not null || (cr.Id is not null && cr.Terminated is null))
        {
            // it exited (or vanished): record how, then decide on a restart
            int exit = status?.ExitCode ?? 137;
            bool oom = status?.OomKilled ?? false;
            cr.Terminated = new JsonObject
            {
                ["exitCode"] = exit,
                ["reason"] = oom ? "OOMKilled" : exit == 0 ? "Completed" : "Error",
                ["startedAt"] = Json.Time(status?.StartedAt ?? cr.StartedAt ?? now),
                ["finishedAt"] = Json.Time(status?.FinishedAt ?? now),
                ["containerID"] = "containers-dotnet://" + cr.Id,
            };
            cr.Ready = false;
            var ranFor = (status?.FinishedAt ?? now) - (status?.StartedAt ?? now);
            cr.Id = null;
            if (init && exit == 0)
            {
                cr.Succeeded = true;
                Queue.Add(key);
                return TimeSpan.Zero;
            }

            bool restart = policy == "Always" || (policy == "OnFailure" && exit != 0);
            if (!restart)
            {
                cr.Finished = true;
                return TimeSpan.FromSeconds(10);
            }

            cr.Backoff = ranFor >= BackoffReset ? TimeSpan.Zero : cr.Backoff == TimeSpan.Zero ? BackoffStart : TimeSpan.FromTicks(Math.Min(cr.Backoff.Ticks * 2, BackoffMax.Ticks));
            cr.NextStart = now + (cr.RestartCount == 0 && ranFor >= BackoffReset ? TimeSpan.Zero : cr.Backoff);
            cr.RestartCount++;
            cr.Finished = false;
        }

        if (cr.Finished)
        {
            return TimeSpan.FromSeconds(10);
        }

        if (cr.NextStart > now)
        {
            if (cr.RestartCount > 0)
            {
                cr.WaitingReason = "CrashLoopBackOff";
                cr.WaitingMessage = $"back-off {cr.Backoff.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s restarting failed container={cr.Name} pod={Json.Name(pod)}_{Json.Namespace(pod)}({Json.Uid(pod)})";
                if (!cr.BackoffEvent)
                {
                    cr.BackoffEvent = true;
                    api.RecordEvent(pod, "Warning", "BackOff", "Back-off restarting failed container " + cr.Name + " in pod " + Json.Name(pod) + "_" + Json.Namespace(pod) + "(" + Json.Uid(pod) + ")", "kubelet", Name);
                }
            }

            return cr.NextStart - now;
        }

        cr.BackoffEvent = false;
        string image = Json.Str(spec, "image") ?? "";
        try
        {
            await runtime.EnsureImageAsync(image, Json.Str(spec, "imagePullPolicy") ?? "IfNotPresent", cancellationToken).ConfigureAwait(false);
            if (cr.PullFailures > 0 || !cr.PulledEvent)
            {
                api.RecordEvent(pod, "Normal", "Pulled", $"Container image \"{image}\" already present on machine", "kubelet", Name);
                cr.PulledEvent = true;
            }

            cr.PullFailures = 0;
        }
        catch (ImagePullException e)
        {
            cr.PullFailures++;
            bool first = cr.PullFailures == 1;
            cr.WaitingReason = first || cr.WaitingReason == "ImagePullBackOff" && cr.NextStart <= now && cr.PullFailures % 2 == 1 ? "ErrImagePull" : "ImagePullBackOff";
            cr.WaitingMessage = cr.WaitingReason == "ErrImagePull" ? e.Message : $"Back-off pulling image \"{image}\"";
            var delay = TimeSpan.FromSeconds(Math.Min(300, 10 * Math.Pow(2, Math.Min(cr.PullFailures - 1, 5))));
            cr.NextStart = now + delay;
            api.RecordEvent(pod, "Warning", "Failed", $"Failed to pull image \"{image}\": {e.Message}", "kubelet", Name);
            if (first)
            {
                api.RecordEvent(pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", Name);
                Queue.AddAfter(key, TimeSpan.FromSeconds(1)); // shown as ErrImagePull first, then ImagePullBackOff
                return delay;
            }

            cr.WaitingReason = "ImagePullBackOff";
            api.RecordEvent(pod, "Normal", "BackOff", $"Back-off pulling image \"{image}\"", "kubelet", Name);
            return delay;
        }

        PodContainerSpec runSpec;
        try
        {
            var env = PodEnvironment.Build(pod, spec, api, services);
            var vars = env.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            long? memory = Json.At(spec, "resources", "limits", "memory") is { } m ? (long)Quantity.Of(m) : null;
            double? cpu = Json.At(spec, "resources", "limits", "cpu") is { } c ? (double)Quantity.Of(c) : null;
            long? runAsUser = Json.Int(spec, "securityContext", "runAsUser") ?? Json.Int(pod, "spec", "securityContext", "runAsUser");
            long? runAsGroup = Json.Int(spec, "securityContext", "runAsGroup") ?? Json.Int(pod, "spec", "securityContext", "runAsGroup");
            string? user = runAsUser is { } u ? u.ToString(CultureInfo.InvariantCulture) + (runAsGroup is { } g ? ":" + g.ToString(CultureInfo.InvariantCulture) : "") : null;
            var mounts = PodVolumes.Mounts(spec, volumes);
            mounts.AddRange(EtcFiles(pod, rec));
            runSpec = new PodContainerSpec
            {
                PodUid = rec.Uid,
                Namespace = Json.Namespace(pod) ?? "default",
                PodName = Json.Name(pod),
                ContainerName = cr.Name,
                NodeName = Name,
                Attempt = cr.RestartCount,
                Image = image,
                Command = Json.At(spec, "command") is JsonArray cmd ? [.. cmd.Select(x => PodEnvironment.Expand(x?.GetValue<string>() ?? "", vars))] : null,
                Args = Json.At(spec, "args") is JsonArray args ? [.. args.Select(x => PodEnvironment.Expand(x?.GetValue<string>() ?? "", vars))] : null,
                Environment = [.. env],
                WorkingDirectory = Json.Str(spec, "workingDir"),
                User = user,
                Mounts = [.. mounts],
                MemoryLimit = memory,
                CpuLimit = cpu,
                Hostname = Json.Str(pod, "spec", "hostname") ?? Json.Name(pod),
                Network = Options.Network,
                JoinContainer = rec.SandboxId,
                PullPolicy = Json.Str(spec, "imagePullPolicy") ?? "IfNotPresent",
                Stdin = Json.Bool(spec, "stdin") == true,
                StdinOnce = Json.Bool(spec, "stdinOnce") == true,
                Tty = Json.Bool(spec, "tty") == true,
                Labels = ImmutableDictionary<string, string>.Empty
                    .Add(PodUidLabel, rec.Uid)
                    .Add(ContainerLabel, cr.Name)
                    .Add(AttemptLabel, cr.RestartCount.ToString(CultureInfo.InvariantCulture))
                    .Add("io.kubernetes.pod.name", Json.Name(pod))
                    .Add("io.kubernetes.pod.namespace", Json.Namespace(pod) ?? "default"),
            };
        }
        catch (Exception e) when (e is PodConfigException or PodVolumeException)
        {
            cr.WaitingReason = "CreateContainerConfigError";
            cr.WaitingMessage = e.Message;
            if (cr.LastConfigError != e.Message)
            {
                cr.LastConfigError = e.Message;
                api.RecordEvent(pod, "Warning", "Failed", "Error: " + e.Message, "kubelet", Name);
            }

            return TimeSpan.FromSeconds(5);
        }

        try
        {
            string id = await runtime.StartAsync(runSpec, cancellationToken).ConfigureAwait(false);
            cr.Id = id;
            lock (cr.Runs)
            {
                cr.Runs.Add(id);
            }

            cr.StartedAt = now;
            cr.WaitingReason = null;
            cr.WaitingMessage = null;
            cr.LastConfigError = null;
            cr.Started = Json.At(spec, "startupProbe") is null;
            cr.Ready = false;
            cr.Probes.Clear();
            api.RecordEvent(pod, "Normal", "Created", $"Created container {cr.Name}", "kubelet", Name);
            api.RecordEvent(pod, "Normal", "Started", $"Started container {cr.Name}", "kubelet", Name);
            Watch(key, cr, id);
            bool readinessProbe = Json.At(spec, "readinessProbe") is not null;
            if (!readinessProbe && cr.Started)
            {
                cr.Ready = true;
            }

            return TimeSpan.FromMilliseconds(init ? 500 : readinessProbe || !cr.Started ? ProbeDelay(spec) : 10_000);
        }
        catch (ContainerException e)
        {
            // the process itself could not be executed (not found, not executable): containerd's StartError; anything
            // else that stopped the container's creation is the kubelet's RunContainerError
            cr.WaitingReason = e is ContainerStartException { Step: "exec" } ? "StartError" : "RunContainerError";
            cr.WaitingMessage = e.Message;
            cr.Terminated = new JsonObject { ["exitCode"] = 128, ["reason"] = "StartError", ["message"] = e.Message, ["startedAt"] = Json.Time(now), ["finishedAt"] = Json.Time(now) };
            api.RecordEvent(pod, "Warning", "Failed", "Error: " + e.Message, "kubelet", Name);
            logger.LogInformation(e, "pod {Pod}: container {Container} failed to start", key, cr.Name);
            if (policy == "Never")
            {
                // a failed start is a failed run (exit code 128): under Never it is not tried again, and the pod fails
                cr.WaitingReason = null;
                cr.WaitingMessage = null;
                cr.Finished = true;
                Queue.Add(key);
                return TimeSpan.FromSeconds(10);
            }

            cr.RestartCount++;
            cr.Backoff = cr.Backoff == TimeSpan.Zero ? BackoffStart : TimeSpan.FromTicks(Math.Min(cr.Backoff.Ticks * 2, BackoffMax.Ticks));
            cr.NextStart = now + cr.Backoff;
            return cr.Backoff;
        }
    }

    private static long ProbeDelay(JsonObject spec) =>
        Math.Max(200, 1000 * new[] { "startupProbe", "readinessProbe" }.Select(p => Json.Int(spec, p, "initialDelaySeconds") ?? 0).Max());

    /// <summary>/etc/hosts and /etc/resolv.conf of the pod (cluster DNS search path), as the kubelet writes them.</summary>
    private IEnumerable<(string, string, bool)> EtcFiles(JsonObject pod, PodRecord rec)
    {
        if (Options.DnsServer is null || Json.Str(pod, "spec", "dnsPolicy") is "Default" or "None")
        {
            yield break;
        }

        Directory.CreateDirectory(rec.Directory);
        string ns = Json.Namespace(pod) ?? "default";
        string resolv = Path.Combine(rec.Directory, "resolv.conf");
        File.WriteAllText(resolv, $"search {ns}.svc.{Options.ClusterDomain} svc.{Options.ClusterDomain} {Options.ClusterDomain}\nnameserver {Options.DnsServer}\noptions ndots:5\n");
        yield return (resolv, "/etc/resolv.conf", false);
    }

    private async Task<TimeSpan> ProbeAsync(JsonObject pod, PodRecord rec, ContainerRecord cr, JsonObject spec, RuntimeContainerStatus status, DateTimeOffset now, CancellationToken cancellationToken)
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
            var due = state.Last is { } last ? last.AddSeconds(period) : started.AddSeconds(initialDelay);
            if (due > now)
            {
                next = Min(next, due - now);
                continue;
            }

            state.Last = now;
            string? failure = await RunProbeAsync(probe, rec, cr, cancellationToken).ConfigureAwait(false);
            long failureThreshold = Math.Max(1, Json.Int(probe, "failureThreshold") ?? 3);
            long successThreshold = Math.Max(1, Json.Int(probe, "successThreshold") ?? 1);
            if (failure is null)
            {
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
                api.RecordEvent(pod, "Warning", "Unhealthy", $"{label} probe failed: {failure}", "kubelet", Name);
                if (kind == "readinessProbe" && state.Failures >= failureThreshold)
                {
                    cr.Ready = false;
                }
                else if (kind != "readinessProbe" && state.Failures >= failureThreshold)
                {
                    api.RecordEvent(pod, "Normal", "Killing", $"Container {cr.Name} failed {label.ToLowerInvariant()} probe, will be restarted", "kubelet", Name);
                    cr.Ready = false;
                    await runtime.StopAsync(status.Id, TimeSpan.FromSeconds(Json.Int(pod, "spec", "terminationGracePeriodSeconds") ?? 30), cancellationToken).ConfigureAwait(false);
                    return TimeSpan.Zero;
                }
            }

            next = Min(next, TimeSpan.FromSeconds(period));
        }

        return next;
    }

    private async Task<string?> RunProbeAsync(JsonObject probe, PodRecord rec, ContainerRecord cr, CancellationToken cancellationToken)
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

    private async Task KillAsync(PodRecord rec, JsonObject? pod, TimeSpan grace, CancellationToken cancellationToken)
    {
        var running = rec.Containers.Values.Where(c => c.Id is not null).ToList();
        if (pod is not null && grace > TimeSpan.Zero)
        {
            var deadline = api.Time.GetUtcNow() + grace;
            await Task.WhenAll(running.Select(async c =>
            {
                var spec = FindContainer(pod, c.Name);
                if (Json.At(spec, "lifecycle", "preStop") is JsonObject preStop && runtime.Inspect(c.Id!) is { Running: true })
                {
                    try
                    {
                        if (Json.At(preStop, "exec", "command") is JsonArray command)
                        {
                            await runtime.ExecAsync(c.Id!, [.. command.Select(x => x?.GetValue<string>() ?? "")], grace, cancellationToken).ConfigureAwait(false);
                        }
                        else if (Json.Int(preStop, "sleep", "seconds") is { } sleep)
                        {
                            await Task.Delay(TimeSpan.FromSeconds(Math.Min(sleep, grace.TotalSeconds)), api.Time, cancellationToken).ConfigureAwait(false);
                        }
                        else if (Json.At(preStop, "httpGet") is not null)
                        {
                            await RunProbeAsync(new JsonObject { ["httpGet"] = preStop["httpGet"]!.DeepClone(), ["timeoutSeconds"] = (long)grace.TotalSeconds }, rec, c, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    catch (ContainerException e)
                    {
                        api.RecordEvent(pod, "Warning", "FailedPreStopHook", $"PreStopHook failed: {e.Message}", "kubelet", Name);
                    }
                }

                var left = deadline - api.Time.GetUtcNow();
                api.RecordEvent(pod, "Normal", "Killing", $"Stopping container {c.Name}", "kubelet", Name);
                await runtime.StopAsync(c.Id!, left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            })).ConfigureAwait(false);
        }

        foreach (var c in rec.Containers.Values)
        {
            string[] runs;
            lock (c.Runs)
            {
                runs = [.. c.Runs];
            }

            foreach (string id in runs)
            {
                await runtime.RemoveAsync(id, cancellationToken).ConfigureAwait(false);
            }

            c.Id = null;
        }

        if (rec.SandboxId is { } sandbox)
        {
            await runtime.RemoveAsync(sandbox, cancellationToken).ConfigureAwait(false);
            rec.SandboxId = null;
        }

        try
        {
            if (Directory.Exists(rec.Directory))
            {
                Directory.Delete(rec.Directory, recursive: true);
            }
        }
        catch (IOException e)
        {
            logger.LogWarning(e, "could not remove {Directory}", rec.Directory);
        }
    }

    /// <summary>The order of a pod's conditions, as the kubelet writes them.</summary>
    private static readonly string[] ConditionOrder = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];

    private void WriteStatus(JsonObject pod, PodRecord rec, bool initialized, string? podError, DateTimeOffset now)
    {
        bool statusesUsed = false;
        var statuses = new JsonArray();
        var initStatuses = new JsonArray();
        foreach (var (list, target, init) in new[] { ("initContainers", initStatuses, true), ("containers", statuses, false) })
        {
            foreach (var spec in Json.ReadItems(pod, "spec", list))
            {
                string name = Json.Str(spec, "name")!;
                var cr = rec.Get(name, init);
                var running = cr.Id is null ? null : runtime.Inspect(cr.Id);
                JsonObject state;
                if (running is { Running: true })
                {
                    state = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = Json.Time(running.StartedAt ?? cr.StartedAt ?? now) } };
                }
                else if ((cr.Finished || cr.Succeeded) && cr.Terminated is not null)
                {
                    state = new JsonObject { ["terminated"] = cr.Terminated.DeepClone() };
                }
                else
                {
                    var waiting = new JsonObject { ["reason"] = cr.WaitingReason ?? (init || initialized ? "ContainerCreating" : "PodInitializing") };
                    if (cr.WaitingMessage is not null)
                    {
                        waiting["message"] = cr.WaitingMessage;
                    }

                    state = new JsonObject { ["waiting"] = waiting };
                }

                var s = new JsonObject
                {
                    ["name"] = name,
                    ["state"] = state,
                    ["lastState"] = cr.Terminated is not null && !(cr.Finished || cr.Succeeded) ? new JsonObject { ["terminated"] = cr.Terminated.DeepClone() } : new JsonObject(),
                    ["ready"] = init ? cr.Succeeded : cr.Ready && running is { Running: true },
                    ["restartCount"] = cr.RestartCount,
                    ["image"] = Json.Str(spec, "image"),
                    ["imageID"] = running?.ImageId ?? "",
                    ["started"] = running is { Running: true } && cr.Started,
                };
                if ((running?.Id ?? cr.LastRun) is { } cid)
                {
                    s["containerID"] = "containers-dotnet://" + cid;
                }

                target.Add((JsonNode)s);
                foreach (var p in Json.ReadItems(spec, "ports").Where(p => Json.Str(p, "name") is not null))
                {
                    rec.NamedPorts[Json.Str(p, "name")!] = Json.Int(p, "containerPort") ?? 0;
                }
            }
        }

        var containers = statuses.OfType<JsonObject>().ToList();
        string policy = Json.Str(pod, "spec", "restartPolicy") ?? "Always";
        bool allTerminated = containers.Count > 0 && containers.All(c => Json.At(c, "state", "terminated") is not null);
        string phase = allTerminated
            ? containers.All(c => Json.Int(c, "state", "terminated", "exitCode") == 0) ? "Succeeded" : "Failed"
            : containers.Any(c => Json.At(c, "state", "running") is not null || (Json.At(c, "lastState", "terminated") is not null && policy != "Never")) && initialized ? "Running" : "Pending";
        if (initStatuses.OfType<JsonObject>().Any(c => Json.At(c, "state", "terminated") is JsonObject t && Json.Int(t, "exitCode") != 0) && policy == "Never")
        {
            phase = "Failed";
        }

        bool containersReady = containers.Count > 0 && containers.All(c => Json.Bool(c, "ready") == true);
        string podIP = rec.PodIP ?? "";
        string? hostIP = Options.InternalIP;
        string startTime = Json.Time(rec.StartTime ?? now);
        void Update(JsonObject p)
        {
            var status = Json.Obj(p, "status");
            status["phase"] = phase;
            status["hostIP"] = hostIP;
            status["hostIPs"] = new JsonArray(new JsonObject { ["ip"] = hostIP });
            if (podIP.Length > 0)
            {
                status["podIP"] = podIP;
                status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = podIP });
            }

            status["startTime"] = startTime;
            PodState.SetCondition(status, "PodReadyToStartContainers", podError is null ? "True" : "False", null, null, now, probeTimes: true);
            PodState.SetCondition(status, "Initialized", initialized ? "True" : "False", initialized ? null : "ContainersNotInitialized", initialized ? null : "containers with incomplete status: [" + string.Join(" ", initStatuses.OfType<JsonObject>().Where(c => Json.Bool(c, "ready") != true).Select(c => Json.Str(c, "name"))) + "]", now, probeTimes: true);
            string notReady = string.Join(" ", containers.Where(c => Json.Bool(c, "ready") != true).Select(c => Json.Str(c, "name")));
            PodState.SetCondition(status, "ContainersReady", containersReady ? "True" : "False", containersReady ? null : "ContainersNotReady", containersReady ? null : $"containers with unready status: [{notReady}]", now, probeTimes: true);
            PodState.SetCondition(status, "Ready", containersReady ? "True" : "False", containersReady ? null : "ContainersNotReady", containersReady ? null : $"containers with unready status: [{notReady}]", now, probeTimes: true);
            // the statuses made above go into the first status made; a second one (a retry) gets copies
            if (initStatuses.Count > 0)
            {
                status["initContainerStatuses"] = statusesUsed ? initStatuses.DeepClone() : initStatuses;
            }

            status["containerStatuses"] = statusesUsed ? statuses.DeepClone() : statuses;
            statusesUsed = true;
            var conditions = (JsonArray)status["conditions"]!;
            if (!InOrder(conditions))
            {
                var sorted = conditions.OfType<JsonObject>().OrderBy(c => Array.IndexOf(ConditionOrder, Json.Str(c, "type"))).ToList();
                while (conditions.Count > 0)
                {
                    conditions.RemoveAt(conditions.Count - 1);
                }

                foreach (var c in sorted)
                {
                    conditions.Add((JsonNode)c);
                }
            }
        }

        static bool InOrder(JsonArray conditions)
        {
            int last = int.MinValue;
            foreach (var c in conditions)
            {
                int at = c is JsonObject o ? Array.IndexOf(ConditionOrder, Json.Str(o, "type")) : int.MinValue;
                if (at == int.MinValue || at < last)
                {
                    return false;
                }

                last = at;
            }

            return true;
        }

        // most syncs change nothing: try on a copy of the cached status first, and write only when it differs (the
        // write itself stores nothing when the status it makes equals the stored one)
        JsonNode? made = null;
        string? madeFrom = null;
        if (Json.Uid(pod) == rec.Uid)
        {
            var trial = new JsonObject { ["status"] = Json.Copy(pod["status"]) };
            Update(trial);
            if (JsonNode.DeepEquals(trial["status"], pod["status"]))
            {
                return;
            }

            (made, madeFrom) = (trial["status"], Json.Str(pod, "metadata", "resourceVersion"));
            trial.Remove("status");
        }

        api.Mutate(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod), p =>
        {
            if (Json.Uid(p) != rec.Uid)
            {
                return false;
            }

            if (made is not null && Json.Str(p, "metadata", "resourceVersion") == madeFrom)
            {
                p["status"] = made; // the trial was made from this very version: it is the status to write
                made = null;
            }
            else
            {
                Update(p); // the pod changed since (or a retry): make the status again from what is stored
            }

            return true;
        }, "status");
    }

    private sealed class PodRecord(string uid, string directory)
    {
        public string Uid { get; } = uid;

        public string Directory { get; } = directory;

        public Dictionary<string, ContainerRecord> Containers { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> NamedPorts { get; } = new(StringComparer.Ordinal);

        public DateTimeOffset? StartTime { get; set; }

        public string? PodIP { get; set; }

        /// <summary>The running sandbox holding the pod's namespaces, or null.</summary>
        public string? SandboxId { get; set; }

        /// <summary>How many sandboxes the pod had (part of the next one's runtime name).</summary>
        public int SandboxAttempt { get; set; }

        public string? LastMountError { get; set; }

        public ContainerRecord Get(string name, bool init)
        {
            lock (Containers)
            {
                string key = (init ? "init:" : "") + name;
                if (!Containers.TryGetValue(key, out var c))
                {
                    c = new ContainerRecord(name);
                    Containers[key] = c;
                }

                return c;
            }
        }
    }

    private sealed class ContainerRecord(string name)
    {
        public string Name { get; } = name;

        public string? Id { get; set; }

        /// <summary>The runtime id of its last run, or null.</summary>
        public string? LastRun
        {
            get
            {
                lock (Runs)
                {
                    return Runs.LastOrDefault();
                }
            }
        }

        /// <summary>The runtime ids of its runs, oldest first (logs and logs --previous).</summary>
        public List<string> Runs { get; } = [];

        public int RestartCount { get; set; }

        public JsonObject? Terminated { get; set; }

        public DateTimeOffset? StartedAt { get; set; }

        public DateTimeOffset NextStart { get; set; }

        public TimeSpan Backoff { get; set; }

        public bool BackoffEvent { get; set; }

        public bool PulledEvent { get; set; }

        public int PullFailures { get; set; }

        public string? WaitingReason { get; set; }

        public string? WaitingMessage { get; set; }

        public string? LastConfigError { get; set; }

        public bool Ready { get; set; }

        public bool Started { get; set; }

        public bool Succeeded { get; set; }

        public bool Finished { get; set; }

        public Dictionary<string, ProbeState> Probes { get; } = new(StringComparer.Ordinal);
    }

    private sealed class ProbeState
    {
        public DateTimeOffset? Last { get; set; }

        public int Failures { get; set; }

        public int Successes { get; set; }
    }
}
