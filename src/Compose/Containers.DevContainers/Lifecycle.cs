using System.Text;

namespace Containers.DevContainers;

/// <summary>
/// The lifecycle commands in the container, as the reference implementation runs them: onCreateCommand,
/// updateContentCommand and postCreateCommand once per container, postStartCommand once per start (marker files in
/// the remote user's <c>~/.devcontainer</c> holding the container's creation or start time, the same files the
/// reference writes), then postAttachCommand; as the remote user, in the workspace folder, with remoteEnv.
/// </summary>
internal static class Lifecycle
{
    public static async Task RunAsync(DevContainer dev, DevContainerOptions options, CancellationToken ct)
    {
        var log = options.Log ?? (_ => { });
        var state = dev.Container.State;
        var waitFor = dev.Metadata.WaitFor ?? "updateContentCommand";
        var env = await EnvironmentAsync(dev, ct).ConfigureAwait(false);
        foreach (var name in DevContainerMetadata.LifecycleCommands)
        {
            if (name == "postAttachCommand" && options.SkipPostAttach)
            {
                break;
            }

            var commands = dev.Metadata.Commands(name);
            if (!commands.IsEmpty)
            {
                var marker = name switch
                {
                    "postStartCommand" => Time(state.StartedAt ?? state.Created),
                    "postAttachCommand" => null,
                    _ => Time(state.Created),
                };
                if (marker is null || await MarkAsync(dev, name, marker, log, ct).ConfigureAwait(false))
                {
                    foreach (var (origin, command) in commands)
                    {
                        log($"Running the {name} from {origin}...");
                        await RunCommandAsync(dev, name, command, env, log, ct).ConfigureAwait(false);
                    }
                }
            }

            if (options.SkipNonBlockingCommands && name == waitFor)
            {
                break;
            }
        }
    }

