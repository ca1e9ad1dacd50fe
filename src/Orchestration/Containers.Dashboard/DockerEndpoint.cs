using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Containers.Dashboard;

/// <summary>A Docker Engine API endpoint (unix socket or plain TCP): an HttpClient for requests, raw connections for hijacked streams.</summary>
internal sealed class DockerEndpoint : IDisposable
{
    private readonly EndPoint endPoint;

    public DockerEndpoint(string host)
    {
        Host = host;
        if (host.StartsWith("unix://", StringComparison.Ordinal))
        {
            endPoint = new UnixDomainSocketEndPoint(host["unix://".Length..]);
        }
        else if (host.StartsWith("tcp://", StringComparison.Ordinal) || host.StartsWith("http://", StringComparison.Ordinal))
        {
            var uri = new Uri("http://" + host[(host.IndexOf("://", StringComparison.Ordinal) + 3)..]);
            endPoint = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) ? new IPEndPoint(ip, uri.Port) : new DnsEndPoint(uri.Host, uri.Port);
        }
        else
        {
            throw new ArgumentException($"Docker host '{host}': expected unix:///PATH or tcp://HOST:PORT");
        }

        Http = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectCallback = async (_, ct) => new NetworkStream(await ConnectAsync(ct).ConfigureAwait(false), ownsSocket: true),
        })
        { BaseAddress = new Uri("http://docker/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The endpoint as given.</summary>
    public string Host { get; }

    /// <summary>Requests to the API (paths relative to its root).</summary>
    public HttpClient Http { get; }

    private async Task<Socket> ConnectAsync(CancellationToken ct)
    {
        var socket = endPoint is UnixDomainSocketEndPoint ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// POSTs <paramref name="jsonBody"/> to <paramref name="path"/> asking to upgrade the connection (as the docker CLI
    /// does for exec and attach), and returns the raw stream once the API answers 101 or 200.
    /// </summary>
    public async Task<Stream> HijackAsync(string path, string jsonBody, CancellationToken ct)
    {
        var socket = await ConnectAsync(ct).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var body = Encoding.UTF8.GetBytes(jsonBody);
            var head = Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
            await stream.WriteAsync(head, ct).ConfigureAwait(false);
            await stream.WriteAsync(body, ct).ConfigureAwait(false);
            // the response's head, byte by byte: what follows it is the process's output
            var line = new StringBuilder();
            string? status = null;
            var one = new byte[1];
            while (true)
            {
                if (await stream.ReadAsync(one, ct).ConfigureAwait(false) == 0)
                {
                    throw new IOException($"the Docker API closed the connection of {path}");
                }

                if (one[0] == '\n')
                {
                    string text = line.ToString().TrimEnd('\r');
                    line.Clear();
                    if (text.Length == 0)
                    {
                        break;
                    }

                    status ??= text;
                }
                else
                {
                    line.Append((char)one[0]);
                }
            }

            if (status is null || !(status.Contains(" 101", StringComparison.Ordinal) || status.Contains(" 200", StringComparison.Ordinal)))
            {
                throw new IOException($"the Docker API answered {path} with '{status}'");
            }

            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public void Dispose() => Http.Dispose();
}
