using System.Security.Cryptography;
using Containers.Networking;

namespace Containers.Compose;

/// <summary>
/// Runs compose projects on a <see cref="ContainerEngine"/>: up (networks, volumes, builds and pulls, containers in
/// dependency order with their conditions, idempotent through a config hash label), down, ps, logs, start, stop,
/// restart, kill, rm, exec. Containers carry docker compose's <c>com.docker.compose.*</c> labels.
/// </summary>
public sealed partial class ComposeEngine(ContainerEngine engine)
{
    /// <summary>The label of the project.</summary>
    public const string ProjectLabel = "com.docker.compose.project";

    /// <summary>The label of the service.</summary>
    public const string ServiceLabel = "com.docker.compose.service";

    /// <summary>The label of the replica number.</summary>
    public const string NumberLabel = "com.docker.compose.container-number";

    /// <summary>The label of the configuration hash.</summary>
    public const string HashLabel = "com.docker.compose.config-hash";

    /// <summary>The label marking one-off containers (<c>run</c>).</summary>
    public const string OneOffLabel = "com.docker.compose.oneoff";

    /// <summary>The engine.</summary>
    public ContainerEngine Engine => engine;

    /// <summary>The project's containers (running only unless <paramref name="all"/>), by service and number.</summary>
    public IReadOnlyList<ContainerState> Ps(string project, bool all = true) =>
        [.. engine.List(all).Where(c => c.Spec.Labels.GetValueOrDefault(ProjectLabel) == project)
            .OrderBy(c => c.Spec.Labels.GetValueOrDefault(ServiceLabel), StringComparer.Ordinal)
            .ThenBy(c => int.TryParse(c.Spec.Labels.GetValueOrDefault(NumberLabel), CultureInfo.InvariantCulture, out var n) ? n : 0)];

    /// <summary>What <see cref="UpAsync"/> would do to each container, and why.</summary>
    public async Task<IReadOnlyList<PlanStep>> PlanAsync(ComposeProject project, UpOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new UpOptions();
        var steps = new List<PlanStep>();
        var existing = Ps(project.Name);
        foreach (var svc in Selected(project, options))
        {
            var image = engine.Images.Find(ImageName(project, svc));
            var hash = Hash(project, svc, image?.Id.ToString());
            var replicas = options.Scale.GetValueOrDefault(svc.Name, svc.Replicas);
            var mine = existing.Where(c => c.Spec.Labels.GetValueOrDefault(ServiceLabel) == svc.Name && c.Spec.Labels.GetValueOrDefault(OneOffLabel) != "True").ToList();
            for (var n = 1; n <= replicas; n++)
            {
                var name = ContainerName(project, svc, n);
                var c = mine.FirstOrDefault(x => x.Spec.Labels.GetValueOrDefault(NumberLabel) == n.ToString(CultureInfo.InvariantCulture));
                if (c is null)
                {
                    steps.Add(new PlanStep(svc.Name, name, "create", "no container yet"));
                }
                else if (options.ForceRecreate || c.Spec.Labels.GetValueOrDefault(HashLabel) != hash)
                {
                    steps.Add(new PlanStep(svc.Name, c.Name, "recreate", options.ForceRecreate ? "--force-recreate" : "configuration changed: " + Differences(c, project, svc)));
                }
                else
                {
                    steps.Add(new PlanStep(svc.Name, c.Name, c.IsActive ? "keep" : "start", c.IsActive ? "up to date" : "stopped"));
                }
            }

            foreach (var extra in mine.Where(x => int.TryParse(x.Spec.Labels.GetValueOrDefault(NumberLabel), CultureInfo.InvariantCulture, out var k) && k > replicas))
            {
                steps.Add(new PlanStep(svc.Name, extra.Name, "remove", $"scaled to {replicas}"));
            }
        }

        if (options.RemoveOrphans)
        {
            foreach (var orphan in existing.Where(c => !project.Services.ContainsKey(c.Spec.Labels.GetValueOrDefault(ServiceLabel) ?? "")))
            {
                steps.Add(new PlanStep(orphan.Spec.Labels.GetValueOrDefault(ServiceLabel) ?? "", orphan.Name, "remove", "orphan: its service is not in the project"));
            }
        }

        await Task.CompletedTask.ConfigureAwait(false);
        return steps;
    }

