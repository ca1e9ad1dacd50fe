using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>A pod's securityContext as the node agent hands it to the runtime, and runAsNonRoot checked as the kubelet checks it; through the real kubectl.</summary>
public sealed class SecurityContextTests : ClusterTestRoot
{
    private readonly RecordingPodRuntime runtime = new();

    public SecurityContextTests()
        : base("securitycontext")
    {
    }

    [Fact]
    public async Task Privileged_capabilities_read_only_root_no_escalation_and_host_pid_reach_the_runtime()
    {
        await using var cluster = await new ClusterBuilder(Root).WithNodes(1).WithPort(0).WithRuntime(runtime).StartAsync(CancellationToken.None);
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("pods", """
            apiVersion: v1
            kind: Pod
            metadata: {name: locked}
            spec:
              containers:
              - name: app
                image: app:v1
                securityContext:
                  readOnlyRootFilesystem: true
                  allowPrivilegeEscalation: false
                  capabilities: {add: [NET_ADMIN], drop: [ALL]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: tooling}
            spec:
              hostPID: true
              containers:
              - name: debug
                image: tools:v1
                securityContext: {privileged: true}
            """));
        await UntilAsync(() => runtime.Running.Count == 2, "both pods' containers to run");
        var locked = runtime.Running.Single(s => s.PodName == "locked");
        Assert.True(locked.ReadOnlyRootfs);
        Assert.True(locked.NoNewPrivileges);
        Assert.Equal(["NET_ADMIN"], locked.CapAdd.ToArray());
        Assert.Equal(["ALL"], locked.CapDrop.ToArray());
        Assert.False(locked.Privileged);
        Assert.Equal("", locked.PidMode);
        var tooling = runtime.Running.Single(s => s.PodName == "tooling");
        Assert.True(tooling.Privileged);
        Assert.Equal("host", tooling.PidMode);
    }

    [Fact]
    public async Task Run_as_non_root_refuses_a_root_image_or_user_naming_why()
    {
        runtime.ImageUsers["named:v1"] = "app";
        runtime.ImageUsers["numbered:v1"] = "1000:1000";
        await using var cluster = await new ClusterBuilder(Root).WithNodes(1).WithPort(0).WithRuntime(runtime).StartAsync(CancellationToken.None);
        var k = new Kubectl(cluster.KubeconfigPath);
        string Pod(string name, string image, string extra = "") => $$"""
            apiVersion: v1
            kind: Pod
            metadata: {name: {{name}}}
            spec:
              securityContext: {runAsNonRoot: true}
              containers:
              - name: c
                image: {{image}}
                {{extra}}
            ---

            """;
        await k.RunAsync("apply", "-f", Manifest("pods", Pod("rootimage", "root:v1") + Pod("named", "named:v1") + Pod("numbered", "numbered:v1")
            + Pod("uidzero", "numbered:v1", "securityContext: {runAsUser: 0}") + Pod("uid1000", "root:v1", "securityContext: {runAsUser: 1000}")));
        async Task<string> Waiting(string pod)
        {
            string message = "";
            await UntilAsync(async () => (message = (await k.RunAsync("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}")).Trim()).StartsWith("CreateContainerConfigError", StringComparison.Ordinal), $"{pod} to be refused");
            return message;
        }

        Assert.Contains("container has runAsNonRoot and image will run as root (pod: \"rootimage_default(", await Waiting("rootimage"), StringComparison.Ordinal);
        Assert.Contains("container has runAsNonRoot and image has non-numeric user (app), cannot verify user is non-root", await Waiting("named"), StringComparison.Ordinal);
        Assert.Contains("container's runAsUser breaks non-root policy", await Waiting("uidzero"), StringComparison.Ordinal);
        await UntilAsync(() => runtime.Running.Count(s => s.PodName is "numbered" or "uid1000") == 2, "the non-root pods to run");
        Assert.DoesNotContain(runtime.Running, s => s.PodName is "rootimage" or "named" or "uidzero");
    }
}
