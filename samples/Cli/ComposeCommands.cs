using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json.Nodes;
using Containers.Compose;
using Containers.Runtime;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Containers.Cli;

/// <summary><c>containers compose [-f FILE]... [-p NAME] [--profile P] [--env-file F] [--project-directory D] VERB ...</c>.</summary>
internal static class ComposeCommands
{
    private static readonly string[] Colors = ["\u001b[36m", "\u001b[33m", "\u001b[32m", "\u001b[35m", "\u001b[34m", "\u001b[96m", "\u001b[93m", "\u001b[92m"];

    public static async Task<int> RunAsync(ContainerEngine engine, Args a)
    {
        var verb = a.Name;
        var rest = a.Positionals;
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

        var compose = new ComposeEngine(engine);
        var progress = new Progress(Console.Error);
        switch (verb)
        {
            case "config":
            {
                if (a.Has("quiet"))
                {
                    return 0;
                }

                if (a.Has("services"))
                {
                    foreach (var s in project.Services.Keys.Order(StringComparer.Ordinal))
                    {
                        Console.WriteLine(s);
                    }

                    return 0;
                }

                Console.Write(a.Get("format") == "json" ? project.Model.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n" : ToYaml(project.Model));
                return 0;
            }

            case "up":
            {
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

            case "down":
            {
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

            case "ps":
            {
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

                return 0;
            }

            case "logs":
            {
                var containers = compose.Ps(project.Name).Where(c => a.Positionals.Count == 0 || a.Positionals.Contains(Service(c))).ToList();
                await PrintLogsAsync(engine, project, containers, a.Has("follow"), a.Get("tail") is { } n && n != "all" ? int.Parse(n, CultureInfo.InvariantCulture) : null, !a.Has("no-color"), !a.Has("no-log-prefix"), CancellationToken.None).ConfigureAwait(false);
                return 0;
            }

            case "start" or "stop" or "restart" or "kill" or "rm":
            {
                var containers = compose.Ps(project.Name).Where(c => a.Positionals.Count == 0 || a.Positionals.Contains(Service(c))).ToList();
                var timeout = a.Get("timeout") is { } t ? TimeSpan.FromSeconds(int.Parse(t, CultureInfo.InvariantCulture)) : (TimeSpan?)null;
                foreach (var c in verb is "start" ? containers.OrderBy(c => Order(project, c)) : containers.OrderByDescending(c => Order(project, c)))
                {
                    var h = engine.Get(c.Id);
                    switch (verb)
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

            case "exec":
            {
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

            case "run":
            {
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

            case "build" or "pull":
            {
                foreach (var svc in project.StartOrder().Where(s => a.Positionals.Count == 0 || a.Positionals.Contains(s.Name)))
                {
                    if (verb == "build" && svc.Build is not null)
                    {
                        await compose.EnsureImageAsync(project, svc, force: true, progress, CancellationToken.None).ConfigureAwait(false);
                    }
                    else if (verb == "pull" && svc.Image is not null && svc.Build is null)
                    {
                        await ImageCommands.PullWithProgressAsync(engine, svc.Image, null, a.Has("quiet")).ConfigureAwait(false);
                    }
                }

                return 0;
            }

            case "port":
            {
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
                return 0;
            }

            case "scale":
            {
                var scale = a.Positionals.Select(x => x.Split('=', 2)).ToImmutableDictionary(
                    p => p[0], p => p.Length == 2 && int.TryParse(p[1], CultureInfo.InvariantCulture, out var n) && n >= 0 ? n : throw new UsageException($"invalid scale '{string.Join('=', p)}': expected SERVICE=NUMBER"));
                await compose.UpAsync(project, new UpOptions { Services = [.. scale.Keys], Scale = scale, NoDeps = a.Has("no-deps") }, progress).ConfigureAwait(false);
                return 0;
            }

            case "wait":
            {
                var containers = compose.Ps(project.Name).Where(c => a.Positionals.Count == 0 || a.Positionals.Contains(Service(c))).ToList();
                var exits = await Task.WhenAll(containers.Select(c => engine.Get(c.Id).WaitAsync())).ConfigureAwait(false);
                if (a.Has("down-project"))
                {
                    await compose.DownAsync(project, false, false, progress).ConfigureAwait(false);
                }

                return exits.Select(e => e.ExitCode).FirstOrDefault(code => code != 0);
            }

            case "events":
            {
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

            case "push":
            {
                foreach (var svc in project.Services.Values.Where(s => s.Image is not null && (rest.Count == 0 || rest.Contains(s.Name))))
                {
                    await engine.Images.PushAsync(svc.Image!).ConfigureAwait(false);
                    progress.Report($"Image {svc.Image}  Pushed");
                }

                return 0;
            }

            default:
                throw new UsageException($"unknown compose command '{verb}'", a.Verb);
        }
    }

    private static void Event(bool json, ContainerState c, string action) => Console.WriteLine(json
        ? new JsonObject
        {
            ["time"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["type"] = "container",
            ["action"] = action,
            ["id"] = c.Id,
            ["service"] = Service(c),
            ["attributes"] = new JsonObject { ["name"] = c.Name, ["image"] = c.Spec.Image },
        }.ToJsonString()
        : $"{DateTimeOffset.UtcNow:o} container {action} {c.Id} (image={c.Spec.Image}, name={c.Name})");

    private static string Service(ContainerState c) => c.Spec.Labels.GetValueOrDefault(ComposeEngine.ServiceLabel) ?? "";

    private static int Order(ComposeProject project, ContainerState c) =>
        project.StartOrder().Select(s => s.Name).ToList().IndexOf(Service(c));

    /// <summary>Follows every container's output with coloured <c>name  | </c> prefixes until they all exit (or one does, with <paramref name="abortOnExit"/>), or Ctrl+C stops the stack.</summary>
    private static async Task<int> AttachAsync(ComposeEngine compose, ComposeProject project, bool abortOnExit, string? exitCodeFrom, bool color)
    {
        using var cts = new CancellationTokenSource();
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, ctx =>
        {
            ctx.Cancel = true;
            cts.Cancel();
        });
        var containers = compose.Ps(project.Name).Where(c => c.Spec.Labels.GetValueOrDefault(ComposeEngine.OneOffLabel) != "True").ToList();
        var logs = PrintLogsAsync(compose.Engine, project, containers, follow: true, tail: null, color, prefix: true, cts.Token);
        var waits = containers.Select(c => compose.Engine.Get(c.Id).WaitAsync(cts.Token)).ToList();
        try
        {
            if (abortOnExit)
            {
                await Task.WhenAny(waits).ConfigureAwait(false);
            }
            else
            {
                await Task.WhenAll(waits).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Console.Error.WriteLineAsync(cts.IsCancellationRequested ? "Gracefully stopping... (press Ctrl+C again to force)" : "Aborting on container exit...").ConfigureAwait(false);
        foreach (var c in containers)
        {
            var h = compose.Engine.Get(c.Id);
            if (h.State.IsActive)
            {
                await h.StopAsync().ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"Container {c.Name}  Stopped").ConfigureAwait(false);
            }
        }

        // every follower ends by itself once its container has exited and its log is drained; then the rest is cut
        try
        {
            await logs.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }

        await cts.CancelAsync().ConfigureAwait(false);

        if (exitCodeFrom is not null)
        {
            return compose.Ps(project.Name).FirstOrDefault(c => Service(c) == exitCodeFrom)?.ExitCode ?? 1;
        }

        return compose.Ps(project.Name).Where(c => containers.Any(x => x.Id == c.Id)).Select(c => c.ExitCode).FirstOrDefault(code => code != 0);
    }

    private static async Task PrintLogsAsync(ContainerEngine engine, ComposeProject project, List<ContainerState> containers, bool follow, int? tail, bool color, bool prefix, CancellationToken ct)
    {
        var width = containers.Count == 0 ? 0 : containers.Max(c => c.Name.Length);
        var gate = new Lock();
        var services = project.Services.Keys.Order(StringComparer.Ordinal).ToList();
        await Task.WhenAll(containers.Select(async c =>
        {
            var colour = color && !Console.IsOutputRedirected ? Colors[Math.Max(0, services.IndexOf(Service(c))) % Colors.Length] : "";
            var reset = colour.Length > 0 ? "\u001b[0m" : "";
            var head = prefix ? $"{colour}{c.Name.PadRight(width)}  | {reset}" : "";
            try
            {
                await foreach (var line in engine.Get(c.Id).GetLogsAsync(follow, tail, ct).ConfigureAwait(false))
                {
                    lock (gate)
                    {
                        Console.Out.Write(head + line.Text.TrimEnd('\n') + "\n");
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })).ConfigureAwait(false);
        await Console.Out.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The resolved model as YAML, written event by event (no reflection: NativeAOT-safe).</summary>
    private static string ToYaml(JsonNode node)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var emitter = new Emitter(writer);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        Emit(emitter, node);
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    private static void Emit(IEmitter e, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                e.Emit(new MappingStart());
                foreach (var (k, v) in o)
                {
                    e.Emit(new Scalar(k));
                    Emit(e, v);
                }

                e.Emit(new MappingEnd());
                break;
            case JsonArray a:
                e.Emit(new SequenceStart(null, null, false, SequenceStyle.Block));
                foreach (var v in a)
                {
                    Emit(e, v);
                }

                e.Emit(new SequenceEnd());
                break;
            case null:
                e.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                break;
            case JsonValue v when v.TryGetValue<string>(out var s):
                e.Emit(new Scalar(null, null, s, ScalarStyle.Any, true, true));
                break;
            default:
                e.Emit(new Scalar(null, null, node.ToJsonString(), ScalarStyle.Plain, true, false));
                break;
        }
    }

    /// <summary>docker compose's progress lines on stderr.</summary>
    private sealed class Progress(TextWriter writer) : IProgress<string>
    {
        public void Report(string value) => writer.WriteLine(" ✔ " + value);
    }
}
