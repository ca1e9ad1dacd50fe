using System.Collections.Immutable;
using Containers.Images;
using Containers.Images.Oci;
using Containers.Runtime;

namespace Containers.Tests.Images;

/// <summary>Running images (their config applied, docker's override rules), commit, save/load, tags, removal, prune.</summary>
public sealed class ImageRunTests
{
    private static readonly ContainerConfig WebConfig = new()
    {
        Entrypoint = ["/bin/sh", "-c"],
        Cmd = ["echo \"$GREETING from $(pwd) as $(id -un)\""],
        Env = ["PATH=/bin", "GREETING=hello", "KEEP=image"],
        WorkingDir = "/var/www",
        User = "app",
        StopSignal = "SIGUSR1",
        ExposedPorts = ImmutableSortedDictionary.CreateRange(new Dictionary<string, EmptyObject> { ["80/tcp"] = EmptyObject.Instance }),
        Labels = ImmutableSortedDictionary.CreateRange(new Dictionary<string, string> { ["from"] = "image" }),
    };

    [Fact]
    public async Task The_image_config_applies_unless_overridden_as_docker_does()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/web:1", WebConfig);

        var plain = await t.RunAsync(t.Engine.FromImage("localhost/web:1"));
        Assert.Equal("hello from /var/www as app\n", plain.Stdout);

        // arguments replace Cmd but keep the entrypoint; -e overrides by name; -w and -u override
        var overridden = await t.RunAsync(t.Engine.FromImage("localhost/web:1").WithCommand("echo $GREETING $KEEP in $(pwd) as $(id -u)").WithEnvironment("GREETING", "hi").WithWorkingDirectory("/tmp").WithUser("0"));
        Assert.Equal("hi image in /tmp as 0\n", overridden.Stdout);

        // --entrypoint drops the image's Cmd
        var entry = await t.RunAsync(t.Engine.FromImage("localhost/web:1").WithEntrypoint("/bin/echo"));
        Assert.Equal("\n", entry.Stdout);
        var entryArgs = await t.RunAsync(t.Engine.FromImage("localhost/web:1").WithEntrypoint("/bin/echo").WithCommand("a", "b"));
        Assert.Equal("a b\n", entryArgs.Stdout);

