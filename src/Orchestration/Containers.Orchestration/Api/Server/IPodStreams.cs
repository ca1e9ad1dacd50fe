namespace Containers.Orchestration.Api;

/// <summary>
/// The streams of running pods, served by the node agents: logs (pods/log), exec (pods/exec), attach and its terminal
/// resize (pods/attach), and TCP connections into a pod (pods/portforward).
/// </summary>
public interface IPodStreams
{
    /// <summary>Writes the log of <paramref name="container"/> of a pod to <paramref name="output"/> (following while it runs when <paramref name="follow"/>).</summary>
    Task WriteLogAsync(JsonObject pod, string container, bool follow, long? tailLines, bool timestamps, bool previous, Stream output, CancellationToken cancellationToken);

    /// <summary>Starts a process in a running container of a pod (pods/exec).</summary>
    Task<ExecProcess> StartExecAsync(JsonObject pod, string container, ExecOptions options, CancellationToken cancellationToken);

    /// <summary>Attaches to a running container (pods/attach): its output from now on to <paramref name="output"/> until it stops, and its stdin when it takes input.</summary>
    (Stream? Input, Task Output) Attach(JsonObject pod, string container, Stream output, CancellationToken cancellationToken);

    /// <summary>
    /// Where another machine serves the streams of <paramref name="pod"/> (its node runs there): the API server forwards
    /// the request to that node's endpoint with <see cref="NodeEndpoint.Client"/>. Null (the default): served here.
    /// </summary>
    NodeEndpoint? Elsewhere(JsonObject pod) => null;

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

/// <summary>A node's stream endpoint on another machine (the kubelet's port) and the client the API server reaches it with (its kubelet-client certificate).</summary>
/// <param name="Url">The endpoint, such as https://10.0.0.3:10250.</param>
/// <param name="Client">The HTTP client: the API server's client certificate, HTTP/1.1 (for the WebSocket upgrade).</param>
public sealed record NodeEndpoint(Uri Url, HttpMessageInvoker Client);
