using System.Text.Json.Nodes;
using Containers.DevContainers;

namespace Containers.Tests.DevContainers;

/// <summary>devcontainer.json read as the specification says: found, parsed with comments, variables substituted, merged with metadata.</summary>
public sealed class ConfigTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("devcontainer-config-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string Write(string path, string text)
    {
        var full = Path.Combine(dir, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
        return full;
    }

    [Fact]
    public void Json_errors_name_the_file_line_and_column()
    {
        var file = Write(".devcontainer/devcontainer.json", "{\n  // a comment\n  \"image\": \"x\",\n  \"forwardPorts\": [3000 3001],\n}\n");
        var e = Assert.Throws<DevContainerException>(() => DevContainerConfig.Load(dir));
        Assert.Contains(file, e.Message, StringComparison.Ordinal);
        Assert.Contains("line 4, column", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Comments_trailing_commas_and_the_variables_are_read()
    {
        Write(".devcontainer.json", """
            {
              /* block comment */
              "image": "${localEnv:BASE_IMAGE:localhost/fallback:1}", // line comment
              "containerEnv": { "WS": "${localWorkspaceFolder}", "NAME": "${localWorkspaceFolderBasename}", "IN": "${containerWorkspaceFolder}", "UNSET": "${localEnv:NOT_SET_ANYWHERE}" },
              "remoteEnv": { "P": "${containerEnv:PATH}:/more" },
              "mounts": ["type=volume,source=cache-${devcontainerId},target=/cache"],
            }
            """);
        var config = DevContainerConfig.Load(dir, localEnvironment: new Dictionary<string, string>());
        Assert.Equal("localhost/fallback:1", config.Image);
        Assert.Equal(DevContainerKind.Image, config.Kind);
        Assert.Equal(Path.Combine(dir, ".devcontainer.json"), config.ConfigFile);
        var basename = Path.GetFileName(dir);
        Assert.Equal("/workspaces/" + basename, config.WorkspaceFolder);
        var env = config.Json["containerEnv"]!.AsObject();
        Assert.Equal(dir, (string?)env["WS"]);
        Assert.Equal(basename, (string?)env["NAME"]);
        Assert.Equal("/workspaces/" + basename, (string?)env["IN"]);
        Assert.Equal("", (string?)env["UNSET"]);
        // ${containerEnv:...} waits for the container
        Assert.Equal("${containerEnv:PATH}:/more", (string?)config.Json["remoteEnv"]!["P"]);
        Assert.Equal("type=volume,source=cache-" + config.DevContainerId + ",target=/cache", (string?)config.Json["mounts"]![0]);
        Assert.Equal(52, config.DevContainerId.Length);

        // the environment wins over the default
        Assert.Equal("localhost/given:2", DevContainerConfig.Load(dir, localEnvironment: new Dictionary<string, string> { ["BASE_IMAGE"] = "localhost/given:2" }).Image);
    }

    [Fact]
    public void Configurations_are_found_where_the_specification_looks()
    {
        Assert.Contains("no dev container configuration", Assert.Throws<DevContainerException>(() => DevContainerConfig.Load(dir)).Message, StringComparison.Ordinal);
        Write(".devcontainer/python/devcontainer.json", """{"image": "p"}""");
        Assert.Equal("p", DevContainerConfig.Load(dir).Image); // the only named one
        Write(".devcontainer/node/devcontainer.json", """{"image": "n"}""");
        Assert.Contains("several configurations", Assert.Throws<DevContainerException>(() => DevContainerConfig.Load(dir)).Message, StringComparison.Ordinal);
        Assert.Equal("n", DevContainerConfig.Load(dir, Path.Combine(dir, ".devcontainer/node/devcontainer.json")).Image);
        Write(".devcontainer/devcontainer.json", """{"build": {"dockerfile": "Dockerfile", "context": "..", "args": {"V": "1"}, "target": "dev"}}""");
        var config = DevContainerConfig.Load(dir);
        Assert.Equal(DevContainerKind.Dockerfile, config.Kind);
        Assert.Equal(Path.Combine(dir, ".devcontainer", "Dockerfile"), config.Dockerfile);
        Assert.Equal(dir, config.BuildContext);
        Assert.Equal("1", config.BuildArgs["V"]);
        Assert.Equal("dev", config.BuildTarget);
    }

    [Fact]
    public void A_field_of_the_wrong_type_is_named()
    {
        Write(".devcontainer/devcontainer.json", """{"image": "x", "runArgs": ["--init", 3]}""");
        var e = Assert.Throws<DevContainerException>(() => DevContainerConfig.Load(dir).RunArgs);
        Assert.Contains("'runArgs[1]'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Metadata_merges_as_the_specification_says()
    {
        JsonObject O(string json) => JsonNode.Parse(json)!.AsObject();
        var merged = DevContainerMetadata.Of(
        [
            O("""{"remoteUser": "image-user", "init": true, "capAdd": ["SYS_PTRACE"], "mounts": [{"type": "volume", "source": "a", "target": "/data"}], "containerEnv": {"A": "1", "B": "image"}, "postCreateCommand": "from image", "forwardPorts": [3000], "hostRequirements": {"cpus": 2, "memory": "1gb"}}"""),
            O("""{"id": "ghcr.io/x/features/y:1", "privileged": false, "capAdd": ["SYS_PTRACE", "NET_ADMIN"], "securityOpt": ["seccomp=unconfined"], "postCreateCommand": ["feature", "cmd"], "entrypoint": "/usr/local/share/y-init.sh"}"""),
            O("""{"remoteUser": "me", "containerEnv": {"B": "file"}, "mounts": ["type=bind,source=/tmp,target=/data"], "postCreateCommand": {"p1": "a", "p2": "b"}, "forwardPorts": [3000, "db:5432"], "hostRequirements": {"cpus": 1, "storage": "2gb"}, "overrideCommand": false}"""),
        ]);
        Assert.Equal("me", merged.RemoteUser);
        Assert.True(merged.Init);
        Assert.False(merged.Privileged);
        Assert.Equal(new[] { "SYS_PTRACE", "NET_ADMIN" }, merged.CapAdd.ToArray());
        Assert.Equal(new[] { "seccomp=unconfined" }, merged.SecurityOpt.ToArray());
        Assert.Equal(new[] { "type=bind,source=/tmp,target=/data" }, merged.Mounts.ToArray()); // the last entry wins per target
        Assert.Equal("1", merged.ContainerEnv["A"]);
        Assert.Equal("file", merged.ContainerEnv["B"]);
        var commands = merged.Commands("postCreateCommand");
        Assert.Equal(3, commands.Length); // image's, the feature's, the file's, in that order
        Assert.Equal("image metadata", commands[0].Origin);
        Assert.Equal("ghcr.io/x/features/y:1", commands[1].Origin);
        Assert.Equal("devcontainer.json", commands[2].Origin);
        Assert.Equal(new[] { "/usr/local/share/y-init.sh" }, merged.Entrypoints.ToArray());
        Assert.Equal(new[] { "3000", "db:5432" }, merged.ForwardPorts.ToArray());
        Assert.False(merged.OverrideCommand);
        Assert.Equal(new HostRequirements { Cpus = 2, Memory = 1L << 30, Storage = 2L << 30 }, merged.HostRequirements);
        // the label round-trips
        Assert.Equal(3, DevContainerMetadata.ParseLabel(merged.ToLabel(), "test").Length);
    }

    [Fact]
    public void Features_install_in_dependency_order_unless_overridden()
    {
        DevContainerFeature F(string reference, string json) => new(reference, JsonNode.Parse(json)!["id"]!.GetValue<string>(), JsonNode.Parse(json)!.AsObject(), "/nonexistent", System.Collections.Immutable.ImmutableDictionary<string, string>.Empty);
        var common = F("ghcr.io/devcontainers/features/common-utils:2", """{"id": "common-utils"}""");
        var node = F("ghcr.io/devcontainers/features/node:1", """{"id": "node", "installsAfter": ["ghcr.io/devcontainers/features/common-utils"]}""");
        var zsh = F("./zsh-plugins", """{"id": "zsh-plugins", "dependsOn": {"ghcr.io/devcontainers/features/common-utils:2": {}}}""");
        Assert.Equal(["common-utils", "zsh-plugins", "node"], Features.Order([zsh, node, common], []).Select(f => f.Id));
        // the override puts node first among those free to go; installsAfter still holds
        Assert.Equal(["common-utils", "node", "zsh-plugins"], Features.Order([zsh, node, common], ["node"]).Select(f => f.Id));
        var a = F("./a", """{"id": "a", "installsAfter": ["./b"]}""");
        var b = F("./b", """{"id": "b", "installsAfter": ["./a"]}""");
        Assert.Contains("cycle", Assert.Throws<DevContainerException>(() => Features.Order([a, b], [])).Message, StringComparison.Ordinal);
        Assert.Contains("'./c'", Assert.Throws<DevContainerException>(() => Features.Order([a], ["./c"])).Message, StringComparison.Ordinal);
        Assert.Equal("LOUD_VOICE", Features.EnvName("loud-voice"));
        Assert.Equal("_FOO", Features.EnvName("9foo"));
    }
}
