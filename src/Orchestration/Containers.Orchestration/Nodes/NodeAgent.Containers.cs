using System.Collections.Immutable;
using System.Net.Sockets;
using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

public sealed partial class NodeAgent
{
    private static readonly TimeSpan BackoffStart = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan BackoffMax = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan BackoffReset = TimeSpan.FromMinutes(10);

    /// <summary>
    /// One sync of one container of a pod: records how it exited and decides on a restart (restartPolicy, back-off),
    /// probes it while it runs, or makes its image present and starts it. Returns when to look at it again.
    /// </summary>
    private async Task<TimeSpan> SyncContainerAsync(PodSync sync, ContainerRecord cr, JsonObject spec, bool init, CancellationToken cancellationToken)
    {
        var (key, pod, rec, volumes, policy, now) = sync;
        if (init && policy == "Always")
        {
            policy = "OnFailure"; // an init container restarts until it succeeds
        }

        var status = cr.Id is null ? null : runtime.Inspect(cr.Id);
        if (status is { Running: true })
        {
            if (!init)
            {
                return await prober.ProbeAsync(pod, rec, cr, spec, status, now, cancellationToken).ConfigureAwait(false);
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
        if (await images.EnsureAsync(pod, key, cr, spec, now, cancellationToken).ConfigureAwait(false) is { } pullBackoff)
        {
            return pullBackoff;
        }

        PodContainerSpec runSpec;
        try
        {
            var env = PodEnvironment.Build(pod, spec, reader, services);
            var vars = env.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            long? memory = Json.At(spec, "resources", "limits", "memory") is { } m ? (long)Quantity.Of(m) : null;
            double? cpu = Json.At(spec, "resources", "limits", "cpu") is { } c ? (double)Quantity.Of(c) : null;
            long? runAsUser = Json.Int(spec, "securityContext", "runAsUser") ?? Json.Int(pod, "spec", "securityContext", "runAsUser");
            long? runAsGroup = Json.Int(spec, "securityContext", "runAsGroup") ?? Json.Int(pod, "spec", "securityContext", "runAsGroup");
            string? user = runAsUser is { } u ? u.ToString(CultureInfo.InvariantCulture) + (runAsGroup is { } g ? ":" + g.ToString(CultureInfo.InvariantCulture) : "") : null;
            var security = SecurityContext(pod, spec, runAsUser, Json.Str(spec, "image") ?? "");
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
                Image = Json.Str(spec, "image") ?? "",
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
                SeccompProfile = Seccomp(pod, spec),
                Privileged = security.Privileged,
                CapAdd = security.CapAdd,
                CapDrop = security.CapDrop,
                ReadOnlyRootfs = security.ReadOnlyRootfs,
                NoNewPrivileges = security.NoNewPrivileges,
                PidMode = Json.Bool(pod, "spec", "hostPID") == true ? "host" : Json.Bool(pod, "spec", "shareProcessNamespace") == true && rec.SandboxId is { } sandbox ? "container:" + sandbox : "",
                UsernsMode = Json.Bool(pod, "spec", "hostUsers") == false && rec.SandboxId is { } owner ? "container:" + owner : "", // the sandbox's user namespace
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

            return TimeSpan.FromMilliseconds(init ? 500 : readinessProbe || !cr.Started ? Prober.FirstProbeDelay(spec) : 10_000);
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
                            await prober.RunProbeAsync(new JsonObject { ["httpGet"] = preStop["httpGet"]!.DeepClone(), ["timeoutSeconds"] = (long)grace.TotalSeconds }, rec, c, cancellationToken).ConfigureAwait(false);
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

    /// <summary>What every container's sync of one pod shares: the pod, the node's record of it, its mounted volumes, its restart policy and the sync's time.</summary>
    private sealed record PodSync(string Key, JsonObject Pod, PodRecord Record, Dictionary<string, string> Volumes, string RestartPolicy, DateTimeOffset Now);

    /// <summary>
    /// The container's securityContext (privileged, capabilities, readOnlyRootFilesystem, allowPrivilegeEscalation),
    /// and runAsNonRoot checked as the kubelet checks it: against runAsUser, else the image's user, which must be numeric.
    /// </summary>
    private ContainerSecurity SecurityContext(JsonNode pod, JsonNode container, long? runAsUser, string image)
    {
        var sc = Json.At(container, "securityContext");
        bool privileged = Json.Bool(sc, "privileged") == true;
        if (privileged && Json.Bool(sc, "allowPrivilegeEscalation") == false)
        {
            throw new PodConfigException("cannot set allowPrivilegeEscalation to false and privileged to true");
        }

        bool nonRoot = (Json.Bool(sc, "runAsNonRoot") ?? Json.Bool(pod, "spec", "securityContext", "runAsNonRoot")) == true;
        if (nonRoot)
        {
            string who = $"(pod: \"{Json.Name(pod)}_{Json.Namespace(pod) ?? "default"}({Json.Uid(pod)})\", container: {Json.Str(container, "name")})";
            if (runAsUser == 0)
            {
                throw new PodConfigException($"container's runAsUser breaks non-root policy {who}");
            }

            if (runAsUser is null)
            {
                var user = (runtime.ImageUser(image) ?? "").Split(':')[0];
                if (user.Length == 0 || user is "0" or "root")
                {
                    throw new PodConfigException($"container has runAsNonRoot and image will run as root {who}");
                }

                if (!user.All(char.IsAsciiDigit))
                {
                    throw new PodConfigException($"container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root {who}");
                }
            }
        }

        static ImmutableArray<string> Names(JsonNode? list) => list is JsonArray a ? [.. a.Select(x => x?.GetValue<string>() ?? "")] : [];
        return new ContainerSecurity(
            privileged,
            Names(Json.At(sc, "capabilities", "add")),
            Names(Json.At(sc, "capabilities", "drop")),
            Json.Bool(sc, "readOnlyRootFilesystem") == true,
            Json.Bool(sc, "allowPrivilegeEscalation") == false);
    }

    /// <summary>What a container's securityContext asks of the runtime.</summary>
    private sealed record ContainerSecurity(bool Privileged, ImmutableArray<string> CapAdd, ImmutableArray<string> CapDrop, bool ReadOnlyRootfs, bool NoNewPrivileges);

    /// <summary>The kubelet's seccomp profile directory (its --seccomp-profile-root default): Localhost profiles are read from it.</summary>
    public const string SeccompProfileRoot = "/var/lib/kubelet/seccomp";

    /// <summary>
    /// securityContext.seccompProfile of the container, else of the pod: RuntimeDefault is Docker's default profile,
    /// Unconfined (and no profile, as the kubelet without SeccompDefault) none, Localhost the named file under
    /// <see cref="SeccompProfileRoot"/>.
    /// </summary>
    private static string? Seccomp(JsonNode pod, JsonNode container)
    {
        var profile = Json.At(container, "securityContext", "seccompProfile") ?? Json.At(pod, "spec", "securityContext", "seccompProfile");
        switch (Json.Str(profile, "type"))
        {
            case "RuntimeDefault":
                return null;
            case "Localhost":
                string relative = Json.Str(profile, "localhostProfile") ?? throw new PodConfigException("securityContext.seccompProfile.localhostProfile is required for type Localhost");
                string path = Path.GetFullPath(Path.Combine(SeccompProfileRoot, relative));
                if (!path.StartsWith(SeccompProfileRoot + "/", StringComparison.Ordinal))
                {
                    throw new PodConfigException($"securityContext.seccompProfile.localhostProfile {relative} leaves {SeccompProfileRoot}");
                }

                return File.Exists(path) ? File.ReadAllText(path) : throw new PodConfigException($"securityContext.seccompProfile: localhost profile {path} does not exist");
            default:
                return Containers.Runtime.ContainerSpec.SeccompUnconfined;
        }
    }
}
