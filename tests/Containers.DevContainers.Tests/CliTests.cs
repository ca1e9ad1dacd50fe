using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Containers.Tests.DevContainers;

/// <summary><c>containers devcontainer ...</c>: the reference's commands, its outcome line on stdout, progress on stderr.</summary>
public sealed class CliTests
{
    private static Task<(int Code, string Stdout, string Stderr)> Cli(TestEngine t, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "containers-cli"));
        psi.Environment["CONTAINERS_BRIDGE"] = t.Options.BridgeName;
        psi.Environment["CONTAINERS_BRIDGE_SUBNET"] = t.Options.BridgeSubnet;
        psi.Environment["CONTAINERS_MACHINE_STATE"] = t.Options.MachineStateDirectory;
        psi.Environment["CONTAINERS_DNS_UPSTREAM"] = string.Join(',', t.Options.DnsUpstreams);
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(t.Root);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return DevTest.RunAsync(psi, TimeSpan.FromMinutes(2));
    }

    private static JsonObject Outcome(string stdout) => JsonNode.Parse(stdout.Trim().Split('\n')[^1])!.AsObject();

    [Fact]
    public async Task Up_exec_read_configuration_run_user_commands_stop_and_down()
    {
        await using var t = DevTest.Engine();
        await DevTest.ImportBusyboxAsync(t);
        // a port nothing else on this machine is likely to hold: a restart publishes the same host port again
        var port = Random.Shared.Next(20000, 30000);
        var ws = DevTest.Workspace(t,
        [
            .. DevTest.HelloFeature(".devcontainer/hello"),
            (".devcontainer/devcontainer.json", $$"""
                {
                  "image": "{{DevTest.Busybox}}",
                  "features": { "./hello": { "greeting": "from the CLI" } },
                  "remoteEnv": { "GREETED": "yes" },
                  "forwardPorts": [{{port}}],
                  "postCreateCommand": "echo created >> /tmp/created",
                  "postStartCommand": "echo started >> /tmp/started",
                }
                """),
        ]);
        var up = await Cli(t, "devcontainer", "up", "--workspace-folder", ws);
        Assert.True(up.Code == 0, up.Stderr);
        var outcome = Outcome(up.Stdout);
        Assert.Equal("success", (string?)outcome["outcome"]);
        Assert.Equal("root", (string?)outcome["remoteUser"]);
        Assert.Equal("/workspaces/" + Path.GetFileName(ws), (string?)outcome["remoteWorkspaceFolder"]);
        Assert.StartsWith("127.0.0.1:", (string?)outcome["forwardedPorts"]![port.ToString(System.Globalization.CultureInfo.InvariantCulture)], StringComparison.Ordinal);
        Assert.Contains("Running the postCreateCommand from devcontainer.json...", up.Stderr, StringComparison.Ordinal);

        var exec = await Cli(t, "devcontainer", "exec", "--workspace-folder", ws, "sh", "-c", "hello; echo $GREETED; pwd; cat /tmp/created");
        Assert.Equal($"from the CLI from hello\nyes\n/workspaces/{Path.GetFileName(ws)}\ncreated\n", exec.Stdout);
        Assert.Equal(5, (await Cli(t, "devcontainer", "exec", "--workspace-folder", ws, "sh", "-c", "exit 5")).Code);

        var read = await Cli(t, "devcontainer", "read-configuration", "--workspace-folder", ws, "--include-merged-configuration");
        var configuration = Outcome(read.Stdout);
        Assert.Equal(DevTest.Busybox, (string?)configuration["configuration"]!["image"]);
        Assert.Equal("/workspaces/" + Path.GetFileName(ws), (string?)configuration["workspace"]!["workspaceFolder"]);
        Assert.Equal("echo created >> /tmp/created", (string?)configuration["mergedConfiguration"]!["postCreateCommands"]![0]);

        // stop, up again: the same container; postStartCommand again, postCreateCommand not
        Assert.Equal(0, (await Cli(t, "devcontainer", "stop", "--workspace-folder", ws)).Code);
        Assert.DoesNotContain(t.Engine.List(), c => c.Id == (string?)outcome["containerId"]);
        var again = await Cli(t, "devcontainer", "up", "--workspace-folder", ws);
        Assert.True((string?)outcome["containerId"] == (string?)Outcome(again.Stdout)["containerId"], $"up again: {again.Stdout} {again.Stderr}");
        Assert.Equal(0, (await Cli(t, "devcontainer", "run-user-commands", "--workspace-folder", ws)).Code);
        exec = await Cli(t, "devcontainer", "exec", "--workspace-folder", ws, "sh", "-c", "cat /tmp/created /tmp/started");
        Assert.Equal("created\nstarted\nstarted\n", exec.Stdout);

        var down = await Cli(t, "devcontainer", "down", "--workspace-folder", ws);
        Assert.Equal(0, down.Code);
        Assert.Empty(t.Engine.List(all: true));
    }

    [Fact]
    public async Task Errors_are_an_outcome_line_naming_the_line_or_the_command()
    {
        await using var t = DevTest.Engine();
        await DevTest.ImportBusyboxAsync(t);
        var broken = DevTest.Workspace(t, (".devcontainer/devcontainer.json", "{\n  \"image\": \"x\"\n  \"runArgs\": []\n}\n"));
        var r = await Cli(t, "devcontainer", "up", "--workspace-folder", broken);
        Assert.Equal(1, r.Code);
        var outcome = Outcome(r.Stdout);
        Assert.Equal("error", (string?)outcome["outcome"]);
        Assert.Contains("devcontainer.json: line 3, column 3", (string?)outcome["message"], StringComparison.Ordinal);

        var failing = DevTest.Workspace(t, (".devcontainer.json", $$"""{ "image": "{{DevTest.Busybox}}", "postCreateCommand": ["sh", "-c", "exit 42"] }"""));
        r = await Cli(t, "devcontainer", "up", "--workspace-folder", failing);
        Assert.Equal(1, r.Code);
        outcome = Outcome(r.Stdout);
        Assert.Contains("postCreateCommand failed: 'sh -c exit 42' exited with code 42", (string?)outcome["message"], StringComparison.Ordinal);
        Assert.Equal(t.Engine.List().Single().Id, (string?)outcome["containerId"]);
        Assert.Equal(0, (await Cli(t, "devcontainer", "down", "--workspace-folder", failing)).Code);
    }
}
