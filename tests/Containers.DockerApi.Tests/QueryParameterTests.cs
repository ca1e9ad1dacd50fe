using System.Text;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>Query parameters parsed as dockerd parses them (moby's BoolValue): what the Docker SDK for Python sends works.</summary>
public sealed class QueryParameterTests
{
    [Theory]
    [InlineData("1", true)]
    [InlineData("true", true)]
    [InlineData("True", true)]
    [InlineData("yes", true)]
    [InlineData(" TRUE ", true)]
    [InlineData("", false)]
    [InlineData("0", false)]
    [InlineData("no", false)]
    [InlineData("False", false)]
    [InlineData("NONE", false)]
    public void A_boolean_is_moby_s_BoolValue(string value, bool expected) => Assert.Equal(expected, DockerApiServer.Truthy(value));

    [Fact]
    public async Task Python_s_force_True_removes_a_running_container_and_stream_False_answers_one_sample()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        using var http = DockerHttp.Client(server);

        using var created = await http.PostAsync(new Uri("containers/create", UriKind.Relative), new StringContent("""{"Image":"busybox","Cmd":["sleep","60"]}""", Encoding.UTF8, "application/json"));
        string id = (string)System.Text.Json.Nodes.JsonNode.Parse(await created.Content.ReadAsStringAsync())!["Id"]!;
        using (var started = await http.PostAsync(new Uri($"containers/{id}/start", UriKind.Relative), null))
        {
            Assert.Equal(204, (int)started.StatusCode);
        }

        // stream=False: one JSON document, then the response ends (a client reading it as one object, as docker-py does)
        string stats = await http.GetStringAsync(new Uri($"containers/{id}/stats?stream=False", UriKind.Relative));
        Assert.NotNull(System.Text.Json.Nodes.JsonNode.Parse(stats)!["memory_stats"]);

        using var removed = await http.DeleteAsync(new Uri($"containers/{id}?force=True", UriKind.Relative));
        Assert.Equal(204, (int)removed.StatusCode);
        Assert.Empty(t.Engine.List(all: true));
    }
}
