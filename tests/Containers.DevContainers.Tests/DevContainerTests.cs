using Containers.DevContainers;
using Containers.Tests.Images;

namespace Containers.Tests.DevContainers;

/// <summary>Dev containers brought up on the engine: features as layers, the lifecycle commands, ports, compose, bad input.</summary>
public sealed class DevContainerTests
{
    [Fact]
    public async Task Up_installs_features_runs_the_lifecycle_once_and_reuses_the_container()
    {
        await using var t = DevTest.Engine();
        await DevTest.ImportBusyboxAsync(t);
        // a port nothing else on this machine is likely to hold: a restart publishes the same host port again
        var port = Random.Shared.Next(20000, 30000);
        var ws = DevTest.Workspace(t,
        [
            .. DevTest.HelloFeature(".devcontainer/hello"),
            ("README.md", "the workspace\n"),
            (".devcontainer/devcontainer.json", $$"""
                {
                  "image": "{{DevTest.Busybox}}",
                  "features": { "./hello": { "greeting": "hi there", "loud-voice": true } },
                  "remoteUser": "app",
                  "containerEnv": { "FROM_FILE": "1" },
                  "remoteEnv": { "MYPATH": "${containerEnv:PATH}:/extra", "IN": "${containerWorkspaceFolder}" },
                  "forwardPorts": [{{port}}],
                  "portsAttributes": { "{{port}}": { "label": "web server" } },
                  "onCreateCommand": "echo created >> /tmp/on-create",
                  "updateContentCommand": ["sh", "-c", "echo updated >> /tmp/update-content"],
                  // parallel: both run, as app
                  "postCreateCommand": { "who": "id -un > /tmp/post-create-who", "where": ["sh", "-c", "pwd > /tmp/post-create-where"] },
                  "postStartCommand": "echo started >> /tmp/post-start && httpd -p {{port}} -h /var/www",
                  "postAttachCommand": "echo attached >> /tmp/post-attach",
                }
                """),
        ]);
        var log = new List<string>();
        var options = DevTest.Options(log);
        string id;
        await using (var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(options).UpAsync())
        {
            id = dev.Container.Id;
            Assert.Equal("app", dev.RemoteUser);
            Assert.Equal("/workspaces/" + Path.GetFileName(ws), dev.WorkspaceFolder);
            var r = await dev.ExecAsync(["sh", "-c", "hello; id -un; pwd; cat README.md; echo $HELLO_FEATURE $FROM_FILE $MYPATH $IN; cat /tmp/on-create /tmp/update-content /tmp/post-create-who /tmp/post-create-where /tmp/post-start /tmp/post-attach"]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(
                $"hi there from hello\napp\n{dev.WorkspaceFolder}\nthe workspace\nyes 1 /usr/local/bin:/bin:/extra {dev.WorkspaceFolder}\ncreated\nupdated\napp\n{dev.WorkspaceFolder}\nstarted\nattached\n",
                r.Stdout);
            // the options as upper-cased variables, the remote user's home found at build time
            Assert.Equal(1, DevTest.Count(log, "installing hello for app (home /home/app) greeting=hi there loud=true"));
            // forwarded on 127.0.0.1 with its label; httpd, started by postStartCommand, answers there
            Assert.Equal(1, DevTest.Count(log, $"Forwarding port {port} (web server) to 127.0.0.1:{dev.GetForwardedPort(port)}"));
            using var http = new HttpClient();
            Assert.Equal("hello from busybox httpd\n", await http.GetStringAsync(new Uri($"http://127.0.0.1:{dev.GetForwardedPort(port)}/index.html")));
            // the reference implementation's labels and markers
            var labels = dev.Container.State.Spec.Labels;
            Assert.Equal(ws, labels[DevContainer.LocalFolderLabel]);
            Assert.Equal(Path.Combine(ws, ".devcontainer", "devcontainer.json"), labels[DevContainer.ConfigFileLabel]);
            Assert.Equal(["./hello", null], DevContainerMetadata.ParseLabel(labels[DevContainerMetadata.Label], "label").Select(e => (string?)e["id"]));
            var markers = await dev.ExecAsync(["sh", "-c", "ls -A ~/.devcontainer"]);
            Assert.Equal(".onCreateCommandMarker\n.postCreateCommandMarker\n.postStartCommandMarker\n.updateContentCommandMarker\n", markers.Stdout);
        }

        // disposed: stopped (shutdownAction stopContainer), kept
        Assert.False(t.Engine.Get(id).State.IsActive);

        // up again: the same container, started; create-time commands not again, postStartCommand again; features from the cache
        await using (var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(options).UpAsync())
        {
            Assert.Equal(id, dev.Container.Id);
            var r = await dev.ExecAsync(["sh", "-c", "cat /tmp/on-create /tmp/update-content /tmp/post-start /tmp/post-attach; cat /tmp/hello-installs"]);
            Assert.Equal("created\nupdated\nstarted\nstarted\nattached\nattached\nhi there\n", r.Stdout);
        }

        // a new container (removed first): the features image is built again from the layer cache, install.sh not run
        await using (var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(options with { RemoveExistingContainer = true }).UpAsync())
        {
            Assert.NotEqual(id, dev.Container.Id);
            Assert.Equal(1, DevTest.Count(log, "installing hello"));
            Assert.Equal("created\n", (await dev.ExecAsync(["cat", "/tmp/on-create"])).Stdout);
            await dev.DownAsync();
        }

        Assert.DoesNotContain(DevContainer.Find(t.Engine, DevContainerConfig.Load(ws)), c => c.IsActive);
    }

    [Fact]
    public async Task A_failing_lifecycle_command_names_it_and_its_exit_code_and_leaves_the_container()
    {
        await using var t = DevTest.Engine();
        await DevTest.ImportBusyboxAsync(t);
        var ws = DevTest.Workspace(t, (".devcontainer.json", $$"""
            { "image": "{{DevTest.Busybox}}", "onCreateCommand": "true", "postCreateCommand": "echo about to fail; exit 7", "postStartCommand": "touch /tmp/never" }
            """));
        var log = new List<string>();
        var e = await Assert.ThrowsAsync<DevContainerCommandException>(() => DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(DevTest.Options(log)).UpAsync());
        Assert.Equal("postCreateCommand", e.CommandName);
        Assert.Equal(7, e.ExitCode);
        Assert.Contains("postCreateCommand failed: 'echo about to fail; exit 7' exited with code 7", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, DevTest.Count(log, "about to fail"));
        // left running for inspection; what came after did not run
        var c = t.Engine.Get(e.ContainerId);
        Assert.True(c.State.IsActive);
        Assert.NotEqual(0, (await c.ExecAsync(["test", "-e", "/tmp/never"])).ExitCode);
        await c.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Unmet_host_requirements_are_refused_before_anything_is_built()
    {
        await using var t = DevTest.Engine();
        var ws = DevTest.Workspace(t,
        [
            .. DevTest.HelloFeature(".devcontainer/hello"),
            (".devcontainer/devcontainer.json", """
                { "build": { "dockerfile": "Dockerfile" }, "features": { "./hello": {} }, "initializeCommand": "touch initialized", "hostRequirements": { "cpus": 4096, "memory": "64tb" } }
                """),
            (".devcontainer/Dockerfile", "FROM scratch\n"),
        ]);
        var e = await Assert.ThrowsAsync<DevContainerException>(() => DevContainer.FromFolder(ws).WithEngine(t.Engine).UpAsync());
        Assert.Contains("hostRequirements cannot be met", e.Message, StringComparison.Ordinal);
        Assert.Contains("4096 CPUs (this machine has", e.Message, StringComparison.Ordinal);
        Assert.Contains("64 TiB", e.Message.Replace("65536 GiB", "64 TiB", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Empty(t.Engine.Images.List());
        Assert.Empty(t.Engine.List(all: true));
        Assert.False(File.Exists(Path.Combine(ws, "initialized")), "initializeCommand ran before the check");
    }

    [Fact]
    public async Task An_unknown_feature_or_an_unreachable_registry_names_the_feature()
    {
        await using var t = DevTest.Engine();
        await DevTest.ImportBusyboxAsync(t);
        foreach (var reference in new[] { "./no-such-feature", "127.0.0.1:1/devcontainers/features/node:1", "localhost:1/features/missing.tgz" })
        {
            var ws = DevTest.Workspace(t, (".devcontainer/devcontainer.json", $$"""{ "image": "{{DevTest.Busybox}}", "features": { "{{reference}}": {} } }"""));
            var e = await Assert.ThrowsAsync<DevContainerException>(() => DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(new DevContainerOptions { Registry = new() { MaxRetries = 0 } }).UpAsync());
            Assert.Contains($"feature '{reference}'", e.Message, StringComparison.Ordinal);
            Assert.Empty(t.Engine.List(all: true));
        }
    }

    [Fact]
    public async Task Features_come_from_an_OCI_registry_and_from_tarballs()
    {
        await using var t = DevTest.Engine();
        using var registry = new TestRegistry();
        await DevTest.ImportBusyboxAsync(t);
        var ws = DevTest.Workspace(t,
        [
            .. DevTest.HelloFeature("src/hello"),
            .. DevTest.HelloFeature("src/greeter", "greeter"),
            (".devcontainer/devcontainer.json", $$"""
                {
                  "image": "{{DevTest.Busybox}}",
                  "features": {
                    "127.0.0.1:{{registry.Port}}/our/features/hello:1": "ignored-version",
                    "./greeter.tgz": { "greeting": "from a tarball" }
                  },
                  "overrideFeatureInstallOrder": ["./greeter.tgz"]
                }
                """),
        ]);
        // published as @devcontainers/cli publishes: an OCI artifact of the feature's files
        var digest = await DevContainerFeatures.PublishAsync(Path.Combine(ws, "src", "hello"), $"127.0.0.1:{registry.Port}/our/features/hello:1");
        using (var artifacts = new Containers.Images.Registry.RegistryArtifacts())
        {
            var (body, mediaType) = await artifacts.GetManifestAsync(Containers.Images.ImageReference.Parse($"127.0.0.1:{registry.Port}/our/features/hello"), digest.ToString());
            Assert.Equal("application/vnd.oci.image.manifest.v1+json", mediaType);
            Assert.Equal("application/vnd.devcontainers.layer.v1+tar", (string?)System.Text.Json.Nodes.JsonNode.Parse(body)!["layers"]![0]!["mediaType"]);
        }

        DevTest.Tarball(Path.Combine(ws, "src", "greeter"), Path.Combine(ws, ".devcontainer", "greeter.tgz"));
        var log = new List<string>();
        await using var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(DevTest.Options(log)).UpAsync();
        // the tarball's first (overrideFeatureInstallOrder), then the registry's; both wrote /usr/local/bin/hello
        Assert.Equal("from a tarball\nhello\n", (await dev.ExecAsync(["cat", "/tmp/hello-installs"])).Stdout);
        Assert.Equal("hello from hello\n", (await dev.ExecAsync(["hello"])).Stdout);
        await dev.DownAsync();
    }

    [Fact]
    public async Task A_Dockerfile_dev_container_builds_with_its_args_and_target()
    {
        await using var t = DevTest.Engine();
        await DevTest.ImportBusyboxAsync(t);
        var ws = DevTest.Workspace(t,
            (".devcontainer/Dockerfile", $"FROM {DevTest.Busybox} AS base\nARG FLAVOUR=plain\nRUN echo \"$FLAVOUR\" > /flavour\nFROM base AS dev\nRUN echo dev > /stage\nFROM base AS prod\nRUN echo prod > /stage\n"),
            (".devcontainer/devcontainer.json", """
                { "build": { "dockerfile": "Dockerfile", "args": { "FLAVOUR": "spicy" }, "target": "dev" }, "workspaceFolder": "/src", "workspaceMount": "type=bind,source=${localWorkspaceFolder},target=/src,consistency=cached", "runArgs": ["--init", "--env=FROM_RUN_ARGS=1", "--cap-add", "NET_ADMIN"] }
                """));
        await using var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).UpAsync();
        var r = await dev.ExecAsync(["sh", "-c", "cat /flavour /stage; pwd; ls -a .devcontainer | grep -c Dockerfile; echo $FROM_RUN_ARGS"]);
        Assert.Equal("spicy\ndev\n/src\n1\n1\n", r.Stdout);
        var spec = dev.Container.State.Spec;
        Assert.True(spec.Init);
        Assert.Contains("NET_ADMIN", spec.CapAdd);
        await dev.DownAsync();

        var bad = DevTest.Workspace(t, (".devcontainer.json", $$"""{ "image": "{{DevTest.Busybox}}", "runArgs": ["--gpus", "all"] }"""));
        Assert.Contains("runArgs: '--gpus' is not supported", (await Assert.ThrowsAsync<DevContainerException>(() => DevContainer.FromFolder(bad).WithEngine(t.Engine).UpAsync())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_compose_dev_container_starts_its_service_and_the_run_services_only()
    {
        await using var t = DevTest.Engine();
        await DevTest.ImportBusyboxAsync(t);
        var ws = DevTest.Workspace(t,
        [
            .. DevTest.HelloFeature(".devcontainer/hello"),
            (".devcontainer/compose.yaml", $$"""
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
                    command: sleep infinity
                """),
            (".devcontainer/devcontainer.json", """
                {
                  "dockerComposeFile": ["compose.yaml"],
                  "service": "app",
                  "runServices": ["db"],
                  "workspaceFolder": "/workspace",
                  "features": { "./hello": {} },
                  "remoteUser": "app",
                  "forwardPorts": ["db:5432"],
                  "postCreateCommand": "wget -q -O - http://db:5432/index.html > /tmp/from-db",
                }
                """),
        ]);
        var log = new List<string>();
        var options = DevTest.Options(log);
        string project;
        await using (var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(options).UpAsync())
        {
            project = dev.ComposeProject!.Name;
            Assert.Equal(Containers.Compose.ComposeLoader.Normalize(Path.GetFileName(ws) + "_devcontainer"), project);
            var running = t.Engine.List().Select(c => c.Spec.Labels.GetValueOrDefault(Containers.Compose.ComposeEngine.ServiceLabel) ?? "").Order().ToArray();
            Assert.Equal(["app", "db"], running);
            var r = await dev.ExecAsync(["sh", "-c", "id -un; pwd; cat /tmp/from-db; hello"]);
            Assert.Equal("app\n/workspace\nhello from busybox httpd\nhello from hello\n", r.Stdout);
            Assert.Equal(1, DevTest.Count(log, "Forwarding port db:5432 to 127.0.0.1:"));
        }

        // shutdownAction stopCompose: the project's containers stopped; up again reuses them
        Assert.Empty(t.Engine.List());
        await using (var dev = await DevContainer.FromFolder(ws).WithEngine(t.Engine).WithOptions(options).UpAsync())
        {
            Assert.Equal("hello from busybox httpd\n", (await dev.ExecAsync(["cat", "/tmp/from-db"])).Stdout);
            Assert.True(DevTest.Count(log, "Running the postCreateCommand") == 1, string.Join('\n', log));
            await dev.DownAsync();
        }

        Assert.Empty(t.Engine.List(all: true));
    }
}
