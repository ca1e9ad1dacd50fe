using System.Collections.Immutable;
using Containers.Build;
using Containers.Tests.Images;

namespace Containers.Tests.Build;

/// <summary>Dockerfile builds on our runtime: multi-stage, cache, .dockerignore, errors, interop.</summary>
public sealed class BuildTests : IAsyncLifetime
{
    private readonly TestEngine t = new();
    private string context = "";

    public async Task InitializeAsync()
    {
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:1");
        context = Path.Combine(t.Root, "ctx");
        Directory.CreateDirectory(context);
    }

    public async Task DisposeAsync() => await t.DisposeAsync();

    private void Write(string name, string content)
    {
        var path = Path.Combine(context, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
    }

    private async Task<BuildResult> BuildAsync(string tag, List<BuildEvent>? events = null, bool noCache = false, string? target = null, long? epoch = null) =>
        await t.Engine.BuildAsync(
            new BuildOptions { ContextDirectory = context, Tags = [tag], NoCache = noCache, Target = target, Network = "none", SourceDateEpoch = epoch, BuildArgs = new Dictionary<string, string> { ["GREETING"] = "hello" }.ToImmutableDictionary() },
            events is null ? null : new SyncProgress<BuildEvent>(events.Add));

    private const string MultiStage = """
        ARG BASE=localhost/busybox:1
        FROM ${BASE} AS build
        ARG GREETING=unset
        WORKDIR /src
        COPY app.txt .
        RUN echo "$GREETING $(cat app.txt)" > out.txt && mkdir -p /out && cp out.txt /out/
        FROM ${BASE}
        RUN echo 'runner:x:1234:1234::/home/runner:/bin/sh' >> /etc/passwd
        COPY --from=build /out/out.txt /srv/
        COPY --chown=1234:1234 <<EOF /srv/conf.txt
        conf
        EOF
        USER runner
        EXPOSE 8080
        ENTRYPOINT ["/bin/sh", "-c"]
        CMD ["cat /srv/out.txt /srv/conf.txt; id -u; stat -c %u /srv/conf.txt"]
        HEALTHCHECK --interval=5s --retries=2 CMD true
        """;

    [Fact]
    public async Task A_multi_stage_build_runs_with_its_config_and_a_rebuild_is_all_cached()
    {
        Write("Dockerfile", MultiStage);
        Write("app.txt", "world");
        var first = await BuildAsync("localhost/built:1");
        Assert.Equal(0, first.CachedSteps);
        var image = first.Image;
        Assert.Equal(["8080/tcp"], image.Config.Config!.ExposedPorts!.Keys.ToArray());
        Assert.Equal("runner", image.Config.Config.User);
        Assert.Equal(2, image.Config.Config.Healthcheck!.Retries);
        Assert.Equal(5_000_000_000, image.Config.Config.Healthcheck.Interval);
        var run = await t.RunAsync(t.Engine.FromImage("localhost/built:1").WithNetwork("none").WithHealthCheck(Containers.Runtime.HealthCheck.None));
        Assert.Equal("hello world\nconf\n1234\n1234\n", run.Stdout);

        // unchanged: every step from the cache, the same image, no new blob
        var blobs = Directory.GetFiles(Path.Combine(t.Engine.Images.LayoutDirectory, "blobs/sha256")).Length;
        var events = new List<BuildEvent>();
        var second = await BuildAsync("localhost/built:1", events);
        Assert.Equal(image.Id, second.Image.Id);
        Assert.Equal(5, second.CachedSteps); // COPY, RUN (build); RUN, COPY --from, COPY heredoc (final)
        Assert.Equal(blobs, Directory.GetFiles(Path.Combine(t.Engine.Images.LayoutDirectory, "blobs/sha256")).Length);
        Assert.Contains(events, e => e.Text == "CACHED");

        // one file changed: the steps from its COPY on run again, the rest stays cached
        Write("app.txt", "there");
        var third = await BuildAsync("localhost/built:1");
        Assert.Equal(1, third.CachedSteps); // only the final stage's first RUN
        Assert.NotEqual(image.Id, third.Image.Id);
        Assert.Equal("hello there\nconf\n1234\n1234\n", (await t.RunAsync(t.Engine.FromImage("localhost/built:1").WithNetwork("none").WithHealthCheck(Containers.Runtime.HealthCheck.None))).Stdout);
    }

    [Fact]
    public async Task Target_builds_only_the_stages_it_needs_and_dockerignore_is_honoured()
    {
        Write("Dockerfile", """
            FROM localhost/busybox:1 AS one
            COPY keep.log /var/www
            RUN test -f /var/www/keep.log
            COPY . /ctx/
            RUN ls -R /ctx | sort > /list
            FROM localhost/busybox:1 AS two
            RUN exit 1
            """);
        Write(".dockerignore", "*.log\n!keep.log\nsecret/\n");
        Write("a.log", "x");
        Write("keep.log", "x");
        Write("secret/key", "x");
        Write("src/main.txt", "x");
        var result = await BuildAsync("localhost/target:1", target: "one");
        var run = await t.RunAsync(t.Engine.FromImage("localhost/target:1").WithNetwork("none").WithCommand("cat", "/list"));
        Assert.Contains("keep.log", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("main.txt", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("a.log", run.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("key", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, result.CachedSteps);
    }

    [Theory]
    [InlineData("FROM localhost/busybox:1\nRUN echo out; echo err >&2; exit 3\n", "Dockerfile:2: process \"/bin/sh -c echo out; echo err >&2; exit 3\" did not complete successfully: exit code: 3")]
    [InlineData("FROM localhost/busybox:1\nCOPY missing.txt /\n", "Dockerfile:2: COPY failed: file not found in build context")]
    [InlineData("FROM localhost/busybox:1 AS a\nCOPY --from=b /x /x\nFROM localhost/busybox:1 AS b\nCOPY --from=a /y /y\n", "circular dependency between stages")]
    [InlineData("FROM localhost/nothing:here\n", "Dockerfile:1: FROM localhost/nothing:here")]
    [InlineData("FROM localhost/busybox:1\nWHAT now\n", "Dockerfile:2:1: unknown instruction: WHAT")]
    public async Task Bad_dockerfiles_fail_clearly_and_name_nothing(string dockerfile, string expected)
    {
        Write("Dockerfile", dockerfile);
        var before = t.Engine.Images.List().Count;
        var e = await Assert.ThrowsAnyAsync<ContainerException>(() => BuildAsync("localhost/bad:1"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        if (expected.Contains("exit code", StringComparison.Ordinal))
        {
            Assert.Contains("\nout", e.Message, StringComparison.Ordinal); // the tail of its output
            Assert.Contains("\nerr", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, t.Engine.Images.List().Count);
        Assert.Null(t.Engine.Images.Find("localhost/bad:1"));
        Assert.Empty(t.Engine.List(all: true));
    }

    [Fact]
    public async Task Run_mounts_copy_parents_and_onbuild_work()
    {
        Write("Dockerfile", """
            FROM localhost/busybox:1 AS tools
            RUN mkdir -p /opt/tools && echo tool-data > /opt/tools/data
            ONBUILD RUN echo triggered > /onbuild
            FROM tools AS uses
            FROM localhost/busybox:1
            RUN --mount=type=bind,from=tools,source=/opt/tools,target=/mnt/tools cat /mnt/tools/data > /from-stage
            RUN --mount=type=bind,source=conf,target=/mnt/conf cat /mnt/conf/app.conf > /from-context
            RUN --mount=type=cache,target=/var/cache/app sh -c 'echo run >> /var/cache/app/count; wc -l < /var/cache/app/count > /cache-count'
            COPY --parents conf/app.conf /parents/
            COPY --from=uses /onbuild /onbuild
            CMD ["sh", "-c", "cat /from-stage /from-context /cache-count /parents/conf/app.conf /onbuild; test -e /mnt/tools/data || echo unmounted"]
            """);
        Write("conf/app.conf", "conf-data");
        await BuildAsync("localhost/mounts:1");
        Assert.Equal("tool-data\nconf-data1\nconf-datatriggered\nunmounted\n", (await t.RunAsync(t.Engine.FromImage("localhost/mounts:1").WithNetwork("none"))).Stdout);

        // the cache mount outlives the build: a rebuild without the layer cache counts a second run
        await BuildAsync("localhost/mounts:2", noCache: true);
        Assert.Contains("2\n", (await t.RunAsync(t.Engine.FromImage("localhost/mounts:2").WithNetwork("none"))).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_unpacks_local_tar_archives_of_every_compression_and_copies_other_files()
    {
        var src = Path.Combine(t.Root, "archive-src");
        Directory.CreateDirectory(Path.Combine(src, "dir"));
        File.WriteAllText(Path.Combine(src, "dir/inside.txt"), "inside");
        foreach (var (name, flag) in new[] { ("a.tar.gz", "-z"), ("b.tar.bz2", "-j"), ("c.tar.xz", "-J"), ("d.tar.zst", "--zstd"), ("e.tar", "") })
        {
            TestRegistry.Run("tar", [.. new[] { "-C", src, "-c", "-f", Path.Combine(context, name) }.Concat(flag.Length > 0 ? [flag] : []), "dir"]);
        }

        File.WriteAllText(Path.Combine(context, "note.txt"), "not an archive");
        TestRegistry.Run("gzip", "-k", Path.Combine(context, "note.txt"));
        Write("Dockerfile", """
            FROM localhost/busybox:1
            ADD a.tar.gz /gz/
            ADD b.tar.bz2 /bz/
            ADD c.tar.xz /xz/
            ADD d.tar.zst /zst/
            ADD e.tar /plain/
            ADD note.txt.gz /notes/
            CMD ["sh", "-c", "cat /gz/dir/inside.txt /bz/dir/inside.txt /xz/dir/inside.txt /zst/dir/inside.txt /plain/dir/inside.txt; ls /notes"]
            """);
        await BuildAsync("localhost/add:1");
        Assert.Equal("insideinsideinsideinsideinsidenote.txt.gz\n", (await t.RunAsync(t.Engine.FromImage("localhost/add:1").WithNetwork("none"))).Stdout);
    }

    [Fact]
    public async Task A_reproducible_build_gives_the_same_digest_twice()
    {
        Write("Dockerfile", "FROM localhost/busybox:1\nCOPY app.txt /app.txt\nRUN echo built > /built\n");
        Write("app.txt", "same");
        var a = await BuildAsync("localhost/repro:1", noCache: true, epoch: 1_700_000_000);
        var b = await BuildAsync("localhost/repro:2", noCache: true, epoch: 1_700_000_000);
        Assert.Equal(a.Image.ManifestDigest, b.Image.ManifestDigest);
    }

    [Fact]
    public async Task What_buildah_builds_from_the_same_dockerfile_loads_and_runs_here()
    {
        using var buildah = new TestPodman();
        var baseArchive = Path.Combine(t.Root, "base.tar");
        await using (var f = File.Create(baseArchive))
        {
            await t.Engine.Images.SaveAsync(["localhost/busybox:1"], f);
        }

        buildah.Buildah("pull", "-q", $"docker-archive:{baseArchive}");
        Write("Dockerfile", """
            FROM localhost/busybox:1
            ARG GREETING
            RUN echo "$GREETING from buildah" > /msg
            CMD ["cat", "/msg"]
            """);
        buildah.Buildah("bud", "--isolation", "chroot", "--pull=never", "-q", "--build-arg", "GREETING=hello", "-t", "localhost/bybuildah:1", context);
        var archive = Path.Combine(t.Root, "bybuildah.tar");
        buildah.Buildah("push", "-q", "localhost/bybuildah:1", $"docker-archive:{archive}:localhost/bybuildah:1");
        await using (var f = File.OpenRead(archive))
        {
            await t.Engine.Images.LoadAsync(f);
        }

        Assert.Equal("hello from buildah\n", (await t.RunAsync(t.Engine.FromImage("localhost/bybuildah:1").WithNetwork("none"))).Stdout);

        // and ours from the same Dockerfile says the same
        await BuildAsync("localhost/byus:1");
        Assert.Equal("hello from buildah\n", (await t.RunAsync(t.Engine.FromImage("localhost/byus:1").WithNetwork("none"))).Stdout);
    }

    [Fact]
    public async Task Podman_runs_an_image_we_built()
    {
        using var podman = new TestPodman();
        Write("Dockerfile", MultiStage);
        Write("app.txt", "podman");
        await BuildAsync("localhost/forpodman:1");
        var archive = Path.Combine(t.Root, "built.tar");
        await using (var f = File.Create(archive))
        {
            await t.Engine.Images.SaveAsync(["localhost/forpodman:1"], f);
        }

        podman.Run("load", "-i", archive);
        Assert.Equal("hello podman\nconf\n1234\n1234\n", podman.RunContainer("localhost/forpodman:1"));
    }
}
