using Containers.DockerApi.Models;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using System.Threading.Channels;

namespace Containers.DockerApi;

/// <summary>
/// What streams a container's or an exec's output: attach (the live output of containers this process supervises, or
/// the followed log of others), exec create/start/inspect/resize, and the live output hub <see cref="StartAsync"/> feeds.
/// </summary>
internal sealed class StreamEndpoints(ContainerEngine engine, EventHub events)
{
    private readonly ConcurrentDictionary<string, ImmutableList<Channel<(int Stream, byte[] Data)>>> attached = new();
    private readonly ConcurrentDictionary<string, int> exits = new();
    private readonly ConcurrentDictionary<string, ExecRecord> execs = new();

    /// <summary>The exit code a removed (--rm) container ended with, recorded when its supervisor finished.</summary>
    public bool TryTakeExit(string id, out int code) => exits.TryRemove(id, out code);

    public bool HasExit(string id) => exits.ContainsKey(id);

    /// <summary>Starts <paramref name="c"/> supervised by this process, feeding attached clients.</summary>
    public async Task StartAsync(Container c)
    {
        try
        {
            await c.StartAsync((stream, bytes) =>
            {
                var copy = bytes.ToArray();
                foreach (var ch in attached.GetValueOrDefault(c.Id) ?? [])
                {
                    ch.Writer.TryWrite((stream == "stderr" ? 2 : 1, copy));
                }
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ContainerConflictException)
        {
            // nothing will come: the clients attached for this start get the end of their streams, not a wait
            // forever (a conflict is a container already running: its clients stay attached)
            CompleteAttached(c.Id);
            throw;
        }

        events.Publish("container", "start", c.Id, c.Name);
        _ = c.WaitAsync().ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully)
            {
                exits[c.Id] = t.Result.ExitCode;
                events.Publish("container", "die", c.Id, c.Name, ("exitCode", t.Result.ExitCode.ToString(CultureInfo.InvariantCulture)));
            }

            CompleteAttached(c.Id);
        }, TaskScheduler.Default);
    }

    private void CompleteAttached(string id)
    {
        if (attached.TryRemove(id, out var channels))
        {
            foreach (var ch in channels)
            {
                ch.Writer.TryComplete();
            }
        }
    }

    /// <summary>POST /containers/{id}/attach, on the hijacked connection.</summary>
    public async Task AttachAsync(HijackedRequest req, string id)
    {
        Container c;
        ContainerState state;
        try
        {
            c = engine.Get(id);
            state = c.State;
        }
        catch (ContainerNotFoundException)
        {
            await req.ErrorAsync(404, $"No such container: {id}").ConfigureAwait(false);
            return;
        }

        var tty = state.Spec.Tty;
        var supervised = c.IsSupervisedHere;
        Channel<(int Stream, byte[] Data)>? channel = null;
        if (state.Status == ContainerStatus.Created || supervised)
        {
            channel = Channel.CreateUnbounded<(int Stream, byte[] Data)>();
            attached.AddOrUpdate(c.Id, _ => [channel], (_, list) => list.Add(channel));
        }

        await req.UpgradeAsync(tty).ConfigureAwait(false);
        var frames = new FrameWriter(req.Output.AsStream(leaveOpen: true), tty);
        var wantOut = !req.Query.ContainsKey("stdout") || req.Flag("stdout");
        var wantErr = !req.Query.ContainsKey("stderr") || req.Flag("stderr");
        if (req.Flag("stdin"))
        {
            _ = PumpStdinAsync(req.Input, c, state.Spec);
        }

        if (req.Flag("logs"))
        {
            await foreach (var e in c.GetLogsAsync(follow: false).ConfigureAwait(false))
            {
                await WriteEntryAsync(frames, e, wantOut, wantErr, timestamps: false).ConfigureAwait(false);
            }
        }

        if (channel is not null)
        {
            await foreach (var (stream, data) in channel.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (stream == 1 ? wantOut : wantErr)
                {
                    await frames.WriteAsync(stream, data).ConfigureAwait(false);
                }
            }
        }
        else if (req.Flag("stream") && state.IsActive)
        {
            // supervised by another process: its log is the live output
            await foreach (var e in c.GetLogsAsync(follow: true, tail: 0).ConfigureAwait(false))
            {
                await WriteEntryAsync(frames, e, wantOut, wantErr, timestamps: false).ConfigureAwait(false);
            }
        }
    }

    private async Task PumpStdinAsync(PipeReader input, Container c, ContainerSpec spec)
    {
        // the container's stdin exists once it has started: attach comes before start in docker run -i; a detached
        // container's is reached through its monitor
        Stream? target = null;
        for (var i = 0; i < 500 && target is null && spec.OpenStdin; i++)
        {
            try
            {
                target = c.OpenInput();
            }
            catch (ContainerNotFoundException)
            {
                return;
            }

            if (target is null)
            {
                await Task.Delay(10).ConfigureAwait(false);
            }
        }

        if (target is null)
        {
            return;
        }

        try
        {
            await using (target.ConfigureAwait(false))
            {
                await input.CopyToAsync(target).ConfigureAwait(false);
            } // the session's end closes the container's stdin when it was created with StdinOnce (docker run -i)
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or System.Net.Sockets.SocketException)
        {
        }
    }

    internal static async Task WriteEntryAsync(FrameWriter frames, LogEntry e, bool wantOut, bool wantErr, bool timestamps, CancellationToken ct = default)
    {
        var stream = e.Stream == "stderr" ? 2 : 1;
        if (stream == 1 ? !wantOut : !wantErr)
        {
            return;
        }

        var text = timestamps ? e.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture) + " " + e.Text : e.Text;
        await frames.WriteAsync(stream, System.Text.Encoding.UTF8.GetBytes(text), ct).ConfigureAwait(false);
    }

    /// <summary>The IDs of a container's exec instances (inspect's ExecIDs: null when it has none, as dockerd).</summary>
    public List<string>? ExecIds(string containerId) =>
        execs.Values.Where(r => r.ContainerId == containerId).Select(r => r.Id).ToList() is { Count: > 0 } ids ? ids : null;

    /// <summary>Drops the exec instances of a removed container (docker keeps them only as long as their container).</summary>
    public void ForgetExecs(string containerId)
    {
        foreach (var (id, record) in execs)
        {
            if (record.ContainerId == containerId)
            {
                execs.TryRemove(id, out _);
            }
        }
    }

    /// <summary>POST /containers/{id}/exec.</summary>
    public async Task ExecCreateAsync(HttpContext ctx, string id)
    {
        ExecConfig body;
        try
        {
            body = await DockerApiServer.ReadBodyAsync(ctx.Request.Body, j => j.ExecConfig).ConfigureAwait(false) ?? throw new JsonException("expected an object");
        }
        catch (JsonException e)
        {
            await DockerApiServer.Error(ctx, 400, "invalid exec config: " + e.Message).ConfigureAwait(false);
            return;
        }
        catch (FormatException e)
        {
            await DockerApiServer.Error(ctx, 400, e.Message).ConfigureAwait(false);
            return;
        }

        ContainerState state;
        try
        {
            state = engine.Get(id).State;
        }
        catch (ContainerNotFoundException)
        {
            await DockerApiServer.Error(ctx, 404, $"No such container: {id}").ConfigureAwait(false);
            return;
        }

        if (state.Status != ContainerStatus.Running)
        {
            await DockerApiServer.Error(ctx, 409, $"container {state.Id} is not running").ConfigureAwait(false);
            return;
        }

        ImmutableArray<string> cmd = [.. body.Cmd ?? []], env = [.. body.Env ?? []];
        if (cmd.IsEmpty)
        {
            await DockerApiServer.Error(ctx, 400, "Cmd: no exec command specified").ConfigureAwait(false);
            return;
        }

        var record = new ExecRecord(Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), state.Id, new ExecOptions
        {
            Command = cmd,
            Environment = env,
            User = body.User is { Length: > 0 } u ? u : null,
            WorkingDirectory = body.WorkingDir is { Length: > 0 } wd ? wd : null,
            Tty = body.Tty,
            OpenStdin = body.AttachStdin,
            Privileged = body.Privileged,
        })
        {
            AttachStdout = body.AttachStdout,
            AttachStderr = body.AttachStderr,
        };
        execs[record.Id] = record;
        ctx.Response.StatusCode = 201;
        await DockerApiServer.Json(ctx, new IDResponse { Id = record.Id }, j => j.IDResponse).ConfigureAwait(false);
    }

    /// <summary>POST /exec/{id}/start, on the hijacked connection (or answered at once when detached).</summary>
    public async Task ExecStartAsync(HijackedRequest req, string id)
    {
        if (!execs.TryGetValue(id, out var record))
        {
            await req.ErrorAsync(404, $"No such exec instance: {id}").ConfigureAwait(false);
            return;
        }

        var body = req.JsonBody(j => j.ExecStartConfig);
        var detach = body?.Detach ?? false;
        var options = record.Options with { Tty = body?.Tty ?? record.Options.Tty };
        if (record.Started)
        {
            await req.ErrorAsync(409, $"exec {id} has already been started").ConfigureAwait(false);
            return;
        }

        Container container;
        try
        {
            container = engine.Get(record.ContainerId);
        }
        catch (ContainerNotFoundException)
        {
            await req.ErrorAsync(404, $"No such container: {record.ContainerId}").ConfigureAwait(false);
            return;
        }

        // As dockerd: the connection is upgraded before the process starts, and here the client has read the answer
        // before it does. A process that writes at once would otherwise have its first output follow the 101 in the
        // same read, and a client that reads the head buffered and the stream from the raw socket (the Docker SDK for
        // Python's exec_run) loses it.
        if (!detach)
        {
            await req.UpgradeAndWaitReadAsync(options.Tty, TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
        }

        ExecProcess exec;
        try
        {
            exec = await container.StartExecAsync(detach ? options with { OpenStdin = false } : options).ConfigureAwait(false);
        }
        catch (ContainerException e)
        {
            // docker answers a command that cannot start on the stream itself (exit code 126/127 in inspect)
            record.Started = true;
            record.ExitCode = e is ContainerStartException start ? start.ExitCode : 126; // 127 not found, 126 not executable
            if (detach)
            {
                await req.ErrorAsync(e is ContainerNotFoundException ? 404 : e is ContainerConflictException ? 409 : 500, e.Message).ConfigureAwait(false);
                return;
            }

            await new FrameWriter(req.Output.AsStream(leaveOpen: true), options.Tty).WriteAsync(2, System.Text.Encoding.UTF8.GetBytes("OCI runtime exec failed: " + e.Message + "\n")).ConfigureAwait(false);
            return;
        }

        record.Started = true;
        record.Pid = exec.Pid;
        record.Running = true;
        lock (record)
        {
            record.Process = exec;
            if (record.Size is { } size)
            {
                exec.ResizeTerminal(size.Rows, size.Columns); // asked for before the process was there
            }
        }

        var done = FinishAsync(record, exec);
        if (detach)
        {
            _ = done.ContinueWith(_ => exec.DisposeAsync().AsTask(), TaskScheduler.Default);
            await req.RespondAsync(200, "OK", "").ConfigureAwait(false);
            return;
        }

        await using var owned = exec; // disposed after the output is drained: disposing closes its pipes
        var frames = new FrameWriter(req.Output.AsStream(leaveOpen: true), options.Tty);
        if (options.OpenStdin)
        {
            _ = Task.Run(async () =>
            {
                var target = exec.Terminal ?? exec.StandardInput;
                try
                {
                    await req.Input.CopyToAsync(target).ConfigureAwait(false);
                    if (exec.Terminal is null)
                    {
                        target.Close();
                    }
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
                {
                }
            });
        }

        if (exec.Terminal is { } terminal)
        {
            // a pty reads EIO once the process and its children have closed it: that ends the pump
            await Task.WhenAll(frames.PumpAsync(1, terminal), done).ConfigureAwait(false);
        }
        else
        {
            await Task.WhenAll(frames.PumpAsync(1, exec.StandardOutput), frames.PumpAsync(2, exec.StandardError)).ConfigureAwait(false);
            await done.ConfigureAwait(false);
        }
    }

    private static async Task FinishAsync(ExecRecord record, ExecProcess exec)
    {
        record.ExitCode = await exec.WaitAsync().ConfigureAwait(false);
        record.Running = false;
        lock (record)
        {
            record.Process = null;
        }
    }

    /// <summary>POST /exec/{id}/resize?h=&amp;w=: the size of the exec's terminal (kept for a process not started yet, as docker exec -it resizes right after start).</summary>
    public Task ExecResizeAsync(HttpContext ctx, string id)
    {
        if (!execs.TryGetValue(id, out var record))
        {
            return DockerApiServer.Error(ctx, 404, $"No such exec instance: {id}");
        }

        if (!TerminalSize(ctx, out int rows, out int columns))
        {
            return DockerApiServer.Error(ctx, 400, "h and w must be positive integers");
        }

        lock (record)
        {
            record.Size = (rows, columns);
            record.Process?.ResizeTerminal(rows, columns);
        }

        ctx.Response.StatusCode = 200;
        return Task.CompletedTask;
    }

    /// <summary>POST /containers/{id}/resize?h=&amp;w=: the size of a container's terminal (one whose TTY this process holds).</summary>
    public Task ContainerResizeAsync(HttpContext ctx, string id)
    {
        if (!TerminalSize(ctx, out int rows, out int columns))
        {
            return DockerApiServer.Error(ctx, 400, "h and w must be positive integers");
        }

        try
        {
            engine.Get(id).ResizeTerminal(rows, columns);
        }
        catch (ContainerNotFoundException)
        {
            return DockerApiServer.Error(ctx, 404, $"No such container: {id}");
        }

        ctx.Response.StatusCode = 200;
        return Task.CompletedTask;
    }

    private static bool TerminalSize(HttpContext ctx, out int rows, out int columns)
    {
        columns = 0;
        return int.TryParse(ctx.Request.Query["h"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out rows) && rows > 0
            && int.TryParse(ctx.Request.Query["w"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out columns) && columns > 0;
    }

    /// <summary>GET /exec/{id}/json.</summary>
    public Task ExecInspectAsync(HttpContext ctx, string id)
    {
        if (!execs.TryGetValue(id, out var r))
        {
            return DockerApiServer.Error(ctx, 404, $"No such exec instance: {id}");
        }

        return DockerApiServer.Json(ctx, new ExecInspectResponse
        {
            ID = r.Id,
            ContainerID = r.ContainerId,
            Running = r.Running,
            ExitCode = r.Started && !r.Running ? r.ExitCode : null,
            Pid = r.Pid,
            OpenStdin = r.Options.OpenStdin,
            OpenStdout = r.AttachStdout,
            OpenStderr = r.AttachStderr,
            ProcessConfig = new ProcessConfig
            {
                Tty = r.Options.Tty,
                Entrypoint = r.Options.Command[0],
                Arguments = [.. r.Options.Command.Skip(1)],
                User = r.Options.User ?? "",
            },
        }, j => j.ExecInspectResponse);
    }

    /// <summary>An exec instance (docker keeps them until the container goes).</summary>
    private sealed record ExecRecord(string Id, string ContainerId, ExecOptions Options)
    {
        public bool AttachStdout { get; init; }

        public bool AttachStderr { get; init; }

        public bool Started { get; set; }

        public bool Running { get; set; }

        public int ExitCode { get; set; }

        public int Pid { get; set; }

        /// <summary>The running process (under the record's lock).</summary>
        public ExecProcess? Process { get; set; }

        /// <summary>The terminal size last asked for (under the record's lock).</summary>
        public (int Rows, int Columns)? Size { get; set; }
    }
}
