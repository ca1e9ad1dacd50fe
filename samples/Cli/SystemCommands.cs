using Containers.DockerApi;

namespace Containers.Cli;

/// <summary><c>containers system service</c>: the Docker Engine API in the foreground, for docker, Docker.DotNet and Testcontainers.</summary>
internal static class SystemCommands
{
    public static async Task<int> ServiceAsync(ContainerEngine engine, Args a)
    {
        var socket = a.Get("socket") ?? Path.Combine(engine.Root, "docker.sock");
        int? tcp = a.Get("tcp") is { } t ? int.TryParse(t, out var port) && port is > 0 and < 65536 ? port : throw new UsageException($"--tcp: '{t}' is not a port") : null;
        using var stop = new StopSignal();
        await using (var server = await DockerApiServer.StartAsync(engine, socket, tcp).ConfigureAwait(false))
        {
            await Console.Error.WriteLineAsync($"serving the Docker Engine API {DockerApiServer.ApiVersion} on unix://{socket}{(tcp is { } p ? $" and tcp://127.0.0.1:{p}" : "")}").ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"  export DOCKER_HOST=unix://{socket}").ConfigureAwait(false);
            await stop.WaitAsync().ConfigureAwait(false);
        }

        return 0;
    }
}
