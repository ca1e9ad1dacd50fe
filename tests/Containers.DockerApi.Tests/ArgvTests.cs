using System.Text;
using System.Text.Json.Nodes;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>
/// A container's argv as dockerd shows it: <c>docker create --entrypoint sh IMAGE -c CMD</c> (what an Aspire app host's
/// orchestrator runs for WithEntrypoint and WithArgs) is Path <c>sh</c>, Args and Config.Cmd <c>-c CMD</c>.
/// </summary>
public sealed class ArgvTests
{
    [Fact]
    public async Task An_entrypoint_and_its_arguments_are_inspected_and_run_as_dockerd_does()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        using var http = DockerHttp.Client(server);
        var body = new JsonObject
        {
            ["Image"] = "busybox",
            ["Entrypoint"] = new JsonArray("sh"),
            ["Cmd"] = new JsonArray("-c", "echo argv $0; exit 3"),
        }.ToJsonString();
        using var created = await http.PostAsync(new Uri("containers/create?name=argv", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        string answer = await created.Content.ReadAsStringAsync();
        Assert.True(created.IsSuccessStatusCode, answer);
        string id = (string)JsonNode.Parse(answer)!["Id"]!;

        var inspect = JsonNode.Parse(await http.GetStringAsync(new Uri($"containers/{id}/json", UriKind.Relative)))!;
        Assert.Equal("sh", (string?)inspect["Path"]);
        Assert.Equal(["-c", "echo argv $0; exit 3"], inspect["Args"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(["sh"], inspect["Config"]!["Entrypoint"]!.AsArray().Select(a => (string)a!));
        Assert.Equal(["-c", "echo argv $0; exit 3"], inspect["Config"]!["Cmd"]!.AsArray().Select(a => (string)a!));
        var listed = JsonNode.Parse(await http.GetStringAsync(new Uri("containers/json?all=1", UriKind.Relative)))!.AsArray().Single(c => (string?)c!["Id"] == id)!;
        Assert.Equal("sh -c echo argv $0; exit 3", (string?)listed["Command"]);

        using (var started = await http.PostAsync(new Uri($"containers/{id}/start", UriKind.Relative), null))
        {
            Assert.Equal(204, (int)started.StatusCode);
        }

        using var waited = await http.PostAsync(new Uri($"containers/{id}/wait", UriKind.Relative), null);
        Assert.Equal(3, (int)JsonNode.Parse(await waited.Content.ReadAsStringAsync())!["StatusCode"]!);
        using var removed = await http.DeleteAsync(new Uri($"containers/{id}", UriKind.Relative));
        Assert.Equal(204, (int)removed.StatusCode);
    }

    [Fact]
    public async Task A_rootfs_container_runs_its_entrypoint_before_its_command()
    {
        await using var t = new TestEngine();
        var result = await t.RunAsync(t.Busybox("echo from-command $0; exit 4").WithEntrypoint("sh", "-c"));
        Assert.Equal(4, result.ExitCode);
        Assert.Contains("from-command sh", result.Stdout, StringComparison.Ordinal);
    }
}
