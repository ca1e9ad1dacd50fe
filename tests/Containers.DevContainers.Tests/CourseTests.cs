using System.Diagnostics;
using System.Text.Json.Nodes;
using Containers.DevContainers;
using Containers.DockerApi;

namespace Containers.Tests.DevContainers;

/// <summary>
/// The course's Node.js dev container, brought up by us and by the reference implementation (@devcontainers/cli
/// from npm, installed by tests/run.sh) with the docker CLI on our Docker API socket; the same configurations.
/// </summary>
public sealed class CourseTests
{
    /// <summary>@devcontainers/cli, as tests/run.sh installs it (DEVCONTAINERS_CLI overrides).</summary>
    private static string ReferenceCli =>
        Environment.GetEnvironmentVariable("DEVCONTAINERS_CLI") is { Length: > 0 } cli ? cli : "/opt/containers-dotnet-tests/devcontainers-cli/node_modules/.bin/devcontainer";

    private static void OwnedByUid1000(string dir)
    {
        // the developer's files: the container's vscode (uid 1000) writes node_modules into them, as on a laptop
        // whose user is 1000 (run by root here, updateRemoteUserUID has nothing to map)
        using var chown = Process.Start("chown", ["-R", "1000:1000", dir])!;
        chown.WaitForExit();
    }

