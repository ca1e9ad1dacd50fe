using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Containers.Dashboard;

/// <summary>
/// A terminal in the page over a WebSocket: binary frames carry keystrokes in and output out; a text frame
/// <c>{"cols":C,"rows":R}</c> resizes. For a container, an exec with a TTY through the Docker API; for a pod, pods/exec
/// through the cluster's API.
/// </summary>
internal static class Consoles
{
    public static async Task<IResult> DockerAsync(HttpContext http, DockerEndpoint docker, string id)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return DashboardEndpoints.Error("a console is a WebSocket", 400);
        }

        string[] command = Command(http);
        var create = new System.Text.Json.Nodes.JsonObject
        {
            ["AttachStdin"] = true,
            ["AttachStdout"] = true,
            ["AttachStderr"] = true,
            ["Tty"] = true,
            ["Env"] = new System.Text.Json.Nodes.JsonArray("TERM=xterm-256color"),
            ["Cmd"] = new System.Text.Json.Nodes.JsonArray([.. command.Select(c => (System.Text.Json.Nodes.JsonNode?)c)]),
        };
        using var created = await docker.Http.PostAsync(new Uri($"containers/{Uri.EscapeDataString(id)}/exec", UriKind.Relative),
            new StringContent(create.ToJsonString(), Encoding.UTF8, "application/json"), http.RequestAborted).ConfigureAwait(false);
        string createdBody = await created.Content.ReadAsStringAsync(http.RequestAborted).ConfigureAwait(false);
        if (!created.IsSuccessStatusCode)
        {
            return DashboardEndpoints.Error(MessageOf(createdBody), (int)created.StatusCode);
        }

        string execId = JsonDocument.Parse(createdBody).RootElement.GetProperty("Id").GetString()!;
        var stream = await docker.HijackAsync($"/exec/{execId}/start", "{\"Detach\":false,\"Tty\":true}", http.RequestAborted).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var socket = await http.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
            await PumpAsync(socket,
                (data, ct) => stream.WriteAsync(data, ct),
                async (size, ct) =>
                {
                    using var _ = await docker.Http.PostAsync(new Uri($"exec/{execId}/resize?h={size.Rows}&w={size.Cols}", UriKind.Relative), null, ct).ConfigureAwait(false);
                },
                async (send, ct) =>
                {
                    var buffer = new byte[8192];
                    int n;
                    while ((n = await stream.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                    {
                        await send(buffer.AsMemory(0, n)).ConfigureAwait(false);
                    }
                }, http.RequestAborted).ConfigureAwait(false);
        }

        return Results.Empty;
    }

    public static async Task<IResult> PodAsync(HttpContext http, KubernetesEndpoint k8s, string ns, string pod)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            return DashboardEndpoints.Error("a console is a WebSocket", 400);
        }

        var query = new StringBuilder("stdin=true&stdout=true&stderr=true&tty=true");
        foreach (var c in Command(http))
        {
            query.Append("&command=").Append(Uri.EscapeDataString(c));
        }

        if (http.Request.Query["container"].ToString() is { Length: > 0 } container)
        {
            query.Append("&container=").Append(Uri.EscapeDataString(container));
        }

        ClientWebSocket upstream;
        try
        {
            upstream = await k8s.OpenChannelAsync($"api/v1/namespaces/{Uri.EscapeDataString(ns)}/pods/{Uri.EscapeDataString(pod)}/exec?{query}", http.RequestAborted).ConfigureAwait(false);
        }
        catch (WebSocketException e)
        {
            return DashboardEndpoints.Error($"pods/exec of {ns}/{pod}: {e.Message}", 502);
        }

        using (upstream)
        {
            using var socket = await http.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
            await PumpAsync(socket,
                async (data, ct) => await upstream.SendAsync(Channel(0, data.Span), WebSocketMessageType.Binary, true, ct).ConfigureAwait(false),
                (size, ct) => upstream.SendAsync(Channel(4, Encoding.UTF8.GetBytes($"{{\"Width\":{size.Cols},\"Height\":{size.Rows}}}")), WebSocketMessageType.Binary, true, ct),
                async (send, ct) =>
                {
                    var buffer = new byte[65536];
                    using var message = new MemoryStream();
                    while (upstream.State == WebSocketState.Open)
                    {
                        var r = await upstream.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                        if (r.MessageType == WebSocketMessageType.Close)
                        {
                            return;
                        }

                        message.Write(buffer, 0, r.Count);
                        if (!r.EndOfMessage)
                        {
                            continue;
                        }

                        var frame = message.ToArray();
                        message.SetLength(0);
                        if (frame.Length > 1 && frame[0] is 1 or 2)
                        {
                            await send(frame.AsMemory(1)).ConfigureAwait(false);
                        }
                        else if (frame.Length > 1 && frame[0] == 3 && JsonDocument.Parse(frame.AsMemory(1)).RootElement.TryGetProperty("status", out var status) && status.GetString() != "Success")
                        {
                            await send(Encoding.UTF8.GetBytes("\r\n" + MessageOf(Encoding.UTF8.GetString(frame, 1, frame.Length - 1)) + "\r\n")).ConfigureAwait(false);
                        }
                    }
                }, http.RequestAborted).ConfigureAwait(false);
        }

        return Results.Empty;
    }

    private static byte[] Channel(byte channel, ReadOnlySpan<byte> data)
    {
        var frame = new byte[data.Length + 1];
        frame[0] = channel;
        data.CopyTo(frame.AsSpan(1));
        return frame;
    }

    /// <summary>The command a console runs: <c>?cmd=</c> (split on spaces), else <c>sh</c>.</summary>
    private static string[] Command(HttpContext http) =>
        http.Request.Query["cmd"].ToString() is { Length: > 0 } cmd ? cmd.Split(' ', StringSplitOptions.RemoveEmptyEntries) : ["sh"];

    private static string MessageOf(string json)
    {
        try
        {
            return JsonDocument.Parse(json).RootElement.GetProperty("message").GetString() ?? json;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return json;
        }
    }

    /// <summary>
    /// Runs the page's side (keystrokes to <paramref name="input"/>, sizes to <paramref name="resize"/>) and the
    /// process's (<paramref name="output"/>, sent as binary frames) until either ends, then closes the page's socket.
    /// </summary>
    private static async Task PumpAsync(WebSocket socket, Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> input, Func<ResizeMessage, CancellationToken, Task> resize,
        Func<Func<ReadOnlyMemory<byte>, Task>, CancellationToken, Task> output, CancellationToken aborted)
    {
        using var done = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var sendLock = new SemaphoreSlim(1, 1);
        async Task Send(ReadOnlyMemory<byte> data)
        {
            await sendLock.WaitAsync(done.Token).ConfigureAwait(false);
            try
            {
                await socket.SendAsync(data, WebSocketMessageType.Binary, true, done.Token).ConfigureAwait(false);
            }
            finally
            {
                sendLock.Release();
            }
        }

        var fromPage = Task.Run(async () =>
        {
            var buffer = new byte[16384];
            using var message = new MemoryStream();
            while (socket.State == WebSocketState.Open)
            {
                var r = await socket.ReceiveAsync(buffer, done.Token).ConfigureAwait(false);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage)
                {
                    continue;
                }

                if (r.MessageType == WebSocketMessageType.Text)
                {
                    // a terminal's size: one the process cannot take (it has not started, or has ended) is not the session's end
                    try
                    {
                        if (JsonSerializer.Deserialize(message.GetBuffer().AsSpan(0, (int)message.Length), DashboardJson.Default.ResizeMessage) is { Cols: > 0, Rows: > 0 } size)
                        {
                            await resize(size, done.Token).ConfigureAwait(false);
                        }
                    }
                    catch (Exception e) when (e is JsonException or HttpRequestException or WebSocketException)
                    {
                        // keep the session
                    }
                }
                else
                {
                    await input(message.ToArray(), done.Token).ConfigureAwait(false);
                }

                message.SetLength(0);
            }
        }, done.Token);
        var toPage = Task.Run(() => output(Send, done.Token), done.Token);
        try
        {
            await Task.WhenAny(fromPage, toPage).ConfigureAwait(false);
        }
        finally
        {
            await done.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(fromPage, toPage).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException or JsonException)
            {
                // one side ended: the other is cut
            }

            if (socket.State == WebSocketState.Open)
            {
                using var close = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "ended", close.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or WebSocketException)
                {
                    // the page is gone
                }
            }

            sendLock.Dispose();
        }
    }
}
