using System.Text;
using Containers.DockerApi;
using Containers.Tests.Images;
using Docker.DotNet;
using Docker.DotNet.Models;
using DotNet.Testcontainers.Builders;
using TestcontainersBuilder = DotNet.Testcontainers.Builders.ContainerBuilder;

namespace Containers.Tests.DockerApi;

/// <summary>The client libraries .NET users already have, unchanged, against our API: Docker.DotNet and Testcontainers.</summary>
public sealed class ClientLibraryTests
{
    [Fact]
    public async Task Testcontainers_starts_a_container_with_a_port_binding_and_a_log_message_wait()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        Environment.SetEnvironmentVariable("TESTCONTAINERS_RYUK_DISABLED", "true"); // its reaper image cannot be pulled here

        var container = new TestcontainersBuilder("busybox:latest")
            .WithDockerEndpoint("unix://" + server.SocketPath)
            .WithCommand("sh", "-c", "echo 'server is ready'; exec httpd -f -p 8080 -h /var/www")
            .WithPortBinding(8080, assignRandomHostPort: true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("server is ready"))
            .Build();
        await using (container)
        {
            await container.StartAsync();
            var port = container.GetMappedPublicPort(8080);
            Assert.NotEqual(0, port);
            Assert.Equal("hello from busybox httpd\n", await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{port}/index.html"));
            var exec = await container.ExecAsync(["sh", "-c", "echo from-exec; exit 2"]);
            Assert.Equal((2L, "from-exec\n"), (exec.ExitCode, exec.Stdout));
            await container.CopyAsync(Encoding.UTF8.GetBytes("copied in\n"), "/tmp/copied.txt");
            Assert.Equal("copied in\n", Encoding.UTF8.GetString(await container.ReadFileAsync("/tmp/copied.txt")));
            var (stdout, _) = await container.GetLogsAsync();
            Assert.Contains("server is ready", stdout, StringComparison.Ordinal);
        }

        Assert.Empty(t.Engine.List(all: true)); // Testcontainers removed it through the API
    }

    [Fact]
    public async Task Docker_DotNet_calls_succeed()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        using var client = new DockerClientBuilder().WithEndpoint(new Uri("unix://" + server.SocketPath)).Build();

        var version = await client.System.GetVersionAsync();
        Assert.Equal(DockerApiServer.ApiVersion, version.APIVersion);
        var images = await client.Images.ListImagesAsync(new ImagesListParameters());
        Assert.Contains(images, i => i.RepoTags.Contains("busybox:latest"));
        var image = await client.Images.InspectImageAsync("busybox:latest");
        Assert.StartsWith("sha256:", image.ID, StringComparison.Ordinal);

