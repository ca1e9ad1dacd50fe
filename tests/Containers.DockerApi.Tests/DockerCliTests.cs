using System.Diagnostics;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>The real docker CLI (/usr/local/bin/docker, 28.x) against our Docker Engine API on a unix socket.</summary>
public sealed class DockerCliTests
{
    private static async Task<(int Code, string Stdout, string Stderr)> Docker(string socket, params string[] args)
    {
        var psi = new ProcessStartInfo(File.Exists("/usr/local/bin/docker") ? "/usr/local/bin/docker" : "docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DOCKER_HOST"] = "unix://" + socket;
        psi.Environment["DOCKER_CONFIG"] = Path.GetDirectoryName(socket);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw new TimeoutException($"docker {string.Join(' ', args)} hung: {await stdout} {await stderr}");
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Any_app_hosts_the_api_as_a_hosted_service()
    {
        await using var t = new TestEngine();
        var socket = Path.Combine(t.Root, "hosted.sock");
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton(builder.Services, t.Engine);
        builder.Services.AddDockerApi(socket);
        using var host = builder.Build();
        await host.StartAsync();

        var info = await Docker(socket, "info", "--format", "{{.DockerRootDir}}");
        Assert.Equal(t.Root + "\n", info.Stdout);

        await host.StopAsync();
        Assert.False(File.Exists(socket));
    }

    [Fact]
    public async Task The_docker_cli_negotiates_and_lists_containers_images_networks_and_volumes()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        await using var c = await t.Busybox("sleep", "60").WithName("apitest").WithNetwork("none").StartAsync();
        t.Engine.Networks.Create("apinet");
        t.Engine.Volumes.Create("apivol");

        var version = await Docker(server.SocketPath, "version", "--format", "{{.Server.APIVersion}}");
        Assert.True(version.Code == 0, version.Stderr);
        Assert.Equal(DockerApiServer.ApiVersion + "\n", version.Stdout);

        var ps = await Docker(server.SocketPath, "ps", "--format", "{{.Names}} {{.State}}");
        Assert.Contains("apitest running", ps.Stdout, StringComparison.Ordinal);
        var images = await Docker(server.SocketPath, "images", "--format", "{{.Repository}}:{{.Tag}}");
        Assert.Contains("busybox:latest", images.Stdout, StringComparison.Ordinal);
        var networks = await Docker(server.SocketPath, "network", "ls", "--format", "{{.Name}}");
        Assert.True(networks.Code == 0, networks.Stderr);
        Assert.Contains("apinet", networks.Stdout, StringComparison.Ordinal);
        Assert.Contains("bridge", networks.Stdout, StringComparison.Ordinal);
        var volumes = await Docker(server.SocketPath, "volume", "ls", "--format", "{{.Name}}");
        Assert.Contains("apivol", volumes.Stdout, StringComparison.Ordinal);
        var info = await Docker(server.SocketPath, "info", "--format", "{{.OSType}} {{.Driver}} {{.ContainersRunning}}");
        Assert.Equal("linux overlay 1\n", info.Stdout);

        // docker run -d: create, start; inspect, stop, rm; a missing container is Docker's 404
        var detached = await Docker(server.SocketPath, "run", "-d", "--name", "apiweb", "-p", "127.0.0.1::8080", "busybox", "httpd", "-f", "-p", "8080", "-h", "/var/www");
        Assert.True(detached.Code == 0, detached.Stderr);
        Assert.Equal("hello from busybox httpd\n", await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{t.Engine.Get("apiweb").GetHostPort(8080)}/index.html"));
        var inspect = await Docker(server.SocketPath, "inspect", "--format", "{{.State.Status}}", "apiweb");
        Assert.Equal("running\n", inspect.Stdout);
        Assert.Equal(0, (await Docker(server.SocketPath, "stop", "-t", "1", "apiweb")).Code);
        Assert.Equal(0, (await Docker(server.SocketPath, "rm", "apiweb")).Code);
        var missing = await Docker(server.SocketPath, "rm", "apiweb");
        Assert.Contains("No such container: apiweb", missing.Stderr, StringComparison.Ordinal);

        // what is not served yet says so in Docker's error format, never a hang or an empty 200
        var unserved = await Docker(server.SocketPath, "pause", "apitest");
        Assert.NotEqual(0, unserved.Code);
        Assert.Contains("is not served by containers-dotnet yet", unserved.Stderr, StringComparison.Ordinal);
        t.Engine.Networks.Remove("apinet");
    }
}
