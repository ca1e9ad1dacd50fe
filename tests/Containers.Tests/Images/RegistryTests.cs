using Containers.Images;
using Containers.Images.Registry;

namespace Containers.Tests.Images;

public sealed class RegistryFixture : IDisposable
{
    public TestRegistry Registry { get; } = new();

    public void Dispose() => Registry.Dispose();
}

/// <summary>Push and pull against Debian's docker-registry; skopeo and umoci as cross-checks.</summary>
public sealed class RegistryTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>
{
    private readonly TestRegistry registry = fixture.Registry;

    private static string Skopeo(params string[] args) => TestRegistry.Run("skopeo", args);

    [Theory]
    [InlineData(0L)]
    [InlineData(64L * 1024)]
    public async Task An_image_pushed_monolithic_or_chunked_is_pulled_into_a_fresh_root_and_runs(long chunk)
    {
        var name = $"{registry.Host}/test/busybox:c{chunk}";
        Digest pushed;
        await using (var a = new TestEngine())
        {
            await TestImages.ImportBusyboxAsync(a.Engine, name);
            var progress = new List<LayerProgress>();
            var images = new ImageService(a.Engine.Images.Store, new RegistryOptions { PushChunkSize = chunk }, () => [], TimeProvider.System);
            pushed = await images.PushAsync(name, progress: new SyncProgress<LayerProgress>(progress.Add));
            Assert.Contains(progress, p => p.Phase == LayerPhase.Complete);
        }

        // the registry serves what we pushed, byte for byte (skopeo reads the raw manifest)
        var raw = Skopeo("inspect", "--raw", "--tls-verify=false", $"docker://{name}");
        Assert.Equal(pushed, Digest.Of(System.Text.Encoding.UTF8.GetBytes(raw)));

        await using var b = new TestEngine();
        var progressB = new List<LayerProgress>();
        var image = await b.Engine.Images.PullAsync(name, progress: new SyncProgress<LayerProgress>(progressB.Add));
        Assert.Equal(pushed, image.ManifestDigest);
        Assert.Contains(progressB, p => p.Phase == LayerPhase.Complete);
        var result = await b.RunAsync(b.Engine.FromImage(name).WithCommand("sh", "-c", "echo hi from $(cat /etc/hostname | wc -c) && ls /var/www"));
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("hi from", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("index.html", result.Stdout, StringComparison.Ordinal);

        // a second pull finds everything in place
        var again = new List<LayerProgress>();
        await b.Engine.Images.PullAsync(name, progress: new SyncProgress<LayerProgress>(again.Add));
        Assert.All(again.Where(p => p.Phase != LayerPhase.Waiting), p => Assert.Equal(LayerPhase.AlreadyExists, p.Phase));
    }

    [Fact]
    public async Task Skopeo_pushes_an_image_that_we_pull_and_run_and_copies_ours_back_byte_identical()
    {
        await using var a = new TestEngine();
        await TestImages.ImportBusyboxAsync(a.Engine, "localhost/interop:1");
        var archive = Path.Combine(a.Root, "interop.tar");
        await using (var f = File.Create(archive))
        {
            await a.Engine.Images.SaveAsync(["localhost/interop:1"], f);
        }

        // skopeo reads our docker-save archive and pushes it (recompressing: a manifest of its own)
        Skopeo("copy", "--dest-tls-verify=false", $"docker-archive:{archive}", $"docker://{registry.Host}/skopeo/pushed:1");
        await using var b = new TestEngine();
        await b.Engine.Images.PullAsync($"{registry.Host}/skopeo/pushed:1");
        var run = await b.RunAsync(b.Engine.FromImage($"{registry.Host}/skopeo/pushed:1").WithCommand("cat", "/var/www/index.html"));
        Assert.Equal("hello from busybox httpd\n", run.Stdout);

        // ours, pushed by us, copied back by skopeo into an OCI layout: same manifest, same blobs
        var digest = await a.Engine.Images.PushAsync("localhost/interop:1", $"{registry.Host}/ours/interop:1");
        var layout = Path.Combine(a.Root, "copied");
        Skopeo("copy", "--preserve-digests", "--src-tls-verify=false", $"docker://{registry.Host}/ours/interop:1", $"oci:{layout}:x");
        Assert.True(File.Exists(Path.Combine(layout, "blobs/sha256", digest.Hex)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(a.Engine.Images.LayoutDirectory, "blobs/sha256", digest.Hex)), File.ReadAllBytes(Path.Combine(layout, "blobs/sha256", digest.Hex)));
        foreach (var layer in a.Engine.Images.Get("localhost/interop:1").Manifest.Layers)
        {
            Assert.True(File.Exists(Path.Combine(layout, "blobs/sha256", layer.ParsedDigest.Hex)));
        }
    }

    [Fact]
    public async Task Our_store_is_an_oci_layout_that_skopeo_and_umoci_read()
    {
        await using var a = new TestEngine();
        var image = await TestImages.ImportBusyboxAsync(a.Engine, "localhost/layout:1");
        var inspect = Skopeo("inspect", $"oci:{a.Engine.Images.LayoutDirectory}:localhost/layout:1");
        Assert.Contains(image.ManifestDigest.ToString(), inspect, StringComparison.Ordinal);
        var bundle = Path.Combine(a.Root, "bundle");
        TestRegistry.Run("umoci", "unpack", "--image", $"{a.Engine.Images.LayoutDirectory}:localhost/layout:1", bundle);
        Assert.True(File.Exists(Path.Combine(bundle, "rootfs/bin/busybox")));
        Assert.Equal("hello from busybox httpd\n", File.ReadAllText(Path.Combine(bundle, "rootfs/var/www/index.html")));
    }

    [Fact]
    public async Task Unknown_repository_or_tag_names_registry_and_repository_and_stores_nothing()
    {
        await using var a = new TestEngine();
        var index = File.ReadAllText(Path.Combine(a.Engine.Images.LayoutDirectory, "index.json"));
        var e = await Assert.ThrowsAsync<ImageNotFoundException>(() => a.Engine.Images.PullAsync($"{registry.Host}/no/such:tag"));
        Assert.Contains(registry.Host, e.Message, StringComparison.Ordinal);
        Assert.Contains("no/such", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(a.Engine.Images.LayoutDirectory, "blobs/sha256")));
        Assert.Equal(index, File.ReadAllText(Path.Combine(a.Engine.Images.LayoutDirectory, "index.json")));
        var run = await Assert.ThrowsAsync<ImageNotFoundException>(() => a.Engine.FromImage($"{registry.Host}/no/such:tag").WithCommand("true").StartAsync());
        Assert.Contains("no/such", run.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("corrupt")]
    [InlineData("truncate")]
    public async Task A_corrupt_or_truncated_layer_is_discarded_and_nothing_is_committed(string damage)
    {
        var name = $"{registry.Host}/damaged/{damage}:1";
        await using var a = new TestEngine();
        var image = await a.Engine.Images.ImportAsync(UniqueTar(200_000), name); // a blob no other test shares
        await a.Engine.Images.PushAsync(name);
        var layer = image.Manifest.Layers[0].ParsedDigest;
        var data = registry.BlobData(layer.Hex);
        var bytes = File.ReadAllBytes(data);
        if (damage == "corrupt")
        {
            bytes[bytes.Length / 2] ^= 0xff;
            File.WriteAllBytes(data, bytes);
        }
        else
        {
            File.WriteAllBytes(data, bytes[..(bytes.Length / 2)]);
        }

        await using var b = new TestEngine();
        var e = await Assert.ThrowsAnyAsync<ImageException>(() => b.Engine.Images.PullAsync(name));
        Assert.Contains(layer.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Empty(b.Engine.Images.List());
        Assert.False(File.Exists(Path.Combine(b.Engine.Images.LayoutDirectory, "blobs/sha256", layer.Hex)));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(b.Root, "snapshots")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(b.Engine.Images.LayoutDirectory, "ingest")));
        if (damage == "truncate")
        {
            Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_full_disk_fails_the_pull_clearly_and_leaves_the_store_consistent()
    {
        var name = $"{registry.Host}/big/layer:1";
        await using (var a = new TestEngine())
        {
            await a.Engine.Images.ImportAsync(UniqueTar(3_000_000), name);
            await a.Engine.Images.PushAsync(name);
        }

        var mount = Path.Combine(Path.GetTempPath(), "containers-tests-full-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(mount);
        TestRegistry.Run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount);
        try
        {
            await using var b = new TestEngine(Path.Combine(mount, "root"));
            var e = await Assert.ThrowsAsync<ImageException>(() => b.Engine.Images.PullAsync(name));
            Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
            Assert.Contains(name, e.Message, StringComparison.Ordinal);
            Assert.Empty(b.Engine.Images.List());
            Assert.Empty(Directory.GetFiles(Path.Combine(b.Engine.Images.LayoutDirectory, "blobs/sha256")));
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(b.Root, "snapshots")));
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(b.Engine.Images.LayoutDirectory, "ingest")));
        }
        finally
        {
            TestRegistry.Run("umount", mount);
            Directory.Delete(mount);
        }
    }

    [Fact]
    public async Task Zstd_layers_push_pull_and_run()
    {
        var zst = Path.Combine(Path.GetTempPath(), "containers-tests-" + Guid.NewGuid().ToString("N")[..8] + ".tar.zst");
        TestRegistry.Run("zstd", "-q", "-f", TestImages.BusyboxTar, "-o", zst);
        try
        {
            var name = $"{registry.Host}/zstd/busybox:1";
            await using (var a = new TestEngine())
            {
                await using (var f = File.OpenRead(zst))
                {
                    var image = await a.Engine.Images.ImportAsync(f, name, new Containers.Images.Oci.ContainerConfig { Env = ["PATH=/bin"] });
                    Assert.Equal(Containers.Images.Oci.MediaTypes.OciLayerZstd, image.Manifest.Layers[0].MediaType);
                }

                await a.Engine.Images.PushAsync(name);
            }

            await using var b = new TestEngine();
            await b.Engine.Images.PullAsync(name);
            Assert.Equal("zstd\n", (await b.RunAsync(b.Engine.FromImage(name).WithCommand("echo", "zstd"))).Stdout);
        }
        finally
        {
            File.Delete(zst);
        }
    }

    [Fact]
    public async Task An_index_gives_the_manifest_of_the_platform_asked_for()
    {
        await using var a = new TestEngine();
        var amd = await TestImages.ImportBusyboxAsync(a.Engine, $"{registry.Host}/multi/image:amd64");
        await a.Engine.Images.PushAsync($"{registry.Host}/multi/image:amd64");
        // an "arm64" image: same layer, a config that says arm64 (pulled, never run)
        var armConfig = amd.Config with { Architecture = "arm64", Variant = "v8" };
        var armBytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(armConfig, Containers.Images.Oci.OciJsonContext.Default.ImageConfig);
        var armImage = new Containers.Images.Archive.ImageArchive(a.Engine.Images.Store).Commit(armConfig, [(amd.Manifest.Layers[0].ParsedDigest, amd.Manifest.Layers[0].Size, Containers.Images.Oci.LayerCompression.None)], Containers.Images.ImageReference.Parse($"{registry.Host}/multi/image:arm64"), armBytes);
        await a.Engine.Images.PushAsync($"{registry.Host}/multi/image:arm64");
        var index = new Containers.Images.Oci.ImageIndex
        {
            MediaType = Containers.Images.Oci.MediaTypes.OciIndex,
            Manifests =
            [
                armImage.ManifestDescriptor with { Annotations = null, Platform = new() { Os = "linux", Architecture = "arm64", Variant = "v8" } },
                amd.ManifestDescriptor with { Annotations = null, Platform = new() { Os = "linux", Architecture = "amd64" } },
            ],
        };
        using (var http = new HttpClient())
        {
            var body = new ByteArrayContent(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(index, Containers.Images.Oci.OciJsonContext.Default.ImageIndex));
            body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Containers.Images.Oci.MediaTypes.OciIndex);
            (await http.PutAsync(new Uri($"http://{registry.Host}/v2/multi/image/manifests/both"), body)).EnsureSuccessStatusCode();
        }

        await using var b = new TestEngine();
        var pulled = await b.Engine.Images.PullAsync($"{registry.Host}/multi/image:both");
        Assert.Equal(amd.ManifestDigest, pulled.ManifestDigest);
        var arm = await b.Engine.Images.PullAsync($"{registry.Host}/multi/image:both", new PullOptions { Platform = Containers.Images.Oci.Platform.Parse("linux/arm64") });
        Assert.Equal(armImage.ManifestDigest, arm.ManifestDigest);
        var none = await Assert.ThrowsAsync<ImageNotFoundException>(() => b.Engine.Images.PullAsync($"{registry.Host}/multi/image:both", new PullOptions { Platform = Containers.Images.Oci.Platform.Parse("linux/s390x") }));
        Assert.Contains("linux/arm64/v8, linux/amd64", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Blobs_pulled_from_one_repository_are_mounted_when_pushed_to_another()
    {
        var source = $"{registry.Host}/mount/source:1";
        await using (var a = new TestEngine())
        {
            await a.Engine.Images.ImportAsync(UniqueTar(100_000), source);
            await a.Engine.Images.PushAsync(source);
        }

        await using var b = new TestEngine();
        await b.Engine.Images.PullAsync(source);
        b.Engine.Images.Tag(source, $"{registry.Host}/mount/target:1");
        var progress = new List<LayerProgress>();
        await b.Engine.Images.PushAsync($"{registry.Host}/mount/target:1", progress: new SyncProgress<LayerProgress>(progress.Add));
        Assert.Contains(progress, p => p.Phase == LayerPhase.Mounted);
        Assert.DoesNotContain(progress, p => p.Phase == LayerPhase.Transferring);
        Assert.Contains("target", Skopeo("inspect", "--tls-verify=false", $"docker://{registry.Host}/mount/target:1"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Engines_sharing_a_root_pull_the_same_image_at_once()
    {
        var name = $"{registry.Host}/shared/root:1";
        await using (var a = new TestEngine())
        {
            await a.Engine.Images.ImportAsync(UniqueTar(4_000_000), name);
            await a.Engine.Images.PushAsync(name);
        }

        await using var t = new TestEngine();
        var engines = Enumerable.Range(0, 3).Select(_ => new ContainerEngine(t.Options)).ToArray();
        try
        {
            var pulled = await Task.WhenAll(engines.Select(e => Task.Run(() => e.Images.PullAsync(name))));
            Assert.Single(pulled.Select(p => p.Id).Distinct());
            var image = Assert.Single(t.Engine.Images.List());
            Assert.Equal([name], image.Names.ToArray());
            Assert.Single(Directory.GetDirectories(Path.Combine(t.Root, "snapshots")), d => !d.EndsWith("empty", StringComparison.Ordinal));
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(t.Engine.Images.LayoutDirectory, "ingest")));
        }
        finally
        {
            foreach (var e in engines)
            {
                await e.DisposeAsync();
            }
        }
    }

    private static MemoryStream UniqueTar(int size)
    {
        var ms = new MemoryStream();
        using (var w = new System.Formats.Tar.TarWriter(ms, leaveOpen: true))
        {
            var data = new byte[size];
            Random.Shared.NextBytes(data);
            w.WriteEntry(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "data") { DataStream = new MemoryStream(data) });
        }

        ms.Position = 0;
        return ms;
    }
}

/// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool, too late for assertions).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value)
    {
        lock (this)
        {
            report(value);
        }
    }
}
