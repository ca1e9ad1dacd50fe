using System.Collections.Immutable;
using Containers.Images.Oci;
using Containers.Runtime;
using Containers.Tests.Images;

namespace Containers.Tests.Runtime;

/// <summary>Named and anonymous volumes: persistence, copy-up from the image, removal rules, bad specs.</summary>
public sealed class VolumeTests
{
    [Fact]
    public async Task Volume_data_outlives_the_container_and_a_volume_in_use_is_not_removed()
    {
        await using var t = new TestEngine();
        var write = await t.RunAsync(t.Busybox("sh", "-c", "echo kept > /data/file").WithNetwork("none").WithVolume("appdata", "/data"));
        Assert.Equal(0, write.ExitCode);
        foreach (var c in t.Engine.List(all: true))
        {
            Assert.Contains(c.Spec.Mounts, m => m is { Type: MountType.Volume, Source: "appdata" });
        }

        Assert.Equal("appdata", Assert.Single(t.Engine.Volumes.List()).Name);
        var read = await t.RunAsync(t.Busybox("cat", "/data/file").WithNetwork("none").WithVolume("appdata", "/data", readOnly: true));
        Assert.Equal("kept\n", read.Stdout);
        var denied = await t.RunAsync(t.Busybox("sh", "-c", "echo x > /data/other").WithNetwork("none").WithVolume("appdata", "/data", readOnly: true));
        Assert.NotEqual(0, denied.ExitCode);

        var user = t.Engine.Create(t.Busybox("true").WithVolume("appdata", "/data").ToSpec());
        var e = Assert.Throws<ContainerConflictException>(() => t.Engine.Volumes.Remove("appdata"));
        Assert.Contains("volume is in use", e.Message, StringComparison.Ordinal);
        await user.RemoveAsync();
        t.Engine.Volumes.Remove("appdata");
        Assert.Empty(t.Engine.Volumes.List());
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Volumes.Remove("appdata"));
    }

    [Fact]
    public async Task An_empty_volume_is_filled_from_the_image_and_image_volumes_are_anonymous()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/withvolume:1", new ContainerConfig
        {
            Env = ["PATH=/bin"],
            Volumes = ImmutableSortedDictionary.CreateRange(new Dictionary<string, EmptyObject> { ["/var/www"] = EmptyObject.Instance }),
        });

        // named volume over /var/www: docker copies the image's files in on first use
        var named = await t.RunAsync(t.Engine.FromImage("localhost/withvolume:1").WithNetwork("none").WithVolume("site", "/var/www").WithCommand("cat", "/var/www/index.html"));
        Assert.Equal("hello from busybox httpd\n", named.Stdout);
        Assert.True(File.Exists(Path.Combine(t.Engine.Volumes.Get("site").Mountpoint, "index.html")));

        // the image's VOLUME becomes an anonymous volume, filled the same way; --rm takes it along
        var c = await t.Engine.StartAsync(t.Engine.FromImage("localhost/withvolume:1").WithNetwork("none").WithAutoRemove().WithCommand("sh", "-c", "cat /var/www/index.html; echo more > /var/www/new; sleep 60").ToSpec());
        var anonymous = Assert.Single(t.Engine.Volumes.List(), v => v.Anonymous); // (it would be gone already had the container ended)
        Assert.Equal(64, anonymous.Name.Length);
        await c.KillAsync();
        await c.WaitAsync();
        for (var i = 0; i < 100 && t.Engine.Volumes.List().Any(v => v.Anonymous); i++)
        {
            await Task.Delay(20);
        }

        Assert.DoesNotContain(t.Engine.Volumes.List(), v => v.Anonymous);

        // without --rm it stays, dangling after the container goes, until volume prune
        var kept = await t.Engine.StartAsync(t.Engine.FromImage("localhost/withvolume:1").WithNetwork("none").WithCommand("true").ToSpec());
        await kept.WaitAsync();
        await kept.RemoveAsync();
        var dangling = Assert.Single(t.Engine.Volumes.List(), v => v.Anonymous);
        Assert.Equal([dangling.Name], t.Engine.Volumes.Prune());
        Assert.Equal(["site"], t.Engine.Volumes.List().Select(v => v.Name));
        t.Engine.Volumes.Remove("site");
    }

    [Theory]
    [InlineData("bad name:/x", "neither an absolute host path nor a valid volume name")]
    [InlineData("vol:relative", "must be absolute")]
    public void Invalid_volume_specs_are_refused(string spec, string why)
    {
        var e = Assert.Throws<InvalidContainerSpecException>(() => MountSpec.ParseVolume(spec));
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("type=volume,source=vol,target=/d,readonly", MountType.Volume, "vol", "/d", true)]
    [InlineData("type=bind,src=/tmp,dst=/h", MountType.Bind, "/tmp", "/h", false)]
    [InlineData("type=tmpfs,target=/t,tmpfs-size=1m", MountType.Tmpfs, "tmpfs", "/t", false)]
    public void Mount_flags_parse_like_docker(string spec, MountType type, string source, string target, bool ro)
    {
        var m = MountSpec.ParseMount(spec);
        Assert.Equal((type, source, target, ro), (m.Type, m.Source, m.Target, m.ReadOnly));
        Assert.Throws<InvalidContainerSpecException>(() => MountSpec.ParseMount("type=nfs,target=/x"));
        Assert.Throws<InvalidContainerSpecException>(() => MountSpec.ParseMount("type=volume,source=vol"));
    }
}
