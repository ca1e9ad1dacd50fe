using Containers.Runtime;

namespace Containers.Tests;

/// <summary>An engine over a fresh root per test, and the checks that a test left nothing behind.</summary>
public sealed class TestEngine : IAsyncDisposable
{
    public TestEngine()
    {
        Root = Path.Combine(Path.GetTempPath(), "containers-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Options = new EngineOptions { Root = Root, MachineStateDirectory = Path.Combine(Path.GetTempPath(), "containers-tests-machine"), BridgeName = "cdtest0", BridgeSubnet = "10.214.0.0/16" };
        Engine = new ContainerEngine(Options);
    }

    public string Root { get; }

    public EngineOptions Options { get; }

    public ContainerEngine Engine { get; }

    public ContainerBuilder Busybox(params string[] command) => Engine.FromRootfs(TestRootfs.Path).WithCommand(command);

    public async Task<ExecResult> RunAsync(ContainerBuilder builder)
    {
        var output = new System.Text.StringBuilder();
        var c = await Engine.StartAsync(builder.ToSpec(), (_, bytes) =>
        {
            lock (output)
            {
                output.Append(System.Text.Encoding.UTF8.GetString(bytes.Span));
            }
        });
        await using (c)
        {
            var exit = await c.WaitAsync();
            lock (output)
            {
                return new ExecResult(exit.ExitCode, output.ToString(), "");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        foreach (var s in Engine.List(all: true))
        {
            await Engine.Get(s.Id).RemoveAsync(force: true);
        }

        AssertNothingLeft();
        Directory.Delete(Root, true);
    }

    /// <summary>No cgroup, veth, mount or process of this root is left.</summary>
    public void AssertNothingLeft()
    {
        var ids = Directory.Exists(Path.Combine(Root, "containers")) ? Directory.GetDirectories(Path.Combine(Root, "containers")).Select(Path.GetFileName).ToArray() : [];
        Assert.Empty(ids);
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            Assert.DoesNotContain(Root, line, StringComparison.Ordinal);
        }
    }

    /// <summary>True when a cgroup of <paramref name="id"/> exists in any hierarchy.</summary>
    public static bool CgroupExists(string id) =>
        Directory.EnumerateDirectories("/sys/fs/cgroup").Any(h => Directory.Exists(Path.Combine(h, "containers-dotnet", id)));

    public static bool LinkExists(string name) => Directory.Exists("/sys/class/net/" + name);
}
