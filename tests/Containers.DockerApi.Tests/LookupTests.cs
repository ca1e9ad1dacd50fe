using System.Text;
using System.Text.Json.Nodes;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>Objects named as dockerd finds them: a network by its full ID, as the orchestrator of an Aspire app host names it.</summary>
public sealed class LookupTests
{
    [Fact]
    public async Task A_container_is_created_on_a_network_named_by_its_full_id()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        using var http = DockerHttp.Client(server);
        using var network = await http.PostAsync(new Uri("networks/create", UriKind.Relative), new StringContent("""{"Name":"aspire-net"}""", Encoding.UTF8, "application/json"));
        string id = (string)JsonNode.Parse(await network.Content.ReadAsStringAsync())!["Id"]!;
        Assert.Equal(64, id.Length);

        var body = new JsonObject
        {
            ["Image"] = "busybox",
            ["Cmd"] = new JsonArray("sleep", "30"),
            ["HostConfig"] = new JsonObject { ["NetworkMode"] = id },
            ["NetworkingConfig"] = new JsonObject { ["EndpointsConfig"] = new JsonObject { [id] = new JsonObject { ["Aliases"] = new JsonArray("web") } } },
        }.ToJsonString();
        using var created = await http.PostAsync(new Uri("containers/create?name=web", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        string answer = await created.Content.ReadAsStringAsync();
        Assert.True(created.IsSuccessStatusCode, answer);
        string container = (string)JsonNode.Parse(answer)!["Id"]!;
        using (var started = await http.PostAsync(new Uri($"containers/{container}/start", UriKind.Relative), null))
        {
            Assert.Equal(204, (int)started.StatusCode);
        }

        var inspect = JsonNode.Parse(await http.GetStringAsync(new Uri($"containers/{container}/json", UriKind.Relative)))!;
        Assert.Equal(id, (string?)inspect["NetworkSettings"]!["Networks"]!["aspire-net"]!["NetworkID"]);
        using var removed = await http.DeleteAsync(new Uri($"containers/{container}?force=1", UriKind.Relative));
        Assert.Equal(204, (int)removed.StatusCode);
    }
}