        // create, start, wait, logs (the multiplexed stream: stdout and stderr apart)
        var created = await client.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = "busybox:latest",
            Name = "dotnet-client",
            Cmd = ["sh", "-c", "echo out; echo err >&2; exit 5"],
            Labels = new Dictionary<string, string> { ["app"] = "docker-dotnet" },
        });
        Assert.True(await client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters()));
        var wait = await client.Containers.WaitContainerAsync(created.ID);
        Assert.Equal(5, wait.StatusCode);
        using (var logs = await client.Containers.GetContainerLogsAsync(created.ID, new ContainerLogsParameters { ShowStdout = true, ShowStderr = true }))
        {
            var (stdout, stderr) = await logs.ReadOutputToEndAsync(CancellationToken.None);
            Assert.Equal(("out\n", "err\n"), (stdout, stderr));
        }

        var listed = await client.Containers.ListContainersAsync(new ContainersListParameters
        {
            All = true,
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["app=docker-dotnet"] = true } },
        });
        Assert.Equal(created.ID, Assert.Single(listed).ID);
        var inspected = await client.Containers.InspectContainerAsync("dotnet-client");
        Assert.Equal(("exited", 5L), (inspected.State!.Status, inspected.State.ExitCode));
        await client.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters());
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => client.Containers.InspectContainerAsync(created.ID));

        // exec attached (hijacked stream) and its exit code
        var sleeper = await client.Containers.CreateContainerAsync(new CreateContainerParameters { Image = "busybox:latest", Cmd = ["sleep", "60"] });
        await client.Containers.StartContainerAsync(sleeper.ID, new ContainerStartParameters());
        var execCreated = await client.Exec.CreateContainerExecAsync(sleeper.ID, new ContainerExecCreateParameters { Cmd = ["sh", "-c", "echo exec-out; exit 3"], AttachStdout = true, AttachStderr = true });
        using (var stream = await client.Exec.StartContainerExecAsync(execCreated.ID, new ContainerExecStartParameters()))
        {
            var (stdout, _) = await stream.ReadOutputToEndAsync(CancellationToken.None);
            Assert.Equal("exec-out\n", stdout);
        }

        var execInspect = await client.Exec.InspectContainerExecAsync(execCreated.ID);
        Assert.Equal(3L, execInspect.ExitCode);

        // an exec with a TTY sees the size the client resizes it to (as docker exec -it sends right after start)
        var ttyExec = await client.Exec.CreateContainerExecAsync(sleeper.ID, new ContainerExecCreateParameters { Cmd = ["sh", "-c", "sleep 1; stty size"], AttachStdout = true, TTY = true });
        using (var stream = await client.Exec.StartContainerExecAsync(ttyExec.ID, new ContainerExecStartParameters { TTY = true }))
        {
            await client.Exec.ResizeExecTtyAsync(ttyExec.ID, new ContainerResizeParameters { Height = 40, Width = 100 });
            var (stdout, _) = await stream.ReadOutputToEndAsync(CancellationToken.None);
            Assert.Equal("40 100", stdout.Trim());
        }

        await Assert.ThrowsAnyAsync<DockerApiException>(() => client.Exec.ResizeExecTtyAsync("nosuchexec", new ContainerResizeParameters { Height = 40, Width = 100 }));

        // networks and volumes
        var network = await client.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = "dotnet-net" });
        await client.Networks.ConnectNetworkAsync(network.ID, new NetworkConnectParameters { Container = sleeper.ID });
        var onNetwork = await client.Networks.InspectNetworkAsync("dotnet-net");
        Assert.Contains(sleeper.ID, onNetwork.Containers.Keys);
        await client.Containers.RemoveContainerAsync(sleeper.ID, new ContainerRemoveParameters { Force = true });
        await client.Networks.DeleteNetworkAsync(network.ID);
        var volume = await client.Volumes.CreateAsync(new VolumesCreateParameters { Name = "dotnet-vol" });
        Assert.Equal("dotnet-vol", volume.Name);
        await client.Volumes.RemoveAsync("dotnet-vol");

        // errors are Docker's: a missing image is a 404 with the name, a bad body a 400 naming the field
        var missing = await Assert.ThrowsAsync<DockerImageNotFoundException>(() => client.Images.InspectImageAsync("no-such-image:1"));
        Assert.Contains("no-such-image:1", missing.Message, StringComparison.Ordinal);
        Assert.Empty(t.Engine.List(all: true));
    }

    [Fact]
    public async Task Malformed_bodies_get_400_naming_the_field_and_unserved_paths_a_json_404()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        using var http = DockerHttp.Client(server);

        async Task<(int Status, string Body)> Post(string path, string json)
        {
            using var response = await http.PostAsync(new Uri(path, UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal((400, """{"message":"HostConfig.Memory: expected an integer, got \"lots\""}"""), await Post("containers/create", """{"Image":"busybox","HostConfig":{"Memory":"lots"}}"""));
        Assert.Equal((400, """{"message":"Cmd[1]: expected a string"}"""), await Post("containers/create", """{"Image":"busybox","Cmd":["echo",1]}"""));
        var notJson = await Post("containers/create", "{bad");
        Assert.Equal(400, notJson.Status);
        Assert.StartsWith("""{"message":"invalid container config:""", notJson.Body, StringComparison.Ordinal);
        Assert.Equal((404, """{"message":"No such image: nothing:here"}"""), await Post("containers/create", """{"Image":"nothing:here"}"""));
        Assert.Equal((400, """{"message":"invalid network config: Name: a network name is required"}"""), await Post("networks/create", "{}"));
        using var unserved = await http.GetAsync(new Uri("swarm", UriKind.Relative));
        Assert.Equal((404, """{"message":"GET /swarm is not served by containers-dotnet"}"""), ((int)unserved.StatusCode, await unserved.Content.ReadAsStringAsync()));
        Assert.Empty(t.Engine.List(all: true));
    }

    [Fact]
    public async Task A_hostile_archive_stays_inside_the_container()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        using var client = new DockerClientBuilder().WithEndpoint(new Uri("unix://" + server.SocketPath)).Build();
        var c = await client.Containers.CreateContainerAsync(new CreateContainerParameters { Image = "busybox:latest", Cmd = ["sleep", "60"] });
        await client.Containers.StartContainerAsync(c.ID, new ContainerStartParameters());
        var tag = Guid.NewGuid().ToString("N")[..8];

        // ".." climbing out (it cannot climb above the destination), and a symlink to "/" followed by a file through it
        // (resolved inside the container): both land inside the container, nothing on the host
        var tar = new MemoryStream();
        await using (var w = new System.Formats.Tar.TarWriter(tar, leaveOpen: true))
        {
            await w.WriteEntryAsync(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, $"../../../../climbed-{tag}.txt") { DataStream = new MemoryStream("up\n"u8.ToArray()) });
            await w.WriteEntryAsync(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.SymbolicLink, "evil") { LinkName = "/" });
            await w.WriteEntryAsync(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, $"evil/tmp/through-{tag}.txt") { DataStream = new MemoryStream("in\n"u8.ToArray()) });
        }

        tar.Position = 0;
        await client.Containers.ExtractArchiveToContainerAsync(c.ID, new CopyToContainerParameters { Path = "/tmp" }, tar);
        Assert.False(File.Exists($"/climbed-{tag}.txt") || File.Exists($"/tmp/climbed-{tag}.txt"));
        Assert.False(File.Exists($"/tmp/through-{tag}.txt"));
        var exec = await client.Exec.CreateContainerExecAsync(c.ID, new ContainerExecCreateParameters { Cmd = ["cat", $"/tmp/climbed-{tag}.txt", $"/tmp/through-{tag}.txt"], AttachStdout = true, AttachStderr = true });
        using (var stream = await client.Exec.StartContainerExecAsync(exec.ID, new ContainerExecStartParameters()))
        {
            Assert.Equal("up\nin\n", (await stream.ReadOutputToEndAsync(CancellationToken.None)).stdout);
        }

        await client.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true });
    }
}