    /// <summary>
    /// Brings the project up: networks and volumes, images (built or pulled), then each service's containers in
    /// dependency order once its dependencies meet their conditions. Unchanged containers are left alone. On failure
    /// what this call made is removed (unless <see cref="UpOptions.KeepOnFailure"/>) and <see cref="ComposeException"/> says why.
    /// </summary>
    public async Task UpAsync(ComposeProject project, UpOptions? options = null, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        options ??= new UpOptions();
        var made = new Made();
        try
        {
            EnsureNetworks(project, options.ExtraLabels, made, progress);
            EnsureVolumes(project, options.ExtraLabels, made, progress);
            var services = Selected(project, options);
            foreach (var svc in services)
            {
                await EnsureImageAsync(project, svc, options.Build, progress, cancellationToken).ConfigureAwait(false);
            }

            IReadOnlyList<PlanStep> plan = await PlanAsync(project, options, cancellationToken).ConfigureAwait(false);
            foreach (var step in plan.Where(s => s.Action == "remove"))
            {
                progress?.Report($"Container {step.Container}  Removing");
                await engine.Get(step.Container).RemoveAsync(force: true, cancellationToken).ConfigureAwait(false);
            }

            var changed = new HashSet<string>(plan.Where(s => s.Action is "create" or "recreate").Select(s => s.Service), StringComparer.Ordinal);
            foreach (var svc in services)
            {
                // depends_on.restart: a service whose dependency was (re)created is restarted even when it is unchanged
                if (svc.DependsOn.Any(d => d.Value.Restart && changed.Contains(d.Key)))
                {
                    plan = [.. plan.Select(s => s.Service == svc.Name && s.Action is "keep" or "start" ? s with { Action = "restart", Reason = "a dependency was recreated (depends_on.restart)" } : s)];
                }

                foreach (var (dep, condition) in svc.DependsOn)
                {
                    if (project.Services.ContainsKey(dep) && (!options.NoDeps || services.Any(s => s.Name == dep)))
                    {
                        await WaitForAsync(project, dep, condition.Condition, options.Timeout, progress, cancellationToken).ConfigureAwait(false);
                    }
                }

                foreach (var step in plan.Where(s => s.Service == svc.Name && s.Action != "remove"))
                {
                    await ApplyAsync(project, svc, step, options.InProcess, options.ExtraLabels, options.CgroupParent, made, progress, cancellationToken).ConfigureAwait(false);
                }
            }

            if (options.Wait)
            {
                foreach (var svc in services)
                {
                    await WaitForAsync(project, svc.Name, svc.HealthCheck is { IsDisabled: false } || HasImageHealthCheck(project.Name, svc.Name) ? "service_healthy" : "service_started", options.Timeout, progress, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (!options.KeepOnFailure && e is not OperationCanceledException)
        {
            await made.UndoAsync(engine).ConfigureAwait(false);
            throw e is ComposeException ? e : new ComposeException(e.Message, e);
        }
    }

    /// <summary>
    /// Stops and removes the project's containers (all of them with <paramref name="removeOrphans"/>, else those of
    /// its services), its networks, and with <paramref name="volumes"/> its named and anonymous volumes.
    /// </summary>
    public async Task DownAsync(ComposeProject project, bool volumes = false, bool removeOrphans = false, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        var containers = Ps(project.Name).Where(c => removeOrphans || project.Services.ContainsKey(c.Spec.Labels.GetValueOrDefault(ServiceLabel) ?? "") || c.Spec.Labels.GetValueOrDefault(OneOffLabel) == "True").ToList();
        var order = project.StartOrder().Select(s => s.Name).Reverse().ToList();
        await Task.WhenAll(containers.Select(async c =>
        {
            // dependents first: wait for the services that depend on this one to stop
            var h = engine.Get(c.Id);
            progress?.Report($"Container {c.Name}  Stopping");
            await h.StopAsync(project.Services.GetValueOrDefault(c.Spec.Labels.GetValueOrDefault(ServiceLabel) ?? "")?.StopGracePeriod, cancellationToken).ConfigureAwait(false);
        })).ConfigureAwait(false);
        foreach (var c in containers.OrderBy(c => order.IndexOf(c.Spec.Labels.GetValueOrDefault(ServiceLabel) ?? "")))
        {
            progress?.Report($"Container {c.Name}  Removed");
            var anonymous = volumes ? c.Spec.Mounts.Where(m => m.Type == MountType.Volume && engine.Volumes.List().Any(v => v.Name == m.Source && v.Anonymous)).Select(m => m.Source).ToList() : [];
            await engine.Get(c.Id).RemoveAsync(force: true, cancellationToken).ConfigureAwait(false);
            foreach (var v in anonymous)
            {
                engine.Volumes.Remove(v, force: true);
            }
        }

        foreach (var n in project.Networks.Values.Where(n => !n.External))
        {
            if (engine.Networks.List().Any(x => x.Name == n.Name))
            {
                progress?.Report($"Network {n.Name}  Removed");
                engine.Networks.Remove(n.Name);
            }
        }

        if (volumes)
        {
            foreach (var v in project.Volumes.Values.Where(v => !v.External))
            {
                if (engine.Volumes.List().Any(x => x.Name == v.Name))
                {
                    progress?.Report($"Volume {v.Name}  Removed");
                    engine.Volumes.Remove(v.Name, force: true);
                }
            }
        }
    }

    /// <summary>The image a service runs: its <c>image</c>, or <c>project-service</c> when only built.</summary>
    public static string ImageName(ComposeProject project, ServiceConfig service) => service.Image ?? $"{project?.Name}-{service?.Name}";

    /// <summary>The container name of replica <paramref name="number"/>.</summary>
    public static string ContainerName(ComposeProject project, ServiceConfig service, int number) =>
        service?.ContainerName ?? $"{project?.Name}-{service!.Name}-{number}";

    /// <summary>Builds (or, with <paramref name="force"/> false, builds only when missing) the images of built services.</summary>
    public async Task EnsureImageAsync(ComposeProject project, ServiceConfig svc, bool force, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var name = ImageName(project, svc);
        if (svc.Build is { } b && (force || svc.PullPolicy == "build" || engine.Images.Find(name) is null))
        {
            progress?.Report($"Service {svc.Name}  Building");
            string? inline = null;
            if (b.DockerfileInline is { } text)
            {
                inline = Path.Combine(Path.GetTempPath(), $"compose-inline-{Guid.NewGuid():N}.Dockerfile");
                await File.WriteAllTextAsync(inline, text, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                await engine.BuildAsync(new Build.BuildOptions
                {
                    ContextDirectory = b.Context,
                    DockerfilePath = inline ?? (b.Dockerfile is { } df ? Path.GetFullPath(df, b.Context) : null),
                    Tags = [name],
                    BuildArgs = b.Args.ToImmutableDictionary(),
                    Target = b.Target,
                }, progress is null ? null : new BuildProgress(svc.Name, progress), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (inline is not null)
                {
                    File.Delete(inline);
                }
            }

            progress?.Report($"Service {svc.Name}  Built");
            return;
        }

        var policy = svc.PullPolicy switch
        {
            "always" => Images.PullPolicy.Always,
            "never" or "build" => Images.PullPolicy.Never,
            _ => Images.PullPolicy.Missing,
        };
        if (policy != Images.PullPolicy.Missing || engine.Images.Find(name) is null)
        {
            progress?.Report($"Image {name}  Pulling");
        }

        await engine.Images.EnsureAsync(name, policy, null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The container spec of replica <paramref name="number"/> of a service.</summary>
    public ContainerSpec Spec(ComposeProject project, ServiceConfig svc, int number, string hash)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(svc);
        var labels = svc.Labels.ToImmutableDictionary()
            .SetItem(ProjectLabel, project.Name)
            .SetItem(ServiceLabel, svc.Name)
            .SetItem(NumberLabel, number.ToString(CultureInfo.InvariantCulture))
            .SetItem(OneOffLabel, "False")
            .SetItem(HashLabel, hash)
            .SetItem("com.docker.compose.project.working_dir", project.WorkingDirectory)
            .SetItem("com.docker.compose.project.config_files", string.Join(',', project.ConfigFiles));
        var attachments = svc.Networks.Select(kv => new NetworkAttachment(project.Networks[kv.Key].Name)
        {
            Aliases = [svc.Name, .. kv.Value.Aliases],
            IPv4Address = kv.Value.IPv4Address,
        }).ToImmutableArray();
        return new ContainerSpec
        {
            Image = ImageName(project, svc),
            Command = svc.Command ?? [],
            Entrypoint = svc.Entrypoint,
            Name = ContainerName(project, svc, number),
            Environment = [.. svc.Environment.Select(kv => $"{kv.Key}={kv.Value}")],
            WorkingDirectory = svc.WorkingDir,
            User = svc.User,
            Hostname = svc.Hostname,
            NetworkMode = svc.NetworkMode is { } nm ? Shared(project, nm) : attachments.Length > 0 ? attachments[0].Network : "none",
            Privileged = svc.Privileged,
            Init = svc.Init,
            Devices = svc.Devices,
            DeviceCgroupRules = svc.DeviceCgroupRules,
            PidMode = svc.Pid is { } pid ? Shared(project, pid) : "",
            UsernsMode = svc.UsernsMode ?? "",
            IpcMode = svc.Ipc is { } ipc ? Shared(project, ipc) : "",
            VolumesFrom = [.. svc.VolumesFrom.Select(v => v.StartsWith("container:", StringComparison.Ordinal) ? v["container:".Length..]
                : Shared(project, "service:" + v.Split(':')[0])["container:".Length..] + (v.Contains(':', StringComparison.Ordinal) ? v[v.IndexOf(':', StringComparison.Ordinal)..] : ""))],
            Networks = attachments,
            Ports = svc.Ports,
            ExposedPorts = svc.Expose,
            Mounts = svc.Mounts,
            Resources = svc.Resources,
            ReadOnlyRootfs = svc.ReadOnly,
            CgroupParent = svc.CgroupParent,
            Tty = svc.Tty,
            OpenStdin = svc.StdinOpen,
            CapAdd = svc.CapAdd,
            CapDrop = svc.CapDrop,
            Ulimits = svc.Ulimits,
            Restart = svc.Restart,
            StopSignal = svc.StopSignal,
            StopTimeout = svc.StopGracePeriod ?? TimeSpan.FromSeconds(10),
            HealthCheck = svc.HealthCheck,
            Labels = labels,
        } is var spec ? Security.SecurityOptions.Apply(spec, svc.SecurityOpt, path => File.ReadAllText(Path.Combine(project.WorkingDirectory, path))) : null!;
    }

    /// <summary>A mode that names another service's container (<c>service:NAME</c>) as the engine names it (<c>container:PROJECT-NAME-1</c>); other modes as they are.</summary>
    private static string Shared(ComposeProject project, string mode) =>
        mode.StartsWith("service:", StringComparison.Ordinal) && project.Services.TryGetValue(mode["service:".Length..], out var other)
            ? "container:" + ContainerName(project, other, 1)
            : mode.StartsWith("service:", StringComparison.Ordinal)
            ? throw new ComposeException($"{mode}: no such service in project {project.Name}")
            : mode;

    private async Task ApplyAsync(ComposeProject project, ServiceConfig svc, PlanStep step, bool inProcess, ImmutableDictionary<string, string> extraLabels, string? cgroupParent, Made made, IProgress<string>? progress, CancellationToken ct)
    {
        switch (step.Action)
        {
            case "keep":
                progress?.Report($"Container {step.Container}  Running");
                return;
            case "start":
                progress?.Report($"Container {step.Container}  Starting");
                await StartExistingAsync(engine.Get(step.Container), inProcess, ct).ConfigureAwait(false);

                progress?.Report($"Container {step.Container}  Started");
                return;
            case "restart":
                progress?.Report($"Container {step.Container}  Restarting");
                var running = engine.Get(step.Container);
                if (running.State.IsActive)
                {
                    await running.StopAsync(svc.StopGracePeriod, ct).ConfigureAwait(false);
                }

                await StartExistingAsync(running, inProcess, ct).ConfigureAwait(false);

                progress?.Report($"Container {step.Container}  Started");
                return;
            case "recreate":
                progress?.Report($"Container {step.Container}  Recreate");
                var old = engine.Get(step.Container);
                await old.StopAsync(svc.StopGracePeriod, ct).ConfigureAwait(false);
                await old.RemoveAsync(force: true, ct).ConfigureAwait(false);
                break;
            default:
                progress?.Report($"Container {step.Container}  Creating");
                break;
        }

        var number = int.Parse(step.Container == svc.ContainerName ? "1" : step.Container[(step.Container.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);
        var image = engine.Images.Find(ImageName(project, svc));
        var spec = Spec(project, svc, number, Hash(project, svc, image?.Id.ToString()));
        spec = spec with { Labels = spec.Labels.SetItems(extraLabels), CgroupParent = cgroupParent ?? spec.CgroupParent };
        var container = inProcess ? await engine.StartAsync(spec, null, ct).ConfigureAwait(false) : await engine.StartDetachedAsync(spec, ct).ConfigureAwait(false);
        made.Containers.Add(container.Id);
        progress?.Report($"Container {step.Container}  Started");
    }

    private static Task StartExistingAsync(Container container, bool inProcess, CancellationToken ct) =>
        inProcess ? container.StartAsync(null, ct) : container.StartDetachedAsync(ct);

    private bool HasImageHealthCheck(string project, string service) =>
        Ps(project).Any(c => c.Spec.Labels.GetValueOrDefault(ServiceLabel) == service && c.Spec.HealthCheck is { IsDisabled: false });

    /// <summary>Waits until <paramref name="service"/>'s containers meet <paramref name="condition"/>; throws naming it (and its last health output) when they cannot.</summary>
    public async Task WaitForAsync(ComposeProject project, string service, string condition, TimeSpan timeout, IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(project);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        var reported = false;
        while (true)
        {
            var containers = Ps(project.Name).Where(c => c.Spec.Labels.GetValueOrDefault(ServiceLabel) == service && c.Spec.Labels.GetValueOrDefault(OneOffLabel) != "True").ToList();
            if (containers.Count > 0)
            {
                switch (condition)
                {
                    case "service_healthy":
                        if (containers.FirstOrDefault(c => c.Health?.Status == "unhealthy" || (!c.IsActive && c.Status != ContainerStatus.Created)) is { } bad)
                        {
                            var last = bad.Health?.Log.LastOrDefault()?.Output.Trim();
                            throw new ComposeException($"dependency failed to start: container {bad.Name} is {(bad.IsActive ? "unhealthy" : "not running (exit " + bad.ExitCode.ToString(CultureInfo.InvariantCulture) + ")")}{(string.IsNullOrEmpty(last) ? "" : ": " + last)}");
                        }

                        if (containers.All(c => c.Spec.HealthCheck is null or { IsDisabled: true }))
                        {
                            throw new ComposeException($"service {service} has no health check: service_healthy cannot be met");
                        }

                        if (containers.All(c => c.Health?.Status == "healthy"))
                        {
                            progress?.Report($"Container {containers[0].Name}  Healthy");
                            return;
                        }

                        break;
                    case "service_completed_successfully":
                        if (containers.All(c => c.Status == ContainerStatus.Exited))
                        {
                            if (containers.FirstOrDefault(c => c.ExitCode != 0) is { } failed)
                            {
                                throw new ComposeException($"service \"{service}\" didn't complete successfully: exit {failed.ExitCode}");
                            }

                            progress?.Report($"Container {containers[0].Name}  Exited");
                            return;
                        }

                        break;
                    default:
                        if (containers.All(c => c.Status is ContainerStatus.Running or ContainerStatus.Exited))
                        {
                            return;
                        }

                        break;
                }
            }

            if (!reported)
            {
                progress?.Report($"Container {ContainerName(project, project.Services[service], 1)}  Waiting");
                reported = true;
            }

            try
            {
                await Task.Delay(50, cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                var last = containers.Select(c => c.Health?.Log.LastOrDefault()?.Output.Trim()).FirstOrDefault(o => !string.IsNullOrEmpty(o));
                throw new ComposeException($"service {service} did not become {condition.Replace("service_", "", StringComparison.Ordinal).Replace('_', ' ')} within {timeout.TotalSeconds:0}s{(last is null ? "" : "; last health check output: " + last)}");
            }
        }
    }

    private static List<ServiceConfig> Selected(ComposeProject project, UpOptions options)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        void Add(string name)
        {
            if (!project.Services.TryGetValue(name, out var s))
            {
                throw new ComposeException($"no such service: {name}");
            }

            if (wanted.Add(name) && !options.NoDeps)
            {
                foreach (var d in s.DependsOn.Keys.Where(project.Services.ContainsKey))
                {
                    Add(d);
                }
            }
        }

        foreach (var s in options.Services.IsDefaultOrEmpty ? project.Services.Keys : options.Services)
        {
            Add(s);
        }

        return [.. project.StartOrder().Where(s => wanted.Contains(s.Name))];
    }

    /// <summary>Build steps as progress lines of the service.</summary>
    private sealed class BuildProgress(string service, IProgress<string> progress) : IProgress<Build.BuildEvent>
    {
        public void Report(Build.BuildEvent value)
        {
            var text = value.Text.Split('\n')[0];
            progress.Report($"Service {service}  {(text.Length > 90 ? text[..90] + "…" : text)}");
        }
    }

}
