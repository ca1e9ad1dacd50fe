using System.Diagnostics;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>Debian's docker-compose 1.29 (the Python compose v1, on docker-py) against our Docker Engine API.</summary>
public sealed class ComposeV1Tests
{
    [Fact]
    public async Task Docker_compose_1_29_brings_a_stack_up_with_service_names_and_takes_it_down()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:v1");
        var dir = Directory.CreateDirectory(Path.Combine(t.Root, "stack")).FullName;
        File.WriteAllText(Path.Combine(dir, "docker-compose.yml"), """
            version: "3.8"
            services:
              db:
                image: localhost/busybox:v1
                command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
              web:
                image: localhost/busybox:v1
                command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /var/www & wait"]
                depends_on: [db]
            """);

        // compose v1 creates each container on its network, then disconnects and connects it back with its aliases
        // (it looks for the container's short ID among them, which API 1.44 and later no longer list)
        var up = await Compose(server, dir, "up", "-d");
        Assert.True(up.Code == 0, up.Stderr);
        // a recreate reads the old image's ContainerConfig.Volumes (dockerd answers it before API 1.45; compose asks 1.38)
        var recreate = await Compose(server, dir, "up", "-d", "--force-recreate");
        Assert.True(recreate.Code == 0, recreate.Stderr);
        var ps = await Compose(server, dir, "ps");
        Assert.Contains("stack_web_1", ps.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, t.Engine.List().Count(s => s.Spec.Labels.GetValueOrDefault("com.docker.compose.project") == "stack"));
        var lookup = await Compose(server, dir, "exec", "-T", "web", "nslookup", "db");
        Assert.True(lookup.Code == 0, lookup.Stdout + lookup.Stderr);
        Assert.Contains("Address", lookup.Stdout, StringComparison.Ordinal);
        var byShortId = await Compose(server, dir, "exec", "-T", "web", "nslookup", t.Engine.Get("stack_db_1").Id[..12]);
        Assert.True(byShortId.Code == 0, byShortId.Stdout + byShortId.Stderr);

        var down = await Compose(server, dir, "down");
        Assert.True(down.Code == 0, down.Stderr);
        Assert.Empty(t.Engine.List(all: true));
        Assert.DoesNotContain(t.Engine.Networks.List(), n => n.Name == "stack_default");
    }

    private static Task<(int Code, string Stdout, string Stderr)> Compose(DockerApiServer server, string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("docker-compose", args) { WorkingDirectory = dir };
        psi.Environment["DOCKER_HOST"] = "unix://" + server.SocketPath;
        psi.Environment["DOCKER_CONFIG"] = Path.GetDirectoryName(server.SocketPath);
        return ClientProcess.RunAsync(psi, TimeSpan.FromSeconds(90), server);
    }
}
