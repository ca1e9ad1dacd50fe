using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Nodes;
using Containers.Compose;
using Containers.Runtime;

namespace Containers.Cli;

/// <summary><c>containers compose VERB</c>: each verb (declared in ComposeVerbs) loads the project and runs its method.</summary>
internal static partial class ComposeCommands
{
    public static async Task<int> RunAsync(ContainerEngine engine, Args a)
    {
        var project = ComposeLoader.Load(new ComposeOptions
        {
            Files = [.. a.All("file")],
            ProjectName = a.Get("project-name"),
            Profiles = [.. a.All("profile")],
            EnvFiles = [.. a.All("env-file")],
            WorkingDirectory = a.Get("project-directory"),
        });
        foreach (var w in project.Warnings)
        {
            await Console.Error.WriteLineAsync("WARN[0000] " + w).ConfigureAwait(false);
        }

        var stack = new Stack(engine, new ComposeEngine(engine), project, new Progress(Console.Error));
        return await (a.Name switch
        {
            "config" => ConfigAsync(stack, a),
            "up" => UpAsync(stack, a),
            "down" => DownAsync(stack, a),
            "ps" => PsAsync(stack, a),
            "logs" => LogsAsync(stack, a),
            "start" or "stop" or "restart" or "kill" or "rm" => LifecycleAsync(stack, a),
            "exec" => ExecAsync(stack, a),
            "run" => RunOneAsync(stack, a),
            "build" or "pull" => BuildOrPullAsync(stack, a),
            "port" => PortAsync(stack, a),
            "scale" => ScaleAsync(stack, a),
            "wait" => WaitAsync(stack, a),
            "events" => EventsAsync(stack, a),
            "push" => PushAsync(stack, a),
            _ => throw new UsageException($"unknown compose command '{a.Name}'", a.Verb),
        }).ConfigureAwait(false);
    }

    private static Task<int> ConfigAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        if (a.Has("quiet"))
        {
            return Task.FromResult(0);
        }

        if (a.Has("services"))
        {
            foreach (var s in project.Services.Keys.Order(StringComparer.Ordinal))
            {
                Console.WriteLine(s);
            }

            return Task.FromResult(0);
        }

        Console.Write(a.Get("format") == "json" ? project.Model.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n" : ToYaml(project.Model));
        return Task.FromResult(0);
    }

    private static async Task<int> UpAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        var scale = a.All("scale").Select(s => s.Split('=', 2)).ToImmutableDictionary(
            p => p[0], p => p.Length == 2 && int.TryParse(p[1], CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new UsageException($"invalid --scale '{string.Join('=', p)}': expected SERVICE=NUMBER"));
        var options = new UpOptions
        {
            Services = [.. a.Positionals],
            Build = a.Has("build"),
            ForceRecreate = a.Has("force-recreate"),
            NoDeps = a.Has("no-deps"),
            RemoveOrphans = a.Has("remove-orphans"),
            Scale = scale,
            Wait = a.Has("wait"),
            Timeout = a.Get("wait-timeout") is { } t ? TimeSpan.FromSeconds(int.Parse(t, CultureInfo.InvariantCulture)) : TimeSpan.FromMinutes(5),
        };
        await compose.UpAsync(project, options, progress).ConfigureAwait(false);
        if (a.Has("detach") || a.Has("wait"))
        {
            return 0;
        }

        return await AttachAsync(compose, project, a.Has("abort-on-container-exit") || a.Get("exit-code-from") is not null, a.Get("exit-code-from"), !a.Has("no-color")).ConfigureAwait(false);
    }

    private static async Task<int> DownAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        await compose.DownAsync(project, a.Has("volumes"), a.Has("remove-orphans"), progress).ConfigureAwait(false);
        if (a.Get("rmi") is { } rmi)
        {
            foreach (var s in project.Services.Values.Where(s => rmi == "all" || s.Image is null))
            {
                try
                {
                    engine.Images.Remove(ComposeEngine.ImageName(project, s));
                }
                catch (ContainerException)
                {
                }
            }
        }

