using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>
/// Answers take the shape dockerd gives the API version asked (moby's daemon/server/router: inspect.go and
/// image_routes.go), from 1.24 to the newest we serve.
/// </summary>
public sealed class VersionShapeTests
{
    [Fact]
    public async Task Image_and_container_documents_follow_the_version_asked()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        var tagged = await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        await using (var tar = File.OpenRead(TestImages.BusyboxTar))
        {
            await t.Engine.Images.ImportAsync(tar, null, new Containers.Images.Oci.ContainerConfig { Cmd = ["/bin/true"] }); // an untagged image
        }

        var network = t.Engine.Networks.Create("shapes");
        var c = await t.Engine.StartAsync(await t.Engine.ResolveAsync(t.Engine.FromImage("busybox:latest").WithName("shaped").WithHostname("shaper").WithNetwork("shapes").WithCommand("sleep", "60").ToSpec()));
        try
        {
            foreach (var version in new[] { "1.24", "1.42", "1.43", "1.44", "1.45", DockerApiServer.ApiVersion })
            {
                using var http = Client(server, version);
                var v = Version.Parse(version);
                var image = (await http.GetFromJsonAsync<JsonObject>("images/busybox:latest/json"))!;
                Assert.True(image.ContainsKey("VirtualSize") == v < new Version(1, 44), $"{version}: VirtualSize");
                Assert.True(image.ContainsKey("ContainerConfig") && image.ContainsKey("Container"), $"{version}: Container, ContainerConfig (kept for docker-compose 1.29)");
                Assert.False(image.ContainsKey("Descriptor"), $"{version}: Descriptor is 1.48's");
                Assert.Equal(tagged.Size, (long)image["Size"]!);

                var list = (await http.GetFromJsonAsync<JsonArray>("images/json"))!;
                var untagged = list.Single(i => (string?)i!["Id"] != tagged.Id.ToString())!;
                string[] expectedTags = v < new Version(1, 43) ? ["<none>:<none>"] : [];
                Assert.Equal(expectedTags, untagged["RepoTags"]!.AsArray().Select(x => (string)x!));
                Assert.True(untagged.AsObject().ContainsKey("VirtualSize") == v < new Version(1, 44), $"{version}: list VirtualSize");
                Assert.Equal(-1, (int)untagged["Containers"]!);

                var inspect = (await http.GetFromJsonAsync<JsonObject>("containers/shaped/json"))!;
                var aliases = inspect["NetworkSettings"]!["Networks"]!["shapes"]!["Aliases"]?.AsArray().Select(x => (string)x!).ToList() ?? [];
                string[] expectedAliases = v < new Version(1, 45) ? [c.Id[..12], "shaper"] : [];
                Assert.Equal(expectedAliases, aliases);
            }
        }
        finally
        {
            await c.RemoveAsync(force: true);
            t.Engine.Networks.Remove(network.Id);
        }
    }

    private static HttpClient Client(DockerApiServer server, string version) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(server.SocketPath), ct);
            return new NetworkStream(socket, ownsSocket: true);
        },
    })
    { BaseAddress = new Uri($"http://docker/v{version}/") };
}