        var resolved = await t.Engine.ResolveAsync(t.Engine.FromImage("web:1").ToSpec() with { Image = "localhost/web:1", PublishAllPorts = true });
        Assert.Equal("SIGUSR1", resolved.StopSignal);
        Assert.Equal(["80/tcp"], resolved.ExposedPorts.ToArray());
        Assert.Equal("image", resolved.Labels["from"]);
        Assert.Equal(t.Engine.Images.Get("localhost/web:1").Id.ToString(), resolved.ImageId);
        Assert.Contains(resolved.Ports, p => p is { ContainerPort: 80, HostPort: 0 });
    }

    [Fact]
    public async Task Commit_turns_changes_and_deletions_into_a_layer_that_runs()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/base:1");
        var c = await t.Engine.StartAsync(t.Engine.FromImage("localhost/base:1").WithName("committer")
            .WithCommand("sh", "-c", "echo added > /root/new && rm /var/www/index.html && mkdir -p /data/x && ln /root/new /root/hard").ToSpec());
        await c.WaitAsync();
        var image = await t.Engine.CommitAsync("committer", "localhost/committed:1", new CommitOptions { Author = "tester", Message = "msg", Changes = cfg => cfg with { Cmd = ["cat", "/root/new"] } });
        await c.RemoveAsync();
        Assert.Equal(2, image.Manifest.Layers.Length);
        Assert.Equal("tester", image.Config.Author);
        Assert.Equal("msg", t.Engine.Images.History("localhost/committed:1")[0].Comment);

        var run = await t.RunAsync(t.Engine.FromImage("localhost/committed:1"));
        Assert.Equal("added\n", run.Stdout);
        var check = await t.RunAsync(t.Engine.FromImage("localhost/committed:1").WithCommand("sh", "-c", "test -e /var/www/index.html && echo present || echo deleted; test -d /data/x && echo dir; stat -c %h /root/hard"));
        Assert.Equal("deleted\ndir\n2\n", check.Stdout);
    }

    [Fact]
    public async Task A_rootfs_container_commits_to_an_image_with_its_rootfs_as_base()
    {
        await using var t = new TestEngine();
        var c = await t.Engine.StartAsync(t.Busybox("sh", "-c", "echo v > /etc/version").WithName("fromdir").ToSpec());
        await c.WaitAsync();
        await t.Engine.CommitAsync("fromdir", "localhost/fromdir:1");
        await c.RemoveAsync();
        var run = await t.RunAsync(t.Engine.FromImage("localhost/fromdir:1").WithCommand("cat", "/etc/version"));
        Assert.Equal("v\n", run.Stdout);
    }

    [Fact]
    public async Task Save_then_load_into_another_root_keeps_names_and_runs()
    {
        await using var a = new TestEngine();
        var image = await TestImages.ImportBusyboxAsync(a.Engine, "localhost/saved:1", WebConfig);
        a.Engine.Images.Tag("localhost/saved:1", "example.com/team/saved:2");
        var archive = Path.Combine(a.Root, "saved.tar");
        await using (var f = File.Create(archive))
        {
            await a.Engine.Images.SaveAsync(["localhost/saved:1", "example.com/team/saved:2"], f);
        }

        await using var b = new TestEngine();
        await using (var f = File.OpenRead(archive))
        {
            var loaded = await b.Engine.Images.LoadAsync(f);
            Assert.All(loaded, l => Assert.Equal(image.Id, l.Id));
        }

        var names = b.Engine.Images.Get(image.Id.Hex[..12]).Names;
        Assert.Contains("localhost/saved:1", names);
        Assert.Contains("example.com/team/saved:2", names);
        var run = await b.RunAsync(b.Engine.FromImage("example.com/team/saved:2"));
        Assert.Equal("hello from /var/www as app\n", run.Stdout);
    }

    [Fact]
    public async Task A_legacy_docker_save_archive_loads()
    {
        await using var t = new TestEngine();
        var dir = Path.Combine(t.Root, "legacy");
        Directory.CreateDirectory(Path.Combine(dir, "abc"));
        File.Copy(TestImages.BusyboxTar, Path.Combine(dir, "abc/layer.tar"));
        var diff = Digest.Of(File.ReadAllBytes(TestImages.BusyboxTar));
        var config = $$$"""{"architecture":"amd64","os":"linux","config":{"Cmd":["echo","legacy"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["{{{diff}}}"]}}""";
        var configDigest = Digest.Of(System.Text.Encoding.UTF8.GetBytes(config));
        File.WriteAllText(Path.Combine(dir, configDigest.Hex + ".json"), config);
        File.WriteAllText(Path.Combine(dir, "manifest.json"), $$"""[{"Config":"{{configDigest.Hex}}.json","RepoTags":["legacy:1"],"Layers":["abc/layer.tar"]}]""");
        var tar = Path.Combine(t.Root, "legacy.tar");
        TestRegistry.Run("tar", "-C", dir, "-cf", tar, ".");
        await using (var f = File.OpenRead(tar))
        {
            await t.Engine.Images.LoadAsync(f);
        }

        Assert.Equal(configDigest, t.Engine.Images.Get("legacy:1").Id);
        var run = await t.RunAsync(t.Engine.FromImage("legacy:1"));
        Assert.Equal("legacy\n", run.Stdout);
    }

    [Fact]
    public async Task An_oci_archive_written_by_skopeo_loads()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/ociarch:1");
        var archive = Path.Combine(t.Root, "oci.tar");
        TestRegistry.Run("skopeo", "copy", $"oci:{t.Engine.Images.LayoutDirectory}:localhost/ociarch:1", $"oci-archive:{archive}:localhost/fromskopeo:7");
        await using var b = new TestEngine();
        await using (var f = File.OpenRead(archive))
        {
            await b.Engine.Images.LoadAsync(f);
        }

        var run = await b.RunAsync(b.Engine.FromImage("localhost/fromskopeo:7").WithCommand("echo", "oci"));
        Assert.Equal("oci\n", run.Stdout);
    }

    [Fact]
    public async Task Tags_removal_and_prune_keep_the_store_consistent()
    {
        await using var t = new TestEngine();
        var image = await TestImages.ImportBusyboxAsync(t.Engine, "localhost/keep:1");
        t.Engine.Images.Tag("localhost/keep:1", "localhost/keep:2");
        Assert.Equal(["Untagged: localhost/keep:2"], t.Engine.Images.Remove("localhost/keep:2"));

        var user = t.Engine.Create(t.Engine.FromImage("localhost/keep:1").WithCommand("true").ToSpec());
        var conflict = Assert.Throws<ContainerConflictException>(() => t.Engine.Images.Remove("localhost/keep:1"));
        Assert.Contains("is using its referenced image", conflict.Message, StringComparison.Ordinal);

        // a tag moved away leaves the old image dangling; prune removes it but not the one a container uses
        var other = await TestImages.ImportBusyboxAsync(t.Engine, "localhost/keep:1", new ContainerConfig { Cmd = ["true"] });
        Assert.Contains(t.Engine.Images.List(), i => i.Id == image.Id && i.Names.IsEmpty);
        var (deleted, _) = t.Engine.Images.Prune();
        Assert.Empty(deleted); // the dangling one is still used by the container
        await user.RemoveAsync();
        (deleted, _) = t.Engine.Images.Prune();
        Assert.Equal([image.Id.ToString()], deleted);
        Assert.False(File.Exists(Path.Combine(t.Engine.Images.LayoutDirectory, "blobs/sha256", image.Id.Hex)));
        Assert.True(File.Exists(Path.Combine(t.Engine.Images.LayoutDirectory, "blobs/sha256", other.Id.Hex)));

        Assert.Equal(["Untagged: localhost/keep:1", $"Deleted: {other.Id}"], t.Engine.Images.Remove("localhost/keep:1"));
        Assert.Empty(t.Engine.Images.List());
        Assert.Empty(Directory.GetFiles(Path.Combine(t.Engine.Images.LayoutDirectory, "blobs/sha256")));
        Assert.DoesNotContain(Directory.GetDirectories(Path.Combine(t.Root, "snapshots")), d => !d.EndsWith("empty", StringComparison.Ordinal));
        Assert.Throws<ImageNotFoundException>(() => t.Engine.Images.Get("localhost/keep:1"));
    }
}
