using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Api;

/// <summary>Where pods' logs come from and where exec goes (the node agents).</summary>
public interface IPodLogSource
{
    /// <summary>Writes the log of <paramref name="container"/> of a pod to <paramref name="output"/> (following while it runs when <paramref name="follow"/>).</summary>
    Task WriteLogAsync(JsonObject pod, string container, bool follow, long? tailLines, bool timestamps, bool previous, Stream output, CancellationToken cancellationToken);

    /// <summary>Starts a process in a running container of a pod (pods/exec).</summary>
    Task<ExecProcess> StartExecAsync(JsonObject pod, string container, ExecOptions options, CancellationToken cancellationToken);

    /// <summary>Attaches to a running container (pods/attach): its output from now on to <paramref name="output"/> until it stops, and its stdin when it takes input.</summary>
    (Stream? Input, Task Output) Attach(JsonObject pod, string container, Stream output, CancellationToken cancellationToken);

    /// <summary>Sets the terminal size of an attached container started with tty (pods/attach's resize channel); by default nothing.</summary>
    void ResizeTerminal(JsonObject pod, string container, int rows, int columns)
    {
    }

    /// <summary>
    /// Opens a TCP connection to <paramref name="port"/> of a pod (pods/portforward): on the pod's own localhost, as the
    /// kubelet does. By default, to the pod's IP (a server bound to the pod's loopback only is then not reached).
    /// </summary>
    async Task<System.Net.Sockets.Socket> ConnectAsync(JsonObject pod, int port, CancellationToken cancellationToken)
    {
        if (Json.Str(pod, "status", "podIP") is not { } ip || !System.Net.IPAddress.TryParse(ip, out var address))
        {
            throw ApiException.BadRequest($"unable to forward ports to pod {Json.Name(pod)}: it has no IP");
        }

        var socket = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new System.Net.IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>
/// Kubernetes' HTTP API over an <see cref="ObjectApi"/> on 127.0.0.1: discovery (/version, /api, /apis and group
/// versions), get/list/watch/create/update/patch/delete/deletecollection with label and field selectors, the status and
/// scale subresources, pods/log and pods/eviction, and Table output for <c>kubectl get</c>. Errors are Status objects.
/// </summary>
public sealed class KubeApiServer : IAsyncDisposable
{
    /// <summary>The Kubernetes version announced.</summary>
    public const string KubernetesVersion = "v1.32.0";

    private readonly WebApplication app;

    private KubeApiServer(WebApplication app, int port)
    {
        this.app = app;
        Port = port;
    }

    /// <summary>The port it listens on (127.0.0.1).</summary>
    public int Port { get; }

    /// <summary>The URL kubectl points at.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>
    /// Starts serving <paramref name="api"/> on 127.0.0.1:<paramref name="port"/> (0 = any free port). Throws
    /// <see cref="ContainerConflictException"/> naming the port when something else listens there.
    /// </summary>
    public static async Task<KubeApiServer> StartAsync(ObjectApi api, int port, IPodLogSource? logs = null, CancellationToken cancellationToken = default)
    {
        // an empty builder: no appsettings.json or ASPNETCORE_ variables from the hosting process (whose Kestrel endpoints
        // must not become the API server's), and no watch on the working directory for configuration changes
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        var handler = new Handler(api, logs);
        app.UseWebSockets(); // pods/exec (channel.k8s.io v5/v4)
        app.Run(handler.HandleAsync);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new ContainerConflictException($"cannot serve the Kubernetes API on 127.0.0.1:{port}: the port is already in use (choose another port)");
        }

        var address = app.Urls.First();
        int bound = new Uri(address).Port;
        return new KubeApiServer(app, bound);
    }

    /// <summary>Writes a kubeconfig for this server to <paramref name="path"/> (context <paramref name="contextName"/>, no credentials: the API listens on loopback only).</summary>
    public string WriteKubeconfig(string path, string contextName = "containers-dotnet")
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string text = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {contextName}
              cluster:
                server: {Url}
            users:
            - name: {contextName}
              user: {"{}"}
            contexts:
            - name: {contextName}
              context:
                cluster: {contextName}
                user: {contextName}
                namespace: default
            current-context: {contextName}
            preferences: {"{}"}

            """;
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Stops serving (open watches end).</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Handler(ObjectApi api, IPodLogSource? logs)
    {
        public async Task HandleAsync(HttpContext http)
        {
            try
            {
                await RouteAsync(http).ConfigureAwait(false);
            }
            catch (ApiException e)
            {
                await WriteAsync(http, e.Code, e.ToStatus()).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (!http.Response.HasStarted)
                {
                    await WriteAsync(http, 500, new ApiException(500, "InternalError", e.Message).ToStatus()).ConfigureAwait(false);
                }
            }
        }

        private async Task RouteAsync(HttpContext http)
        {
            string path = http.Request.Path.Value?.TrimEnd('/') ?? "";
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            switch (path)
            {
                case "/version":
                    await WriteAsync(http, 200, new JsonObject
                    {
                        ["major"] = "1",
                        ["minor"] = "32",
                        ["gitVersion"] = KubernetesVersion,
                        ["gitCommit"] = "containers-dotnet",
                        ["gitTreeState"] = "clean",
                        ["buildDate"] = "2026-01-01T00:00:00Z",
                        ["goVersion"] = "n/a (.NET " + Environment.Version + ")",
                        ["compiler"] = "dotnet",
                        ["platform"] = "linux/amd64",
                    }).ConfigureAwait(false);
                    return;
                case "/healthz" or "/livez" or "/readyz":
                    http.Response.ContentType = "text/plain";
                    await http.Response.WriteAsync("ok").ConfigureAwait(false);
                    return;
                case "/api":
                    await WriteAsync(http, 200, new JsonObject
                    {
                        ["kind"] = "APIVersions",
                        ["versions"] = new JsonArray("v1"),
                        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = http.Request.Host.Value }),
                    }).ConfigureAwait(false);
                    return;
                case "/apis":
                    await WriteAsync(http, 200, new JsonObject
                    {
                        ["kind"] = "APIGroupList",
                        ["apiVersion"] = "v1",
                        ["groups"] = new JsonArray([.. ResourceType.Groups.Select(g => (JsonNode)Group(g))]),
                    }).ConfigureAwait(false);
                    return;
                case "/api/v1":
                    await WriteAsync(http, 200, Resources("", "v1")).ConfigureAwait(false);
                    return;
                case "/openapi/v3":
                    await WriteAsync(http, 200, OpenApi.Index()).ConfigureAwait(false);
                    return;
            }

            if (path.StartsWith("/openapi/v3/", StringComparison.Ordinal))
            {
                await WriteAsync(http, 200, OpenApi.Document(path["/openapi/v3/".Length..]) ?? throw new ApiException(404, "NotFound", "the server could not find the requested resource")).ConfigureAwait(false);
                return;
            }

            if (parts.Length == 2 && parts[0] == "apis" && ResourceType.Groups.Contains(parts[1]))
            {
                await WriteAsync(http, 200, Group(parts[1])).ConfigureAwait(false);
                return;
            }

            if (parts.Length == 3 && parts[0] == "apis" && ResourceType.Groups.Contains(parts[1]) && parts[2] == "v1")
            {
                await WriteAsync(http, 200, Resources(parts[1], "v1")).ConfigureAwait(false);
                return;
            }

            // /api/v1/... or /apis/{group}/v1/...
            int at;
            string group;
            if (parts.Length >= 3 && parts[0] == "api" && parts[1] == "v1")
            {
                group = "";
                at = 2;
            }
            else if (parts.Length >= 4 && parts[0] == "apis" && parts[2] == "v1" && ResourceType.Groups.Contains(parts[1]))
            {
                group = parts[1];
                at = 3;
            }
            else
            {
                throw new ApiException(404, "NotFound", "the server could not find the requested resource");
            }

            string? ns = null;
            var rest = parts[at..];
            if (rest.Length >= 3 && rest[0] == "namespaces" && ResourceType.Find(group, rest[2]) is { Namespaced: true })
            {
                ns = rest[1];
                rest = rest[2..];
            }

            var type = ResourceType.Find(group, rest[0]) ?? throw new ApiException(404, "NotFound", "the server could not find the requested resource");
            string? name = rest.Length > 1 ? rest[1] : null;
            string? sub = rest.Length > 2 ? rest[2] : null;
            if (rest.Length > 3)
            {
                throw new ApiException(404, "NotFound", "the server could not find the requested resource");
            }

            await ServeAsync(http, type, ns, name, sub).ConfigureAwait(false);
        }

        private async Task ServeAsync(HttpContext http, ResourceType type, string? ns, string? name, string? sub)
        {
            var q = http.Request.Query;
            bool dryRun = q["dryRun"].Count > 0;
            string method = http.Request.Method;
            if (type.Namespaced && ns is null && method is "POST" && name is null)
            {
                ns = "default";
            }

            if (name is null)
            {
                switch (method)
                {
                    case "GET" when q["watch"] is { Count: > 0 } w && w[0] is "1" or "true":
                        await WatchAsync(http, type, ns).ConfigureAwait(false);
                        return;
                    case "GET":
                    {
                        var (items, revision) = api.List(type, ns, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"]));
                        string rv = revision.ToString(CultureInfo.InvariantCulture);
                        if (WantsTable(http))
                        {
                            await WriteAsync(http, 200, Tables.Build(type, items, rv, api.Time.GetUtcNow(), q["includeObject"] == "Object")).ConfigureAwait(false);
                            return;
                        }

                        await WriteAsync(http, 200, new JsonObject
                        {
                            ["kind"] = type.Kind + "List",
                            ["apiVersion"] = type.ApiVersion,
                            ["metadata"] = new JsonObject { ["resourceVersion"] = rv },
                            ["items"] = new JsonArray([.. items]),
                        }).ConfigureAwait(false);
                        return;
                    }

                    case "POST":
                    {
                        var body = await ReadObjectAsync(http).ConfigureAwait(false);
                        CheckKind(type, body);
                        Warn(http, FieldSchema.Enforce(type, body, FieldSchema.ParseMode(q["fieldValidation"])));
                        var created = api.Create(type, ns, body, dryRun);
                        await WriteAsync(http, 201, created).ConfigureAwait(false);
                        return;
                    }

                    case "DELETE":
                    {
                        var options = await DeleteOptionsAsync(http).ConfigureAwait(false);
                        var (items, revision) = api.List(type, ns, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"]));
                        var deleted = new JsonArray();
                        foreach (var item in items)
                        {
                            try
                            {
                                deleted.Add((JsonNode)api.Delete(type, Json.Namespace(item), Json.Name(item), options).Object);
                            }
                            catch (ApiException e) when (e.Code == 404)
                            {
                            }
                        }

                        await WriteAsync(http, 200, new JsonObject
                        {
                            ["kind"] = type.Kind + "List",
                            ["apiVersion"] = type.ApiVersion,
                            ["metadata"] = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) },
                            ["items"] = deleted,
                        }).ConfigureAwait(false);
                        return;
                    }
                }

                throw new ApiException(405, "MethodNotAllowed", $"the server does not allow this method on the requested resource");
            }

            if (type.Kind == "Namespace" && sub == "finalize")
            {
                sub = null;
            }

            switch (method, sub)
            {
                case ("GET", null):
                    await WriteObjectAsync(http, type, api.Get(type, ns, name)).ConfigureAwait(false);
                    return;
                case ("GET", "status") when type.HasStatus:
                    await WriteObjectAsync(http, type, api.Get(type, ns, name)).ConfigureAwait(false);
                    return;
                case ("GET", "scale") when type.HasScale:
                    await WriteAsync(http, 200, api.GetScale(type, ns, name)).ConfigureAwait(false);
                    return;
                case ("PUT", "scale") when type.HasScale:
                    await WriteAsync(http, 200, api.UpdateScale(type, ns, name, await ReadObjectAsync(http).ConfigureAwait(false))).ConfigureAwait(false);
                    return;
                case ("PATCH", "scale") when type.HasScale:
                    api.Patch(type, ns, name, http.Request.ContentType ?? "", await ReadBytesAsync(http).ConfigureAwait(false), "scale", dryRun);
                    await WriteAsync(http, 200, api.GetScale(type, ns, name)).ConfigureAwait(false);
                    return;
                case ("PUT", null):
                case ("PUT", "status") when type.HasStatus:
                {
                    var body = await ReadObjectAsync(http).ConfigureAwait(false);
                    CheckKind(type, body);
                    Warn(http, FieldSchema.Enforce(type, body, FieldSchema.ParseMode(q["fieldValidation"])));
                    await WriteObjectAsync(http, type, api.Update(type, ns, name, body, sub, dryRun)).ConfigureAwait(false);
                    return;
                }

                case ("PATCH", null):
                case ("PATCH", "status") when type.HasStatus:
                {
                    var warnings = new List<string>();
                    var patched = api.Patch(type, ns, name, http.Request.ContentType ?? "", await ReadBytesAsync(http).ConfigureAwait(false), sub, dryRun, FieldSchema.ParseMode(q["fieldValidation"]), warnings);
                    Warn(http, warnings);
                    await WriteObjectAsync(http, type, patched).ConfigureAwait(false);
                    return;
                }

                case ("DELETE", null):
                {
                    var (obj, _) = api.Delete(type, ns, name, await DeleteOptionsAsync(http).ConfigureAwait(false));
                    await WriteObjectAsync(http, type, obj).ConfigureAwait(false);
                    return;
                }

                case ("POST", "eviction") when type.Kind == "Pod":
                {
                    var eviction = await ReadObjectAsync(http).ConfigureAwait(false);
                    var options = ParseDeleteOptions(Json.At(eviction, "deleteOptions") as JsonObject, http);
                    api.Delete(type, ns, name, options);
                    await WriteAsync(http, 201, new JsonObject
                    {
                        ["kind"] = "Status",
                        ["apiVersion"] = "v1",
                        ["metadata"] = new JsonObject(),
                        ["status"] = "Success",
                    }).ConfigureAwait(false);
                    return;
                }

                case ("GET", "log") when type.Kind == "Pod":
                    await LogAsync(http, api.Get(type, ns, name)).ConfigureAwait(false);
                    return;
                case ("GET" or "POST", "exec") when type.Kind == "Pod":
                    await ExecAsync(http, api.Get(type, ns, name)).ConfigureAwait(false);
                    return;
                case ("GET" or "POST", "attach") when type.Kind == "Pod":
                    await AttachAsync(http, api.Get(type, ns, name)).ConfigureAwait(false);
                    return;
                case ("GET" or "POST", "portforward") when type.Kind == "Pod":
                    await PortForwardAsync(http, api.Get(type, ns, name)).ConfigureAwait(false);
                    return;
            }

            throw new ApiException(404, "NotFound", "the server could not find the requested resource");
        }

        /// <summary>The container a pods/log or pods/exec request names (the only one when it names none).</summary>
        private static string ContainerOf(JsonObject pod, IQueryCollection q)
        {
            var containers = Json.Items(pod, "spec", "containers").Select(c => Json.Str(c, "name")!).ToList();
            string container = q["container"].FirstOrDefault() ?? (containers.Count == 1 ? containers[0]
                : throw ApiException.BadRequest($"a container name must be specified for pod {Json.Name(pod)}, choose one of: [{string.Join(" ", containers)}]"));
            if (!containers.Contains(container) && !Json.Items(pod, "spec", "initContainers").Any(c => Json.Str(c, "name") == container))
            {
                throw ApiException.BadRequest($"container {container} is not valid for pod {Json.Name(pod)}");
            }

            return container;
        }

        /// <summary>
        /// pods/exec over a WebSocket with Kubernetes' remote command protocol (v5.channel.k8s.io, or v4): each binary
        /// message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 terminal size; v5's
        /// 255 closes a channel, so stdin's end reaches the process). kubectl 1.30+ speaks it first; SPDY is not served.
        /// </summary>
        private async Task ExecAsync(HttpContext http, JsonObject pod)
        {
            var q = http.Request.Query;
            string container = ContainerOf(pod, q);
            string[] command = [.. q["command"].Select(c => c ?? "")];
            if (command.Length == 0)
            {
                throw ApiException.BadRequest("you must specify at least 1 command");
            }

            string protocol = RemoteCommandProtocol(http, pod, "exec");
            bool tty = q["tty"] == "true", stdin = q["stdin"] == "true", stdout = q["stdout"] == "true", stderr = q["stderr"] == "true";
            await using var process = await logs!.StartExecAsync(pod, container, new ExecOptions { Command = [.. command], Tty = tty, OpenStdin = stdin }, http.RequestAborted).ConfigureAwait(false);
            var input = tty ? process.Terminal! : process.StandardInput;
            await RemoteCommandAsync(http, protocol, stdin ? input : null, closeInput: !tty, async (send, ct) =>
            {
                async Task PumpAsync(Stream from, byte channel, bool forward)
                {
                    var buffer = new byte[16 * 1024];
                    try
                    {
                        int n;
                        while ((n = await from.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                        {
                            if (forward)
                            {
                                await send(channel, buffer.AsMemory(0, n)).ConfigureAwait(false);
                            }
                        }
                    }
                    catch (IOException)
                    {
                        // a terminal's master reads EIO once the process is gone
                    }
                }

                var pumps = tty
                    ? new[] { PumpAsync(process.Terminal!, 1, stdout) }
                    : new[] { PumpAsync(process.StandardOutput, 1, stdout), PumpAsync(process.StandardError, 2, stderr) };
                int exit = await process.WaitAsync(ct).ConfigureAwait(false);
                await Task.WhenAny(Task.WhenAll(pumps), Task.Delay(TimeSpan.FromSeconds(2), ct)).ConfigureAwait(false);
                return exit == 0
                    ? new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Success" }
                    : new JsonObject
                    {
                        ["metadata"] = new JsonObject(),
                        ["status"] = "Failure",
                        ["message"] = $"command terminated with non-zero exit code: error executing command [{string.Join(" ", command)}], exit code {exit}",
                        ["reason"] = "NonZeroExitCode",
                        ["details"] = new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["reason"] = "ExitCode", ["message"] = exit.ToString(CultureInfo.InvariantCulture) }) },
                    };
            }, tty ? process.ResizeTerminal : null).ConfigureAwait(false);
        }

        /// <summary>pods/attach (kubectl attach, run -i) over the same WebSocket protocol as exec: the container's output from now on, its stdin when it takes input.</summary>
        private async Task AttachAsync(HttpContext http, JsonObject pod)
        {
            var q = http.Request.Query;
            string container = ContainerOf(pod, q);
            string protocol = RemoteCommandProtocol(http, pod, "attach");
            bool stdin = q["stdin"] == "true", tty = q["tty"] == "true";
            using var attached = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
            var output = new ChannelStream();
            var (input, pump) = logs!.Attach(pod, container, output, attached.Token);
            if (stdin && input is null)
            {
                attached.Cancel();
                throw ApiException.BadRequest($"unable to attach to container {container}: it does not take stdin (set stdin: true in the pod's spec)");
            }

            // the client's end of stdin ends this session's input: the container's stdin closes under stdinOnce (kubectl run -i)
            using var session = input;
            await RemoteCommandAsync(http, protocol, stdin ? input : null, closeInput: true, async (send, ct) =>
            {
                output.Send = send;
                try
                {
                    await pump.WaitAsync(ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                return new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Success" };
            }, tty ? (rows, columns) => logs.ResizeTerminal(pod, container, rows, columns) : null).ConfigureAwait(false);
            await attached.CancelAsync().ConfigureAwait(false);
        }

        private static void Resize(ReadOnlyMemory<byte> json, Action<int, int>? resize)
        {
            try
            {
                if (resize is not null && JsonNode.Parse(json.Span) is JsonObject size
                    && Json.Int(size, "Width") is > 0 and <= ushort.MaxValue and var width && Json.Int(size, "Height") is > 0 and <= ushort.MaxValue and var height)
                {
                    resize((int)height, (int)width);
                }
            }
            catch (System.Text.Json.JsonException)
            {
                // not a size: ignored, as the kubelet logs and ignores it
            }
        }

        /// <summary>Checks a remote command request (a WebSocket asking for v5 or v4 of channel.k8s.io, a pod on a node) and returns the protocol to answer.</summary>
        private string RemoteCommandProtocol(HttpContext http, JsonObject pod, string what)
        {
            if (!http.WebSockets.IsWebSocketRequest)
            {
                throw ApiException.BadRequest($"pods/{what} is served over WebSockets (v5.channel.k8s.io, as kubectl 1.30 and later use); SPDY is not supported");
            }

            string protocol = http.WebSockets.WebSocketRequestedProtocols.FirstOrDefault(p => p is "v5.channel.k8s.io" or "v4.channel.k8s.io")
                ?? throw ApiException.BadRequest($"none of the requested subprotocols is served ({string.Join(", ", http.WebSockets.WebSocketRequestedProtocols)}): use v5.channel.k8s.io or v4.channel.k8s.io");
            if (logs is null || Json.Str(pod, "spec", "nodeName") is null)
            {
                throw ApiException.BadRequest($"pod {Json.Name(pod)} does not have a host assigned");
            }

            return protocol;
        }

        /// <summary>
        /// One remote command session: accepts the WebSocket, copies channel 0 to <paramref name="input"/> (closing it on
        /// v5's close signal when <paramref name="closeInput"/>), runs <paramref name="run"/> with a sender of output
        /// channels, then sends the Status it returns on channel 3 and closes.
        /// </summary>
        private static async Task RemoteCommandAsync(HttpContext http, string protocol, Stream? input, bool closeInput, Func<Func<byte, ReadOnlyMemory<byte>, Task>, CancellationToken, Task<JsonObject>> run, Action<int, int>? resize = null)
        {
            using var ws = await http.WebSockets.AcceptWebSocketAsync(protocol).ConfigureAwait(false);
            using var sending = new SemaphoreSlim(1, 1);
            var ct = http.RequestAborted;

            async Task SendAsync(byte channel, ReadOnlyMemory<byte> data)
            {
                var message = new byte[data.Length + 1];
                message[0] = channel;
                data.CopyTo(message.AsMemory(1));
                await sending.WaitAsync(ct).ConfigureAwait(false);
                try
                {
                    await ws.SendAsync(message, System.Net.WebSockets.WebSocketMessageType.Binary, true, ct).ConfigureAwait(false);
                }
                finally
                {
                    sending.Release();
                }
            }

            var reading = Task.Run(async () =>
            {
                var buffer = new byte[16 * 1024];
                using var message = new MemoryStream();
                try
                {
                    while (ws.State == System.Net.WebSockets.WebSocketState.Open)
                    {
                        message.SetLength(0);
                        System.Net.WebSockets.WebSocketReceiveResult r;
                        do
                        {
                            r = await ws.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                            message.Write(buffer, 0, r.Count);
                        }
                        while (!r.EndOfMessage && r.MessageType != System.Net.WebSockets.WebSocketMessageType.Close);
                        if (r.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                        {
                            break;
                        }

                        var data = message.GetBuffer().AsMemory(0, (int)message.Length);
                        if (data.Length > 1 && data.Span[0] == 4)
                        {
                            Resize(data[1..], resize); // {"Width":W,"Height":H}: the client's terminal size
                            continue;
                        }

                        if (data.Length == 0 || input is null)
                        {
                            continue;
                        }

                        switch (data.Span[0])
                        {
                            case 0:
                                await input.WriteAsync(data[1..], ct).ConfigureAwait(false);
                                await input.FlushAsync(ct).ConfigureAwait(false);
                                break;
                            case 255 when data.Length > 1 && data.Span[1] == 0 && closeInput:
                                input.Close(); // v5: the client's stdin ended
                                break;
                        }
                    }
                }
                catch (Exception e) when (e is IOException or System.Net.WebSockets.WebSocketException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }, CancellationToken.None);

            var status = await run(SendAsync, ct).ConfigureAwait(false);
            await SendAsync(3, Json.Bytes(status)).ConfigureAwait(false);
            await ws.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, "", ct).ConfigureAwait(false);
            await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(5), ct)).ConfigureAwait(false);
        }

        /// <summary>A write-only stream whose writes go out on channel 1 once <see cref="Send"/> is set (a container's output to an attached client).</summary>
        private sealed class ChannelStream : Stream
        {
            public Func<byte, ReadOnlyMemory<byte>, Task>? Send { get; set; }

            public override bool CanRead => false;

            public override bool CanSeek => false;

            public override bool CanWrite => true;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                if (Send is { } send)
                {
                    await send(1, buffer).ConfigureAwait(false);
                }
            }

            public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

            public override void Flush()
            {
            }

            public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();
        }

        /// <summary>pods/portforward: SPDY tunnelled in a WebSocket, as kubectl 1.31 and later speak it (see <see cref="PortForward"/>).</summary>
        private async Task PortForwardAsync(HttpContext http, JsonObject pod)
        {
            if (!http.WebSockets.IsWebSocketRequest || !http.WebSockets.WebSocketRequestedProtocols.Contains(PortForward.Protocol))
            {
                throw ApiException.BadRequest($"pods/portforward is served as SPDY inside a WebSocket ({PortForward.Protocol}, as kubectl 1.31 and later use); plain SPDY is not supported");
            }

            if (Json.Str(pod, "status", "phase") != "Running" || logs is null)
            {
                throw ApiException.BadRequest($"unable to forward ports to pod {Json.Name(pod)}: it is not running");
            }

            // .NET refuses '/' in a subprotocol it is handed (RFC 6455 tokens); Kubernetes' name has one: answered as a header
            http.Response.Headers["Sec-WebSocket-Protocol"] = PortForward.Protocol;
            using var ws = await http.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
            var source = logs;
            await new PortForward(ws, Json.Name(pod), (port, ct) => source.ConnectAsync(pod, port, ct), http.RequestAborted).RunAsync().ConfigureAwait(false);
        }

        private async Task LogAsync(HttpContext http, JsonObject pod)
        {
            var q = http.Request.Query;
            string container = ContainerOf(pod, q);

            if (logs is null || Json.Str(pod, "spec", "nodeName") is null)
            {
                throw ApiException.BadRequest($"container \"{container}\" in pod \"{Json.Name(pod)}\" is waiting to start: ContainerCreating");
            }

            http.Response.ContentType = "text/plain";
            long? tail = long.TryParse(q["tailLines"], out long t) ? t : null;
            await logs.WriteLogAsync(pod, container, q["follow"] == "true", tail, q["timestamps"] == "true", q["previous"] == "true", http.Response.Body, http.RequestAborted).ConfigureAwait(false);
        }

        private async Task WatchAsync(HttpContext http, ResourceType type, string? ns)
        {
            var q = http.Request.Query;
            var labels = LabelSelector.Parse(q["labelSelector"]);
            var fields = FieldSelector.Parse(q["fieldSelector"]);
            bool table = WantsTable(http);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
            if (int.TryParse(q["timeoutSeconds"], out int seconds) && seconds > 0)
            {
                timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
            }

            long from;
            var initial = new List<JsonObject>();
            if (long.TryParse(q["resourceVersion"], out long rv) && rv > 0)
            {
                from = rv;
            }
            else
            {
                (initial, from) = api.List(type, ns, labels, fields);
            }

            var events = api.WatchAsync(type, ns, from, timeout.Token);
            http.Response.StatusCode = 200;
            http.Response.ContentType = "application/json";
            await http.Response.StartAsync(http.RequestAborted).ConfigureAwait(false);
            bool headers = true;
            var body = http.Response.Body;

            // the headers go now, as kube-apiserver sends them, not with the first event: client-go's reflector cannot
            // cancel a watch request still waiting for its response, so `kubectl rollout status` of a finished rollout
            // (nothing changes, so no event comes) hung until the watch's timeoutSeconds
            await body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
            async Task SendAsync(string kind, JsonObject obj)
            {
                JsonNode payload = table ? Tables.Build(type, [obj], Json.Str(obj, "metadata", "resourceVersion"), api.Time.GetUtcNow(), q["includeObject"] == "Object", headers) : obj;
                headers = false;
                // written around the object, not by attaching it to a new parent: watched objects are shared
                var line = new System.Buffers.ArrayBufferWriter<byte>();
                using (var writer = new System.Text.Json.Utf8JsonWriter(line))
                {
                    writer.WriteStartObject();
                    writer.WriteString("type", kind);
                    writer.WritePropertyName("object");
                    payload.WriteTo(writer);
                    writer.WriteEndObject();
                }

                await body.WriteAsync(line.WrittenMemory, timeout.Token).ConfigureAwait(false);
                await body.WriteAsync("\n"u8.ToArray(), timeout.Token).ConfigureAwait(false);
                await body.FlushAsync(timeout.Token).ConfigureAwait(false);
            }

            try
            {
                foreach (var obj in initial)
                {
                    await SendAsync("ADDED", obj).ConfigureAwait(false);
                }

                await foreach (var (kind, obj) in events.ConfigureAwait(false))
                {
                    bool match = labels.Matches(obj) && fields.Matches(obj);
                    if (match)
                    {
                        await SendAsync(kind switch { Storage.WatchEventType.Added => "ADDED", Storage.WatchEventType.Modified => "MODIFIED", _ => "DELETED" }, obj).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (ApiException e)
            {
                await SendAsync("ERROR", e.ToStatus()).ConfigureAwait(false);
            }
        }

        private static bool WantsTable(HttpContext http) =>
            http.Request.Headers.Accept.ToString().Contains("as=Table", StringComparison.Ordinal);

        private static void CheckKind(ResourceType type, JsonObject body)
        {
            if (Json.Str(body, "kind") is { } kind && kind != type.Kind)
            {
                throw ApiException.BadRequest($"the body is a {kind}, not a {type.Kind}");
            }
        }

        private async Task<DeleteOptions> DeleteOptionsAsync(HttpContext http)
        {
            var bytes = await ReadBytesAsync(http).ConfigureAwait(false);
            var body = bytes.Length > 0 ? Json.Parse(bytes) : null;
            return ParseDeleteOptions(body, http);
        }

        private static DeleteOptions ParseDeleteOptions(JsonObject? body, HttpContext http)
        {
            var q = http.Request.Query;
            long? grace = Json.Int(body, "gracePeriodSeconds") ?? (long.TryParse(q["gracePeriodSeconds"], out long g) ? g : null);
            string? policy = Json.Str(body, "propagationPolicy") ?? q["propagationPolicy"].FirstOrDefault();
            if (Json.Bool(body, "orphanDependents") == true || q["orphanDependents"] == "true")
            {
                policy = "Orphan";
            }

            bool dryRun = q["dryRun"].Count > 0 || Json.At(body, "dryRun") is JsonArray { Count: > 0 };
            return new DeleteOptions(grace, policy, Json.Str(body, "preconditions", "uid"), dryRun);
        }

        private async Task WriteObjectAsync(HttpContext http, ResourceType type, JsonObject obj)
        {
            if (WantsTable(http))
            {
                await WriteAsync(http, 200, Tables.Build(type, [obj], Json.Str(obj, "metadata", "resourceVersion"), api.Time.GetUtcNow(), http.Request.Query["includeObject"] == "Object")).ConfigureAwait(false);
                return;
            }

            await WriteAsync(http, 200, obj).ConfigureAwait(false);
        }

        private static async Task<byte[]> ReadBytesAsync(HttpContext http, bool protobuf = false)
        {
            if ((!protobuf && http.Request.ContentType?.Contains("protobuf", StringComparison.Ordinal) == true) || http.Request.ContentType?.Contains("cbor", StringComparison.Ordinal) == true)
            {
                throw new ApiException(415, "UnsupportedMediaType", $"the body's media type \"{http.Request.ContentType}\" is not supported here: send application/json");
            }

            using var ms = new MemoryStream();
            await http.Request.Body.CopyToAsync(ms, http.RequestAborted).ConfigureAwait(false);
            return ms.ToArray();
        }

        private static async Task<JsonObject> ReadObjectAsync(HttpContext http)
        {
            bool protobuf = Protobuf.Is(http.Request.ContentType);
            var bytes = await ReadBytesAsync(http, protobuf).ConfigureAwait(false);
            if (bytes.Length == 0)
            {
                throw ApiException.BadRequest("the request has no body");
            }

            if (protobuf)
            {
                return Protobuf.Decode(bytes);
            }

            if (http.Request.ContentType?.Contains("yaml", StringComparison.Ordinal) == true)
            {
                return Manifests.ParseDocuments(Encoding.UTF8.GetString(bytes), "request body").FirstOrDefault()
                    ?? throw ApiException.BadRequest("the request has no body");
            }

            return Json.Parse(bytes);
        }

        /// <summary>Reports dropped unknown fields as kube-apiserver does: a <c>Warning: 299 - "unknown field \"path\""</c> header each (kubectl prints them).</summary>
        private static void Warn(HttpContext http, IReadOnlyList<string> unknown)
        {
            foreach (var field in unknown)
            {
                http.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{field}\\\"\"");
            }
        }

        private static async Task WriteAsync(HttpContext http, int code, JsonNode body)
        {
            http.Response.StatusCode = code;
            http.Response.ContentType = "application/json";
            await http.Response.Body.WriteAsync(Json.Bytes(body), http.RequestAborted).ConfigureAwait(false);
        }

        private static JsonObject Group(string name) => new()
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = name,
            ["versions"] = new JsonArray(new JsonObject { ["groupVersion"] = $"{name}/v1", ["version"] = "v1" }),
            ["preferredVersion"] = new JsonObject { ["groupVersion"] = $"{name}/v1", ["version"] = "v1" },
        };

        private static JsonObject Resources(string group, string version)
        {
            var list = new JsonArray();
            foreach (var t in ResourceType.All.Where(t => t.Group == group && t.Version == version))
            {
                string[] verbs = t.Kind == "Event" || t.Kind != "Namespace"
                    ? ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
                    : ["create", "delete", "get", "list", "patch", "update", "watch"];
                var entry = new JsonObject
                {
                    ["name"] = t.Plural,
                    ["singularName"] = t.Singular,
                    ["namespaced"] = t.Namespaced,
                    ["kind"] = t.Kind,
                    ["verbs"] = new JsonArray([.. verbs.Select(v => (JsonNode)v)]),
                };
                if (t.ShortNames.Count > 0)
                {
                    entry["shortNames"] = new JsonArray([.. t.ShortNames.Select(s => (JsonNode)s)]);
                }

                if (t.Kind is "Pod" or "Service" or "Deployment" or "ReplicaSet")
                {
                    entry["categories"] = new JsonArray("all");
                }

                list.Add((JsonNode)entry);
                if (t.HasStatus)
                {
                    list.Add((JsonNode)Sub(t, "status", t.Kind, ["get", "patch", "update"]));
                }

                if (t.HasScale)
                {
                    var scale = Sub(t, "scale", "Scale", ["get", "patch", "update"]);
                    scale["group"] = "autoscaling";
                    scale["version"] = "v1";
                    list.Add((JsonNode)scale);
                }

                if (t.Kind == "Pod")
                {
                    list.Add((JsonNode)Sub(t, "log", "Pod", ["get"]));
                    list.Add((JsonNode)Sub(t, "exec", "PodExecOptions", ["create", "get"]));
                    list.Add((JsonNode)Sub(t, "portforward", "PodPortForwardOptions", ["create", "get"]));
                    list.Add((JsonNode)Sub(t, "attach", "PodAttachOptions", ["create", "get"]));
                    var eviction = Sub(t, "eviction", "Eviction", ["create"]);
                    eviction["group"] = "policy";
                    eviction["version"] = "v1";
                    list.Add((JsonNode)eviction);
                }
            }

            return new JsonObject
            {
                ["kind"] = "APIResourceList",
                ["apiVersion"] = "v1",
                ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
                ["resources"] = list,
            };

            static JsonObject Sub(ResourceType t, string name, string kind, string[] verbs) => new()
            {
                ["name"] = $"{t.Plural}/{name}",
                ["singularName"] = "",
                ["namespaced"] = t.Namespaced,
                ["kind"] = kind,
                ["verbs"] = new JsonArray([.. verbs.Select(v => (JsonNode)v)]),
            };
        }
    }
}
