using System.Diagnostics;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>The real docker CLI (/usr/local/bin/docker, 28.x) against our Docker Engine API on a unix socket.</summary>
public sealed class DockerCliTests
{
    private static Task<(int Code, string Stdout, string Stderr)> Docker(string socket, params string[] args) => DockerWithInput(socket, null, args);

    // the servers by socket, for what a hung command's message says the server was still answering
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, DockerApiServer> Servers = new();

    private static async Task<DockerApiServer> Serve(TestEngine t)
    {
        var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        Servers[server.SocketPath] = server;
        return server;
    }

    private static async Task<(int Code, string Stdout, string Stderr)> DockerWithInput(string socket, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(File.Exists("/usr/local/bin/docker") ? "/usr/local/bin/docker" : "docker") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.Environment["DOCKER_HOST"] = "unix://" + socket;
        psi.Environment["DOCKER_CONFIG"] = Path.GetDirectoryName(socket);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
        }

        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // what the server was still answering, and where the CLI waited (Go prints its goroutines on SIGQUIT)
            var pending = Servers.TryGetValue(socket, out var server) ? string.Join("; ", server.PendingRequests) : "(server not known)";
            using (var quit = Process.Start("kill", ["-QUIT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await quit.WaitForExitAsync();
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            try
            {
                await p.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                p.Kill();
            }

            var err = await stderr;
            // what the engine says about its containers, for the failure's message
            var ps = args is ["ps", ..] ? default : await DockerWithInput(socket, null, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}} {{.Networks}} {{.Command}}");
            throw new TimeoutException($"docker {string.Join(' ', args)} hung: {await stdout} {err[..Math.Min(err.Length, 12000)]}; pending requests: {pending}; docker ps -a: {ps.Stdout} {ps.Stderr}");
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
        await using var server = await Serve(t);
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

        // what is not served says so in Docker's error format, never a hang or an empty 200
        var unserved = await Docker(server.SocketPath, "plugin", "ls");
        Assert.NotEqual(0, unserved.Code);
        Assert.Contains("GET /plugins is not served by containers-dotnet", unserved.Stderr, StringComparison.Ordinal);
        t.Engine.Networks.Remove("apinet");
    }

    [Fact]
    public async Task The_docker_cli_runs_privileged_init_device_pid_ipc_and_volumes_from_and_inspect_shows_them()
    {
        await using var t = new TestEngine();
        await using var server = await Serve(t);
        var sock = server.SocketPath;
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");

        var init = await Docker(sock, "run", "--rm", "--init", "busybox", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '");
        Assert.True(init.Code == 0, init.Stderr);
        Assert.StartsWith("/sbin/docker-init -- sh -c", init.Stdout, StringComparison.Ordinal);
        var privileged = await Docker(sock, "run", "--rm", "--privileged", "busybox", "sh", "-c", "grep Seccomp: /proc/self/status; test -e /dev/kmsg && echo kmsg");
        Assert.Equal("Seccomp:\t0\nkmsg\n", privileged.Stdout);

        var donor = await Docker(sock, "run", "-d", "--name", "donor", "--ipc", "shareable", "-v", "donorvol:/data", "busybox", "sleep", "60");
        Assert.True(donor.Code == 0, donor.Stderr);
        var shared = await Docker(sock, "run", "--rm", "--pid", "container:donor", "--ipc", "container:donor", "--volumes-from", "donor:ro", "--device", "/dev/null:/dev/mine:r",
            "busybox", "sh", "-c", "ps -o args | grep -c '^sleep 60'; ls /dev/mine; touch /data/x 2>/dev/null || echo read-only");
        Assert.True(shared.Code == 0, shared.Stderr);
        Assert.Equal("1\n/dev/mine\nread-only\n", shared.Stdout);

        var created = await Docker(sock, "create", "--name", "shown", "--init", "--privileged", "--pid", "host", "--ipc", "none", "--device", "/dev/null:/dev/n:rw", "--volumes-from", "donor", "busybox", "true");
        Assert.True(created.Code == 0, created.Stderr);
        var inspect = await Docker(sock, "inspect", "shown", "--format", "{{.HostConfig.Init}} {{.HostConfig.Privileged}} {{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{range .HostConfig.Devices}}{{.PathOnHost}}>{{.PathInContainer}}:{{.CgroupPermissions}}{{end}} {{.HostConfig.VolumesFrom}}");
        Assert.Equal("true true host none /dev/null>/dev/n:rw [donor]\n", inspect.Stdout);
        await Docker(sock, "rm", "-f", "donor", "shown");
    }

    [Fact]
    public async Task The_docker_cli_runs_remapped_containers_and_userns_host_opts_out()
    {
        var subids = Path.Combine(Path.GetTempPath(), "containers-tests-subid-" + Guid.NewGuid().ToString("N")[..8]);
        File.WriteAllText(subids, "dockremap:800000:65536\n");
        try
        {
            await using var t = new TestEngine(configure: o => o with { UsernsRemap = "default", SubordinateUidFile = subids, SubordinateGidFile = subids });
            await using var server = await Serve(t);
            var sock = server.SocketPath;
            await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
            var remapped = await Docker(sock, "run", "--rm", "busybox", "sh", "-c", "tr -s ' ' < /proc/self/uid_map");
            Assert.True(remapped.Code == 0, remapped.Stderr);
            Assert.Equal(" 0 800000 65536\n", remapped.Stdout);
            var host = await Docker(sock, "run", "--rm", "--userns", "host", "busybox", "sh", "-c", "tr -s ' ' < /proc/self/uid_map");
            Assert.Equal(" 0 0 4294967295\n", host.Stdout);
            var created = await Docker(sock, "create", "--name", "hosted", "--userns", "host", "busybox", "true");
            Assert.True(created.Code == 0, created.Stderr);
            Assert.Equal("host\n", (await Docker(sock, "inspect", "hosted", "--format", "{{.HostConfig.UsernsMode}}")).Stdout);
            var refused = await Docker(sock, "run", "--rm", "--privileged", "busybox", "true");
            Assert.Contains("privileged mode is incompatible with user namespaces", refused.Stderr, StringComparison.Ordinal);
            await Docker(sock, "rm", "-f", "hosted");
        }
        finally
        {
            File.Delete(subids);
        }
    }

    [Fact]
    public async Task The_docker_cli_runs_attaches_execs_copies_builds_saves_and_loads()
    {
        await using var t = new TestEngine();
        await using var server = await Serve(t);
        var sock = server.SocketPath;
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");

        // docker run attaches before it starts: output arrives through the hijacked connection, the exit code through wait
        var hi = await Docker(sock, "run", "--rm", "busybox", "echo", "hi");
        Assert.True(hi.Code == 0, hi.Stderr);
        Assert.Equal("hi\n", hi.Stdout);
        var failing = await Docker(sock, "run", "--rm", "busybox", "sh", "-c", "echo to-stderr >&2; exit 3");
        Assert.Equal(3, failing.Code);
        Assert.Equal("to-stderr\n", failing.Stderr);
        var piped = await DockerWithInput(sock, "through stdin\n", "run", "--rm", "-i", "busybox", "cat");
        Assert.Equal("through stdin\n", piped.Stdout);
        var missing = await Docker(sock, "run", "--rm", "busybox", "no-such-command");
        Assert.Equal(127, missing.Code);
        Assert.Empty(t.Engine.List(all: true));

        // a detached server: ports, exec (output, exit code, stdin), logs -f, top, cp both ways
        Assert.Equal(0, (await Docker(sock, "run", "-d", "--name", "web", "-p", "127.0.0.1::8080", "busybox", "sh", "-c", "echo serving; exec httpd -f -p 8080 -h /var/www")).Code);
        var port = (await Docker(sock, "port", "web", "8080")).Stdout.Trim();
        Assert.Equal("hello from busybox httpd\n", await TestEngine.GetWhenUpAsync($"http://{port}/index.html"));
        var exec = await Docker(sock, "exec", "web", "sh", "-c", "echo in-exec; exit 4");
        Assert.Equal((4, "in-exec\n"), (exec.Code, exec.Stdout));
        Assert.Equal("exec stdin\n", (await DockerWithInput(sock, "exec stdin\n", "exec", "-i", "web", "cat")).Stdout);
        Assert.Equal("serving\n", (await Docker(sock, "logs", "web")).Stdout);
        Assert.Contains("httpd -f -p 8080", (await Docker(sock, "top", "web")).Stdout, StringComparison.Ordinal);
        var local = Path.Combine(t.Root, "upload.txt");
        await File.WriteAllTextAsync(local, "uploaded\n");
        Assert.Equal(0, (await Docker(sock, "cp", local, "web:/tmp/")).Code);
        Assert.Equal("uploaded\n", (await Docker(sock, "exec", "web", "cat", "/tmp/upload.txt")).Stdout);
        var download = Path.Combine(t.Root, "www");
        Assert.Equal(0, (await Docker(sock, "cp", "web:/var/www", download)).Code);
        Assert.Equal("hello from busybox httpd\n", await File.ReadAllTextAsync(Path.Combine(download, "index.html")));
        var follow = Docker(sock, "logs", "-f", "web");
        await Task.Delay(300);
        Assert.Equal(0, (await Docker(sock, "stop", "-t", "1", "web")).Code);
        Assert.Equal("serving\n", (await follow).Stdout); // -f ends with the container
        Assert.Equal(0, (await Docker(sock, "cp", local, "web:/root/after-stop.txt")).Code); // a stopped container's files too
        Assert.Equal(0, (await Docker(sock, "start", "web")).Code);
        Assert.Equal("uploaded\n", (await Docker(sock, "exec", "web", "cat", "/root/after-stop.txt")).Stdout);
        Assert.Equal(0, (await Docker(sock, "rm", "-f", "web")).Code);

        // build from a context, run it, save, remove, load, run again
        var context = Path.Combine(t.Root, "ctx");
        Directory.CreateDirectory(context);
        await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), "FROM busybox\nARG GREETING=hello\nCOPY msg.txt /msg.txt\nRUN echo \"$GREETING built\" > /built.txt\nCMD [\"cat\", \"/msg.txt\", \"/built.txt\"]\n");
        await File.WriteAllTextAsync(Path.Combine(context, "msg.txt"), "from the context\n");
        var build = await Docker(sock, "build", "-t", "app:1", "--build-arg", "GREETING=hey", context);
        Assert.True(build.Code == 0, build.Stdout + build.Stderr);
        Assert.Contains("Successfully tagged app:1", build.Stdout, StringComparison.Ordinal);
        Assert.Equal("from the context\nhey built\n", (await Docker(sock, "run", "--rm", "app:1")).Stdout);
        var brokenContext = Path.Combine(t.Root, "broken");
        Directory.CreateDirectory(brokenContext);
        await File.WriteAllTextAsync(Path.Combine(brokenContext, "Dockerfile"), "FROM busybox\nRUN exit 7\n");
        var broken = await Docker(sock, "build", brokenContext);
        Assert.NotEqual(0, broken.Code);
        Assert.Contains("Dockerfile:2", broken.Stderr + broken.Stdout, StringComparison.Ordinal);
        var archive = Path.Combine(t.Root, "app.tar");
        Assert.Equal(0, (await Docker(sock, "save", "-o", archive, "app:1")).Code);
        Assert.Equal(0, (await Docker(sock, "rmi", "app:1")).Code);
        Assert.Null(t.Engine.Images.Find("app:1"));
        var load = await Docker(sock, "load", "-i", archive);
        Assert.Contains("Loaded image: app:1", load.Stdout, StringComparison.Ordinal);
        Assert.Equal("from the context\nhey built\n", (await Docker(sock, "run", "--rm", "app:1")).Stdout);

        // networks and volumes made through the API: names resolve, data stays
        Assert.Equal(0, (await Docker(sock, "network", "create", "apinet")).Code);
        Assert.Equal(0, (await Docker(sock, "volume", "create", "apivol")).Code);
        Assert.Equal(0, (await Docker(sock, "run", "-d", "--name", "db", "--network", "apinet", "--network-alias", "database", "-v", "apivol:/data", "busybox", "sh", "-c", "echo kept > /data/f; sleep 60")).Code);
        var lookup = await Docker(sock, "run", "--rm", "--network", "apinet", "busybox", "nslookup", "database");
        Assert.Contains("Address: 10.", lookup.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Docker(sock, "rm", "-f", "db")).Code);
        Assert.Equal("kept\n", (await Docker(sock, "run", "--rm", "-v", "apivol:/data", "busybox", "cat", "/data/f")).Stdout);
        Assert.Equal(0, (await Docker(sock, "volume", "rm", "apivol")).Code);
        Assert.Equal(0, (await Docker(sock, "network", "rm", "apinet")).Code);

