using Containers.DockerApi;

namespace Containers.Cli;

/// <summary><c>containers system service</c>: the Docker Engine API in the foreground, for docker, Docker.DotNet and Testcontainers.</summary>
internal static class SystemCommands
{
    public static async Task<int> ServiceAsync(ContainerEngine engine, Args a)
    {
        var socket = a.Get("socket") ?? Path.Combine(engine.Root, "docker.sock");
        var (address, port) = a.Get("tcp") is { } t ? Endpoint(t) : (null, (int?)null);
        DockerApiTls? tls = null;
        if (a.Has("tlsverify"))
        {
            tls = DockerApiTls.FromPemFiles(
                a.Get("tlscacert") ?? throw new UsageException("--tlsverify needs --tlscacert", a.Verb),
                a.Get("tlscert") ?? throw new UsageException("--tlsverify needs --tlscert", a.Verb),
                a.Get("tlskey") ?? throw new UsageException("--tlsverify needs --tlskey", a.Verb));
        }

        if (port is not null && tls is null && !a.Has("insecure-loopback"))
        {
            throw new UsageException("--tcp: the Docker API is root on this machine to anyone who can connect; give --tlsverify --tlscacert --tlscert --tlskey, or --insecure-loopback to serve it plain on 127.0.0.1", a.Verb);
        }

        var options = new DockerApiOptions { SocketPath = socket, TcpPort = port, TcpAddress = address, Tls = tls, InsecureLoopback = a.Has("insecure-loopback") };
        using var stop = new StopSignal();
        DockerApiServer server;
        try
        {
            server = await DockerApiServer.StartAsync(engine, options).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message, a.Verb);
        }

        await using (server.ConfigureAwait(false))
        {
            var tcpText = port is { } p ? $" and tcp://{address ?? System.Net.IPAddress.Loopback}:{p}{(tls is null ? " (no TLS)" : " (TLS, client certificates)")}" : "";
            await Console.Error.WriteLineAsync($"serving the Docker Engine API {DockerApiServer.ApiVersion} on unix://{socket}{tcpText}").ConfigureAwait(false);
            if (port is not null && tls is null)
            {
                await Console.Error.WriteLineAsync("warning: the TCP port has no TLS and no authentication: every local user can run containers as root through it").ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync($"  export DOCKER_HOST=unix://{socket}").ConfigureAwait(false);
            await stop.WaitAsync().ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>--tcp's value: PORT, or HOST:PORT.</summary>
    private static (System.Net.IPAddress? Address, int? Port) Endpoint(string value)
    {
        int colon = value.LastIndexOf(':');
        string host = colon < 0 ? "" : value[..colon].Trim('[', ']'), portText = colon < 0 ? value : value[(colon + 1)..];
        if (!int.TryParse(portText, out var port) || port is <= 0 or >= 65536)
        {
            throw new UsageException($"--tcp: '{value}' is not a port or host:port");
        }

        if (host.Length == 0)
        {
            return (null, port);
        }

        return System.Net.IPAddress.TryParse(host, out var address) ? (address, port)
            : host == "localhost" ? (System.Net.IPAddress.Loopback, port)
            : throw new UsageException($"--tcp: '{host}' is not an IP address");
    }
}