        return 0;
    }

    private static Task<int> PsAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        var list = compose.Ps(project.Name, a.Has("all")).Where(c => a.Positionals.Count == 0 || a.Positionals.Contains(Service(c))).ToList();
        if (a.Has("quiet"))
        {
            list.ForEach(c => Console.WriteLine(c.Id));
        }
        else if (a.Has("services"))
        {
            foreach (var s in list.Select(Service).Distinct())
            {
                Console.WriteLine(s);
            }
        }
        else if (a.Get("format") == "json")
        {
            Console.WriteLine(new JsonArray([.. list.Select(c => (JsonNode)new JsonObject
            {
                ["ID"] = c.Id[..12],
                ["Name"] = c.Name,
                ["Image"] = c.Spec.Image,
                ["Project"] = project.Name,
                ["Service"] = Service(c),
                ["State"] = c.Status.ToString().ToLowerInvariant(),
                ["Health"] = c.Health?.Status ?? "",
                ["ExitCode"] = c.ExitCode,
                ["Status"] = Commands.Status(c),
                ["Publishers"] = new JsonArray([.. c.Ports.Select(p => (JsonNode)new JsonObject { ["URL"] = p.HostIp, ["TargetPort"] = p.ContainerPort, ["PublishedPort"] = p.HostPort, ["Protocol"] = p.Protocol })]),
            })]).ToJsonString());
        }
        else
        {
            var rows = list.Select(c => new[] { c.Name, c.Spec.Image ?? "", Service(c), Commands.Status(c), string.Join(", ", c.Ports.Select(p => $"{p.HostIp}:{p.HostPort}->{p.ContainerPort}/{p.Protocol}")) }).ToList();
            rows.Insert(0, ["NAME", "IMAGE", "SERVICE", "STATUS", "PORTS"]);
            Commands.PrintTable(rows);
        }

        return Task.FromResult(0);
    }

    private static async Task<int> LogsAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        var containers = compose.Ps(project.Name).Where(c => a.Positionals.Count == 0 || a.Positionals.Contains(Service(c))).ToList();
        await PrintLogsAsync(engine, project, containers, a.Has("follow"), a.Get("tail") is { } n && n != "all" ? int.Parse(n, CultureInfo.InvariantCulture) : null, !a.Has("no-color"), !a.Has("no-log-prefix"), CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> LifecycleAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        var containers = compose.Ps(project.Name).Where(c => a.Positionals.Count == 0 || a.Positionals.Contains(Service(c))).ToList();
        var timeout = a.Get("timeout") is { } t ? TimeSpan.FromSeconds(int.Parse(t, CultureInfo.InvariantCulture)) : (TimeSpan?)null;
        foreach (var c in a.Name is "start" ? containers.OrderBy(c => Order(project, c)) : containers.OrderByDescending(c => Order(project, c)))
        {
            var h = engine.Get(c.Id);
            switch (a.Name)
            {
                case "start" when !c.IsActive:
                    await h.StartDetachedAsync().ConfigureAwait(false);
                    progress.Report($"Container {c.Name}  Started");
                    break;
                case "stop" when c.IsActive:
                    await h.StopAsync(timeout).ConfigureAwait(false);
                    progress.Report($"Container {c.Name}  Stopped");
                    break;
                case "restart":
                    if (c.IsActive)
                    {
                        await h.StopAsync(timeout).ConfigureAwait(false);
                    }

                    await h.StartDetachedAsync().ConfigureAwait(false);
                    progress.Report($"Container {c.Name}  Started");
                    break;
                case "kill" when c.IsActive:
                    await h.KillAsync(a.Get("signal") ?? "SIGKILL").ConfigureAwait(false);
                    progress.Report($"Container {c.Name}  Killed");
                    break;
                case "rm" when !c.IsActive || a.Has("stop"):
                    await h.RemoveAsync(force: true).ConfigureAwait(false);
                    progress.Report($"Container {c.Name}  Removed");
                    break;
            }
        }

        return 0;
    }

    private static async Task<int> ExecAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        if (a.Positionals.Count < 2)
        {
            throw new UsageException("\"compose exec\" requires a service and a command");
        }

        var index = a.Get("index") ?? "1";
        var c = compose.Ps(project.Name, all: false).FirstOrDefault(x => Service(x) == a.Positionals[0] && x.Spec.Labels.GetValueOrDefault(ComposeEngine.NumberLabel) == index)
            ?? throw new ContainerNotFoundException($"service \"{a.Positionals[0]}\" is not running");
        var terminal = !a.Has("no-TTY") && !Console.IsInputRedirected;
        return await Commands.ExecInAsync(engine, c.Name, new ExecOptions
        {
            Command = [.. a.Positionals.Skip(1)],
            Environment = [.. a.All("env")],
            User = a.Get("user"),
            WorkingDirectory = a.Get("workdir"),
            Tty = terminal,
            OpenStdin = terminal,
        }).ConfigureAwait(false);
    }

    private static async Task<int> RunOneAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        if (a.Positionals.Count < 1 || !project.Services.TryGetValue(a.Positionals[0], out var svc))
        {
            throw new UsageException("\"compose run\" requires a service of the project");
        }

        if (!a.Has("no-deps") && svc.DependsOn.Count > 0)
        {
            await compose.UpAsync(project, new UpOptions { Services = [.. svc.DependsOn.Keys.Where(project.Services.ContainsKey)] }, progress).ConfigureAwait(false);
        }

        await compose.EnsureImageAsync(project, svc, a.Has("build"), progress, CancellationToken.None).ConfigureAwait(false);
        var spec = compose.Spec(project, svc, 1, "");
        spec = spec with
        {
            Name = a.Get("name") ?? $"{project.Name}-{svc.Name}-run-{Guid.NewGuid().ToString("N")[..12]}",
            Command = a.Positionals.Count > 1 ? [.. a.Positionals.Skip(1)] : spec.Command,
            Entrypoint = a.Get("entrypoint") is { } ep ? [ep] : spec.Entrypoint,
            Environment = spec.Environment.AddRange(a.All("env")),
            User = a.Get("user") ?? spec.User,
            WorkingDirectory = a.Get("workdir") ?? spec.WorkingDirectory,
            Ports = [],
            Restart = RestartPolicy.No,
            AutoRemove = a.Has("rm"),
            Labels = spec.Labels.SetItem(ComposeEngine.OneOffLabel, "True").Remove(ComposeEngine.HashLabel),
        };
        if (a.Has("detach"))
        {
            Console.WriteLine((await engine.StartDetachedAsync(spec).ConfigureAwait(false)).Name);
            return 0;
        }

        using var stdout = Console.OpenStandardOutput();
        using var stderr = Console.OpenStandardError();
        var gate = new Lock();
        var c = await engine.StartAsync(spec, (stream, bytes) =>
        {
            lock (gate)
            {
                (stream == "stderr" ? stderr : stdout).Write(bytes.Span);
            }
        }).ConfigureAwait(false);
        await using (c)
        {
            var exit = await c.WaitAsync().ConfigureAwait(false);
            if (!a.Has("rm"))
            {
                c.Keep();
            }

            return exit.ExitCode;
        }
    }

    private static async Task<int> BuildOrPullAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        foreach (var svc in project.StartOrder().Where(s => a.Positionals.Count == 0 || a.Positionals.Contains(s.Name)))
        {
            if (a.Name == "build" && svc.Build is not null)
            {
                await compose.EnsureImageAsync(project, svc, force: true, progress, CancellationToken.None).ConfigureAwait(false);
            }
            else if (a.Name == "pull" && svc.Image is not null && svc.Build is null)
            {
                await ImageCommands.PullWithProgressAsync(engine, svc.Image, null, a.Has("quiet")).ConfigureAwait(false);
            }
        }

        return 0;
    }

    private static Task<int> PortAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        if (a.Positionals.Count != 2 || !int.TryParse(a.Positionals[1], CultureInfo.InvariantCulture, out var port))
        {
            throw new UsageException("\"compose port\" requires SERVICE PRIVATE_PORT");
        }

        var index = a.Get("index") ?? "1";
        var c = compose.Ps(project.Name, all: false).FirstOrDefault(x => Service(x) == a.Positionals[0] && x.Spec.Labels.GetValueOrDefault(ComposeEngine.NumberLabel) == index)
            ?? throw new ContainerNotFoundException($"service \"{a.Positionals[0]}\" is not running");
        var binding = c.Ports.FirstOrDefault(p => p.ContainerPort == port && p.Protocol == (a.Get("protocol") ?? "tcp"))
            ?? throw new ContainerNotFoundException($"no port {port} is published by {c.Name}");
        Console.WriteLine($"{binding.HostIp}:{binding.HostPort}");
        return Task.FromResult(0);
    }

    private static async Task<int> ScaleAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        var scale = a.Positionals.Select(x => x.Split('=', 2)).ToImmutableDictionary(
            p => p[0], p => p.Length == 2 && int.TryParse(p[1], CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new UsageException($"invalid scale '{string.Join('=', p)}': expected SERVICE=NUMBER"));
        await compose.UpAsync(project, new UpOptions { Services = [.. scale.Keys], Scale = scale, NoDeps = a.Has("no-deps") }, progress).ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> WaitAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        var containers = compose.Ps(project.Name).Where(c => a.Positionals.Count == 0 || a.Positionals.Contains(Service(c))).ToList();
        var exits = await Task.WhenAll(containers.Select(c => engine.Get(c.Id).WaitAsync())).ConfigureAwait(false);
        if (a.Has("down-project"))
        {
            await compose.DownAsync(project, false, false, progress).ConfigureAwait(false);
        }

        return exits.Select(e => e.ExitCode).FirstOrDefault(code => code != 0);
    }

    private static async Task<int> EventsAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        var last = new Dictionary<string, string>();
        while (!cts.IsCancellationRequested)
        {
            var now = compose.Ps(project.Name).ToDictionary(c => c.Id, c => c);
            foreach (var (id, c) in now)
            {
                var status = c.Status.ToString().ToLowerInvariant() + (c.Health is { } h ? "/" + h.Status : "");
                if (last.GetValueOrDefault(id) != status)
                {
                    var action = last.ContainsKey(id) ? c.Status switch { ContainerStatus.Running => c.Health is { } hh && last[id].StartsWith("running", StringComparison.Ordinal) ? "health_status: " + hh.Status : "start", ContainerStatus.Exited => "die", _ => status } : "create";
                    Event(a.Has("json"), c, action);
                    last[id] = status;
                }
            }

            foreach (var gone in last.Keys.Where(k => !now.ContainsKey(k)).ToList())
            {
                Console.WriteLine(a.Has("json") ? new JsonObject { ["time"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture), ["type"] = "container", ["action"] = "destroy", ["id"] = gone }.ToJsonString() : $"{DateTimeOffset.UtcNow:o} container destroy {gone}");
                last.Remove(gone);
            }

            try
            {
                await Task.Delay(200, cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        return 0;
    }

    private static async Task<int> PushAsync(Stack stack, Args a)
    {
        var (engine, compose, project, progress) = stack;
        foreach (var svc in project.Services.Values.Where(s => s.Image is not null && (a.Positionals.Count == 0 || a.Positionals.Contains(s.Name))))
        {
            await engine.Images.PushAsync(svc.Image!).ConfigureAwait(false);
            progress.Report($"Image {svc.Image}  Pushed");
        }

        return 0;
    }

    /// <summary>What a compose verb runs on: the engine, compose over it, the loaded project and the progress printer.</summary>
    private sealed record Stack(ContainerEngine Engine, ComposeEngine Compose, ComposeProject Project, Progress Progress);

    private static string Service(ContainerState c) => c.Spec.Labels.GetValueOrDefault(ComposeEngine.ServiceLabel) ?? "";

    private static int Order(ComposeProject project, ContainerState c) =>
        project.StartOrder().Select(s => s.Name).ToList().IndexOf(Service(c));
}