        // events replay what happened
        var events = await Docker(sock, "events", "--since", "0", "--until", DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), "--filter", "type=network", "--format", "{{.Action}} {{.Actor.Attributes.name}}");
        Assert.Contains("create apinet", events.Stdout, StringComparison.Ordinal);
        Assert.Contains("destroy apinet", events.Stdout, StringComparison.Ordinal);

        // an until already past when the request arrives (a slow client) still gets what happened before it
        var until = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Task.Delay(1100);
        var past = await Docker(sock, "events", "--since", "0", "--until", until, "--filter", "type=network", "--format", "{{.Action}} {{.Actor.Attributes.name}}");
        Assert.Contains("destroy apinet", past.Stdout, StringComparison.Ordinal);
        Assert.Empty(t.Engine.List(all: true));
    }

    [Fact]
    public async Task Docker_push_and_pull_go_through_a_local_registry()
    {
        using var registry = new TestRegistry();
        await using var t = new TestEngine();
        await using var server = await Serve(t);
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        var remote = $"{registry.Host}/team/busybox:1";

        Assert.Equal(0, (await Docker(server.SocketPath, "tag", "busybox:latest", remote)).Code);
        var push = await Docker(server.SocketPath, "push", remote);
        Assert.True(push.Code == 0, push.Stdout + push.Stderr);
        Assert.Contains("1: digest: sha256:", push.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await Docker(server.SocketPath, "rmi", remote)).Code);
        Assert.Null(t.Engine.Images.Find(remote));

        var pull = await Docker(server.SocketPath, "pull", remote);
        Assert.True(pull.Code == 0, pull.Stdout + pull.Stderr);
        Assert.Contains($"Status: Downloaded newer image for {remote}", pull.Stdout, StringComparison.Ordinal);
        Assert.Equal("pulled\n", (await Docker(server.SocketPath, "run", "--rm", remote, "echo", "pulled")).Stdout);

        // docker run pulls what is missing; a missing tag is the registry's 404, named
        Assert.Equal(0, (await Docker(server.SocketPath, "rmi", remote)).Code);
        Assert.Equal("again\n", (await Docker(server.SocketPath, "run", "--rm", remote, "echo", "again")).Stdout);
        var missing = await Docker(server.SocketPath, "pull", $"{registry.Host}/team/busybox:nope");
        Assert.NotEqual(0, missing.Code);
        Assert.Contains("team/busybox", missing.Stderr, StringComparison.Ordinal);
    }
}
