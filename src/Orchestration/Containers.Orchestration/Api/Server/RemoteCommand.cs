using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>
/// Kubernetes' remote command protocol over a WebSocket (v5.channel.k8s.io, or v4), as pods/exec and pods/attach
/// speak it: each binary message starts with its channel (0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 the
/// terminal size; v5's 255 closes a channel).
/// </summary>
internal static class RemoteCommand
{
    /// <summary>
    /// One remote command session: accepts the WebSocket, copies channel 0 to <paramref name="input"/> (closing it on
    /// v5's close signal when <paramref name="closeInput"/>), runs <paramref name="run"/> with a sender of output
    /// channels, then sends the Status it returns on channel 3 and closes.
    /// </summary>
    public static async Task RunAsync(HttpContext http, string protocol, Stream? input, bool closeInput, Func<Func<byte, ReadOnlyMemory<byte>, Task>, CancellationToken, Task<JsonObject>> run, Action<int, int>? resize = null)
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
    internal sealed class ChannelStream : Stream
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
}
