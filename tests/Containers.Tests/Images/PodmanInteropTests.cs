namespace Containers.Tests.Images;

/// <summary>docker-save archives exchanged with Debian's podman in both directions.</summary>
public sealed class PodmanInteropTests
{
    [Fact]
    public async Task Podman_loads_and_runs_what_we_save()
    {
        using var podman = new TestPodman();
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/ours:1", new Containers.Images.Oci.ContainerConfig { Cmd = ["echo", "saved by us"], Env = ["PATH=/bin"] });
        var archive = Path.Combine(t.Root, "ours.tar");
        await using (var f = File.Create(archive))
        {
            await t.Engine.Images.SaveAsync(["localhost/ours:1"], f);
        }

        podman.Run("load", "-i", archive);
        Assert.Equal("saved by us\n", podman.RunContainer("localhost/ours:1"));
    }

    [Fact]
    public async Task We_load_and_run_what_podman_saves()
    {
        using var podman = new TestPodman();
        podman.Run("import", "--change", "CMD [\"echo\", \"saved by podman\"]", "--change", "ENV PATH=/bin", TestImages.BusyboxTar, "localhost/theirs:1");
        var archive = Path.Combine(podman.Dir, "theirs.tar");
        podman.Run("save", "-o", archive, "localhost/theirs:1");
        await using var t = new TestEngine();
        await using (var f = File.OpenRead(archive))
        {
            await t.Engine.Images.LoadAsync(f);
        }

        var run = await t.RunAsync(t.Engine.FromImage("localhost/theirs:1"));
        Assert.Equal("saved by podman\n", run.Stdout);
    }
}
