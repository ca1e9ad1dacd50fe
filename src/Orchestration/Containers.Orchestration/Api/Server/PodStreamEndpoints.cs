using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Containers.Orchestration.Api;

/// <summary>The streams of a pod on its node (<see cref="IPodStreams"/>): pods/log, pods/exec, pods/attach and pods/portforward.</summary>
internal sealed class PodStreamEndpoints(ObjectApi api, IPodStreams? streams)
{
    /// <summary>Maps the pod stream routes (literal routes: they win over the generic resource routes).</summary>
    public void Map(IEndpointRouteBuilder app)
    {
        const string pod = "/api/{version}/namespaces/{namespace}/pods/{name}/";
        app.MapGet(pod + "log", http => ServeAsync(http, LogAsync));
        app.MapMethods(pod + "exec", ["GET", "POST"], http => ServeAsync(http, ExecAsync));
        app.MapMethods(pod + "attach", ["GET", "POST"], http => ServeAsync(http, AttachAsync));
        app.MapMethods(pod + "portforward", ["GET", "POST"], http => ServeAsync(http, PortForwardAsync));
    }

    /// <summary>
    /// Serves a pod's stream here, or, when another machine runs the pod's node, forwards the request as it came
    /// (the WebSocket upgrade of exec, attach and port-forward too) to that node's endpoint, as kube-apiserver proxies
    /// to the kubelet: the caller's credentials stay here, the node sees the API server's client certificate.
    /// </summary>
    private async Task ServeAsync(HttpContext http, Func<HttpContext, JsonObject, Task> serve)
    {
        var pod = Pod(http);
        if (streams?.Elsewhere(pod) is not { } node)
        {
            await serve(http, pod).ConfigureAwait(false);
            return;
        }

        var forwarder = http.RequestServices.GetRequiredService<Yarp.ReverseProxy.Forwarder.IHttpForwarder>();
        var error = await forwarder.SendAsync(http, node.Url.ToString(), node.Client, Http11, WithoutCredentials.Instance).ConfigureAwait(false);
        if (error != Yarp.ReverseProxy.Forwarder.ForwarderError.None && !http.Response.HasStarted)
        {
            var cause = http.Features.Get<Yarp.ReverseProxy.Forwarder.IForwarderErrorFeature>()?.Exception?.Message;
            throw new ApiException(502, "BadGateway", $"error dialing the node of pod {Json.Name(pod)} at {node.Url}: {error}{(cause is null ? "" : ": " + cause)}");
        }
    }

    /// <summary>HTTP/1.1 to the node, so exec's WebSocket goes over an Upgrade (not HTTP/2's extended CONNECT), as to a kubelet.</summary>
    private static readonly Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig Http11 = new() { Version = System.Net.HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

    /// <summary>The forwarded request without the caller's Authorization and impersonation headers.</summary>
    private sealed class WithoutCredentials : Yarp.ReverseProxy.Forwarder.HttpTransformer
    {
        public static readonly WithoutCredentials Instance = new();

        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken).ConfigureAwait(false);
            proxyRequest.Headers.Authorization = null;
            foreach (var header in proxyRequest.Headers.Select(h => h.Key).Where(h => h.StartsWith("Impersonate-", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                proxyRequest.Headers.Remove(header);
            }
        }
    }

    private JsonObject Pod(HttpContext http)
    {
        var pods = ResourceType.Pods;
        var values = http.Request.RouteValues;
        if (values["version"] as string != pods.Version)
        {
            throw ApiHttp.NotServed();
        }

        return api.Get(pods, values["namespace"] as string, values["name"] as string ?? "");
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
        bool tty = ApiHttp.Flag(http, "tty"), stdin = ApiHttp.Flag(http, "stdin"), stdout = ApiHttp.Flag(http, "stdout"), stderr = ApiHttp.Flag(http, "stderr");
        await using var process = await streams!.StartExecAsync(pod, container, new ExecOptions { Command = [.. command], Tty = tty, OpenStdin = stdin }, http.RequestAborted).ConfigureAwait(false);
        var input = tty ? process.Terminal! : process.StandardInput;
        await RemoteCommand.RunAsync(http, protocol, stdin ? input : null, closeInput: !tty, async (send, ct) =>
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
        bool stdin = ApiHttp.Flag(http, "stdin"), tty = ApiHttp.Flag(http, "tty");
        using var attached = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var output = new RemoteCommand.ChannelStream();
        var (input, pump) = streams!.Attach(pod, container, output, attached.Token);
        if (stdin && input is null)
        {
            attached.Cancel();
            throw ApiException.BadRequest($"unable to attach to container {container}: it does not take stdin (set stdin: true in the pod's spec)");
        }

        // the client's end of stdin ends this session's input: the container's stdin closes under stdinOnce (kubectl run -i)
        using var session = input;
        await RemoteCommand.RunAsync(http, protocol, stdin ? input : null, closeInput: true, async (send, ct) =>
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
        }, tty ? (rows, columns) => streams.ResizeTerminal(pod, container, rows, columns) : null).ConfigureAwait(false);
        await attached.CancelAsync().ConfigureAwait(false);
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
        if (streams is null || Json.Str(pod, "spec", "nodeName") is null)
        {
            throw ApiException.BadRequest($"pod {Json.Name(pod)} does not have a host assigned");
        }

        return protocol;
    }

    /// <summary>pods/portforward: SPDY tunnelled in a WebSocket, as kubectl 1.31 and later speak it (see <see cref="PortForward"/>).</summary>
    private async Task PortForwardAsync(HttpContext http, JsonObject pod)
    {
        if (!http.WebSockets.IsWebSocketRequest || !http.WebSockets.WebSocketRequestedProtocols.Contains(PortForward.Protocol))
        {
            throw ApiException.BadRequest($"pods/portforward is served as SPDY inside a WebSocket ({PortForward.Protocol}, as kubectl 1.31 and later use); plain SPDY is not supported");
        }

        if (Json.Str(pod, "status", "phase") != "Running" || streams is null)
        {
            throw ApiException.BadRequest($"unable to forward ports to pod {Json.Name(pod)}: it is not running");
        }

        // .NET refuses '/' in a subprotocol it is handed (RFC 6455 tokens); Kubernetes' name has one: answered as a header
        http.Response.Headers["Sec-WebSocket-Protocol"] = PortForward.Protocol;
        using var ws = await http.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
        var source = streams;
        await new PortForward(ws, Json.Name(pod), (port, ct) => source.ConnectAsync(pod, port, ct), http.RequestAborted).RunAsync().ConfigureAwait(false);
    }

    private async Task LogAsync(HttpContext http, JsonObject pod)
    {
        var q = http.Request.Query;
        string container = ContainerOf(pod, q);

        if (streams is null || Json.Str(pod, "spec", "nodeName") is null)
        {
            throw ApiException.BadRequest($"container \"{container}\" in pod \"{Json.Name(pod)}\" is waiting to start: ContainerCreating");
        }

        http.Response.ContentType = "text/plain";
        long? tail = long.TryParse(q["tailLines"], out long t) ? t : null;
        await streams.WriteLogAsync(pod, container, ApiHttp.Flag(http, "follow"), tail, ApiHttp.Flag(http, "timestamps"), ApiHttp.Flag(http, "previous"), http.Response.Body, http.RequestAborted).ConfigureAwait(false);
    }
}