    [Fact]
    public async Task The_course_node_dev_container_runs_npm_test_and_serves_on_the_forwarded_port()
    {
        await using var t = DevTest.Engine(hostResolvers: true);
        await DevBaseImage.ImportAsync(t);
        var ws = DevTest.Workspace(t, DevBaseImage.NodeWorkspace());
        OwnedByUid1000(ws);
        var log = new List<string>();
        await using var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(DevTest.Options(log)).UpAsync();
        var test = await dev.ExecAsync(["npm", "test"]);
        Assert.True(test.ExitCode == 0, $"npm test: {test.Stdout} {test.Stderr}\n{string.Join('\n', log)}");
        Assert.Contains("2 tests passed", test.Stdout, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(ws, "node_modules", "is-number")), "npm install (postCreateCommand) wrote node_modules into the workspace");
        Assert.Equal(1, DevTest.Count(log, "Forwarding port 3000 (dev server) to 127.0.0.1:"));
        Assert.Equal("Hello from the dev container (ok)\n", await GetAsync(dev.GetForwardedPort(3000)));
        await dev.DownAsync();
    }

    /// <summary>GETs / on 127.0.0.1:<paramref name="port"/>, retrying while the server starts (up to 30 s).</summary>
    private static async Task<string> GetAsync(int port)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; ; i++)
        {
            try
            {
                return await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/"));
            }
            catch (HttpRequestException) when (i < 150)
            {
                await Task.Delay(200);
            }
        }
    }

    private static async Task<(int Code, string Stdout, string Stderr)> Reference(TestEngine t, DockerApiServer server, TimeSpan limit, params string[] args)
    {
        Assert.True(File.Exists(ReferenceCli), $"@devcontainers/cli is not installed at {ReferenceCli}: tests/run.sh installs it with npm");
        var psi = new ProcessStartInfo(ReferenceCli);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var tmp = Path.Combine(t.Root, "reference-tmp");
        Directory.CreateDirectory(tmp);
        psi.Environment["DOCKER_HOST"] = "unix://" + server.SocketPath;
        psi.Environment["DOCKER_CONFIG"] = tmp; // not the machine's ~/.docker
        psi.Environment["TMPDIR"] = tmp; // its generated Dockerfiles and compose files, removed with the test's root
        try
        {
            return await DevTest.RunAsync(psi, limit);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; the server was answering: {string.Join("; ", server.PendingRequests)}", e);
        }
    }

    private static JsonObject Outcome(string stdout) =>
        JsonNode.Parse(stdout.Trim().Split('\n')[^1])!.AsObject();

    [Fact]
    public async Task The_reference_cli_runs_up_exec_and_features_test_on_our_docker_api()
    {
        await using var t = DevTest.Engine(hostResolvers: true);
        await DevTest.ImportBusyboxAsync(t);
        await DevBaseImage.ImportAsync(t);
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        var minute = TimeSpan.FromMinutes(1);

        // an image with a local feature and the lifecycle commands (the hang the issue reports)
        var image = DevTest.Workspace(t,
        [
            .. DevTest.HelloFeature(".devcontainer/hello"),
            (".devcontainer/devcontainer.json", $$"""
                {
                  "image": "{{DevTest.Busybox}}",
                  "features": { "./hello": { "greeting": "hi there" } },
                  "onCreateCommand": "echo created >> /tmp/on-create",
                  "postCreateCommand": { "a": "echo a > /tmp/a", "b": ["sh", "-c", "hello > /tmp/b"] },
                  "postStartCommand": "echo started >> /tmp/post-start",
                }
                """),
        ]);
        var up = await Reference(t, server, minute, "up", "--workspace-folder", image);
        Assert.True(up.Code == 0, $"devcontainer up: {up.Stdout} {up.Stderr}");
        var outcome = Outcome(up.Stdout);
        Assert.Equal("success", (string?)outcome["outcome"]);
        var exec = await Reference(t, server, minute, "exec", "--workspace-folder", image, "sh", "-c", "cat /tmp/on-create /tmp/a /tmp/b /tmp/post-start; echo $HELLO_FEATURE");
        Assert.True(exec.Code == 0, exec.Stderr);
        Assert.Equal("created\na\nhi there from hello\nstarted\nyes\n", exec.Stdout);
        Assert.Equal(3, (await Reference(t, server, minute, "exec", "--workspace-folder", image, "sh", "-c", "exit 3")).Code);
        // the container it made is the one we find: our up reuses it, and its markers keep the create-time commands from running again
        var log = new List<string>();
        await using (var ours = await DevContainer.FromFolder(image).WithEngine(t.Engine).WithOptions(DevTest.Options(log)).UpAsync())
        {
            Assert.Equal((string?)outcome["containerId"], ours.Container.Id);
            Assert.Equal("created\n", (await ours.ExecAsync(["cat", "/tmp/on-create"])).Stdout);
            await ours.DownAsync();
        }

        // compose, with runServices
        var compose = DevTest.Workspace(t,
            (".devcontainer/docker-compose.yml", $$"""
                services:
                  app:
                    image: {{DevTest.Busybox}}
                    command: ["sh", "-c", "trap 'exit 0' TERM; while sleep 1; do :; done"]
                    volumes:
                      - ..:/workspace:cached
                  db:
                    image: {{DevTest.Busybox}}
                    command: ["httpd", "-f", "-p", "5432", "-h", "/var/www"]
                    init: true
                  extra:
                    image: {{DevTest.Busybox}}
                    command: ["sh", "-c", "trap 'exit 0' TERM; while sleep 1; do :; done"]
                """),
            (".devcontainer/devcontainer.json", """
                { "dockerComposeFile": "docker-compose.yml", "service": "app", "runServices": ["db"], "workspaceFolder": "/workspace", "postCreateCommand": "wget -q -O /tmp/from-db http://db:5432/index.html" }
                """));
        up = await Reference(t, server, 2 * minute, "up", "--workspace-folder", compose);
        Assert.True(up.Code == 0, $"devcontainer up (compose): {up.Stdout} {up.Stderr}");
        exec = await Reference(t, server, minute, "exec", "--workspace-folder", compose, "sh", "-c", "pwd; cat /tmp/from-db");
        Assert.Equal("/workspace\nhello from busybox httpd\n", exec.Stdout);
        var services = t.Engine.List().Select(c => c.Spec.Labels.GetValueOrDefault("com.docker.compose.service") ?? "").Order().ToArray();
        Assert.Equal(["app", "db"], services);
        foreach (var c in t.Engine.List(all: true))
        {
            await t.Engine.Get(c.Id).RemoveAsync(force: true);
        }

        // the course's Node.js dev container
        var node = DevTest.Workspace(t, DevBaseImage.NodeWorkspace());
        OwnedByUid1000(node);
        up = await Reference(t, server, TimeSpan.FromMinutes(10), "up", "--workspace-folder", node);
        Assert.True(up.Code == 0, $"devcontainer up (node): {up.Stdout} {up.Stderr}");
        exec = await Reference(t, server, 2 * minute, "exec", "--workspace-folder", node, "npm", "test");
        Assert.True(exec.Code == 0, $"npm test: {exec.Stdout} {exec.Stderr}");
        Assert.Contains("2 tests passed", exec.Stdout, StringComparison.Ordinal);
        foreach (var c in t.Engine.List(all: true))
        {
            await t.Engine.Get(c.Id).RemoveAsync(force: true);
        }

        // features test: the hello feature's own test script, in a container of the busybox base
        var collection = DevTest.Workspace(t,
        [
            .. DevTest.HelloFeature("src/hello"),
            ("test/hello/test.sh", """
                #!/bin/sh
                set -e
                hello | grep -q "hello from hello"
                [ "$HELLO_FEATURE" = yes ]
                echo "hello feature tests passed"
                """),
        ]);
        var features = await Reference(t, server, 2 * minute, "features", "test", "--project-folder", collection, "--base-image", DevTest.Busybox, "--skip-scenarios", "--skip-duplicated");
        Assert.True(features.Code == 0, $"devcontainer features test: {features.Stdout} {features.Stderr}");
        Assert.Contains("hello feature tests passed", features.Stdout + features.Stderr, StringComparison.Ordinal);
    }
}
