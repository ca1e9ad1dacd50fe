using System.Net.Sockets;
using Containers.DockerApi;

namespace Containers.Tests.DockerApi;

/// <summary>An HttpClient on a Docker API server's unix socket, addressed as API version 1.44 (as docker's clients do).</summary>
internal static class DockerHttp
{
    public static HttpClient Client(DockerApiServer server) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(server.SocketPath), ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = new Uri("http://docker/v1.44/") };
}