    /// <summary>docker inspect's time format, the text of the reference implementation's markers.</summary>
    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);

    /// <summary>
    /// Writes the marker of <paramref name="name"/>; true when it held another time (the command is due). Written as
    /// the remote user, as the reference writes it; where the user cannot write their home, as root (a marker that
    /// cannot be written would otherwise skip the command without a word).
    /// </summary>
    private static async Task<bool> MarkAsync(DevContainer dev, string name, string time, Action<string> log, CancellationToken ct)
    {
        // exit 0: written (due); 1: the same time (done); 2: not writable
        var script = $"mkdir -p \"$HOME/.devcontainer\" 2>/dev/null && CONTENT=\"$(cat \"$HOME/.devcontainer/.{name}Marker\" 2>/dev/null || echo ENOENT)\" || exit 2; [ \"${{CONTENT:-{time}}}\" != '{time}' ] || exit 1; echo '{time}' 2>/dev/null > \"$HOME/.devcontainer/.{name}Marker\" || exit 2";
        var code = await RunQuietAsync(dev, script, dev.RemoteUser, [], ct).ConfigureAwait(false);
        if (code == 2)
        {
            var home = (await dev.Container.ExecAsync(["/bin/sh", "-c", "getent passwd \"$1\" 2>/dev/null | cut -d: -f6 || true", "-", dev.RemoteUser], ct).ConfigureAwait(false)).Stdout.Trim();
            home = home.Length > 0 ? home : (await dev.Container.StartExecAsync(new ExecOptions { Command = ["/bin/sh", "-c", "echo $HOME"], User = dev.RemoteUser }, ct).ConfigureAwait(false) is var e ? await ReadHomeAsync(e, ct).ConfigureAwait(false) : "/");
            log($"{dev.RemoteUser} cannot write {home}/.devcontainer: the {name} marker is written as root");
            code = await RunQuietAsync(dev, script, "root", [$"HOME={home}"], ct).ConfigureAwait(false);
        }

        return code == 0;
    }

    private static async Task<string> ReadHomeAsync(ExecProcess exec, CancellationToken ct)
    {
        await using (exec.ConfigureAwait(false))
        {
            var home = await new StreamReader(exec.StandardOutput).ReadToEndAsync(ct).ConfigureAwait(false);
            await exec.WaitAsync(ct).ConfigureAwait(false);
            return home.Trim() is { Length: > 0 } h ? h : "/";
        }
    }

    private static async Task<int> RunQuietAsync(DevContainer dev, string script, string user, ImmutableArray<string> env, CancellationToken ct)
    {
        await using var exec = await dev.Container.StartExecAsync(new ExecOptions { Command = ["/bin/sh", "-c", script], User = user, Environment = env }, ct).ConfigureAwait(false);
        var drain = Task.WhenAll(exec.StandardOutput.CopyToAsync(Stream.Null, ct), exec.StandardError.CopyToAsync(Stream.Null, ct));
        var code = await exec.WaitAsync(ct).ConfigureAwait(false);
        await drain.ConfigureAwait(false);
        return code;
    }

    private static async Task RunCommandAsync(DevContainer dev, string name, JsonNode command, ImmutableArray<string> env, Action<string> log, CancellationToken ct)
    {
        async Task One(string? key, JsonNode c)
        {
            var argv = Argv(c, dev.Config, name);
            await using var exec = await dev.Container.StartExecAsync(new ExecOptions { Command = argv, User = dev.RemoteUser, WorkingDirectory = dev.WorkspaceFolder, Environment = env }, ct).ConfigureAwait(false);
            var prefix = key is null ? "" : $"[{key}] ";
            var outTask = Lines(exec.StandardOutput, l => log(prefix + l), ct);
            var errTask = Lines(exec.StandardError, l => log(prefix + l), ct);
            var code = await exec.WaitAsync(ct).ConfigureAwait(false);
            await Task.WhenAll(outTask, errTask).ConfigureAwait(false);
            if (code != 0)
            {
                throw new DevContainerCommandException(key is null ? name : $"{name} ({key})", Describe(c), code, dev.Container.Id);
            }
        }

        if (command is JsonObject parallel)
        {
            await Task.WhenAll(parallel.Where(kv => kv.Value is not null).Select(kv => One(kv.Key, kv.Value!))).ConfigureAwait(false);
        }
        else
        {
            await One(null, command).ConfigureAwait(false);
        }
    }

    private static async Task Lines(Stream stream, Action<string> line, CancellationToken ct)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } l)
        {
            line(l);
        }
    }

    /// <summary>A command's argv: a string through <c>/bin/sh -c</c>, an array as it is.</summary>
    public static ImmutableArray<string> Argv(JsonNode command, DevContainerConfig config, string name) => command switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => ["/bin/sh", "-c", s],
        JsonArray a when a.Count > 0 && a.All(x => DevContainerMetadata.Str(x) is not null) => [.. a.Select(x => DevContainerMetadata.Str(x)!)],
        _ => throw new DevContainerException($"{config.ConfigFile}: '{name}' must be a string, an array of strings or an object of them, not {command.ToJsonString()}"),
    };

    /// <summary>A command as the user wrote it, for messages.</summary>
    public static string Describe(JsonNode command) => command switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonArray a => string.Join(' ', a.Select(x => DevContainerMetadata.Str(x) ?? x?.ToJsonString())),
        _ => command.ToJsonString(),
    };

    /// <summary>
    /// The environment of the remote user's commands: what userEnvProbe's shell (default a login interactive shell)
    /// sets up, then remoteEnv (with <c>${containerEnv:X}</c> from the container's environment; null unsets).
    /// </summary>
    public static async Task<ImmutableArray<string>> EnvironmentAsync(DevContainer dev, CancellationToken ct)
    {
        var containerEnv = dev.Container.State.Spec.Environment.Select(e => e.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        var probe = dev.Metadata.UserEnvProbe ?? "loginInteractiveShell";
        if (probe != "none")
        {
            foreach (var (k, v) in await ProbeAsync(dev, probe, ct).ConfigureAwait(false))
            {
                env[k] = v;
            }
        }

        foreach (var (k, v) in dev.Metadata.RemoteEnv)
        {
            if (v is null)
            {
                env.Remove(k);
            }
            else
            {
                env[k] = DevContainerConfig.ContainerEnv(v, containerEnv);
            }
        }

        return [.. env.Select(kv => $"{kv.Key}={kv.Value}")];
    }

    private static async Task<Dictionary<string, string>> ProbeAsync(DevContainer dev, string probe, CancellationToken ct)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = probe switch
        {
            "loginShell" => "-lc",
            "interactiveShell" => "-ic",
            _ => "-lic",
        };
        try
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
            limit.CancelAfter(TimeSpan.FromSeconds(10));
            var shell = await ShellAsync(dev, limit.Token).ConfigureAwait(false);
            await using var exec = await dev.Container.StartExecAsync(new ExecOptions { Command = [shell, flags, "cat /proc/self/environ"], User = dev.RemoteUser }, limit.Token).ConfigureAwait(false);
            var stdout = new MemoryStream();
            var copy = exec.StandardOutput.CopyToAsync(stdout, limit.Token);
            _ = exec.StandardError.CopyToAsync(Stream.Null, limit.Token);
            var code = await exec.WaitAsync(limit.Token).ConfigureAwait(false);
            await copy.ConfigureAwait(false);
            if (code != 0)
            {
                return result;
            }

            foreach (var entry in Encoding.UTF8.GetString(stdout.ToArray()).Split('\0', StringSplitOptions.RemoveEmptyEntries))
            {
                var kv = entry.Split('=', 2);
                if (kv.Length == 2 && kv[0] is not ("_" or "PWD" or "OLDPWD" or "SHLVL" or "HOSTNAME"))
                {
                    result[kv[0]] = kv[1];
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ContainerException or IOException && !ct.IsCancellationRequested)
        {
            // no probe: the container's own environment serves, as in the reference when its probe fails
        }

        return result;
    }

    /// <summary>The remote user's login shell (from the container's passwd), else /bin/sh.</summary>
    private static async Task<string> ShellAsync(DevContainer dev, CancellationToken ct)
    {
        var r = await dev.Container.ExecAsync(["/bin/sh", "-c", "getent passwd \"$1\" 2>/dev/null || grep \"^$1:\" /etc/passwd", "-", dev.RemoteUser], ct).ConfigureAwait(false);
        var shell = r.ExitCode == 0 ? r.Stdout.Trim().Split('\n')[0].Split(':') is { Length: 7 } f ? f[6] : "" : "";
        return shell is "" or "/usr/sbin/nologin" or "/bin/false" or "/sbin/nologin" ? "/bin/sh" : shell;
    }
}
