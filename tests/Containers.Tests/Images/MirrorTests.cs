using System.Collections.Immutable;
using Containers.Images;
using Containers.Images.Registry;

namespace Containers.Tests.Images;

/// <summary>
/// Pull mirrors: from the options, from registries.conf (v2) and from docker's daemon.json; tried in order, an
/// unreachable one skipped, the image named as asked, a pinned digest verified, every failure named.
/// The "registries" mirrored are addresses nobody listens on (127.0.0.1:1), so nothing leaves this machine.
/// </summary>
public sealed class MirrorTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>
{
    private const string Unreachable = "127.0.0.1:1", DeadMirror = "127.0.0.1:2";
    private readonly TestRegistry registry = fixture.Registry;

    private async Task<Digest> PushAsync(string repository)
    {
        await using var a = new TestEngine();
        var name = $"{registry.Host}/{repository}";
        await TestImages.ImportBusyboxAsync(a.Engine, name);
        return await a.Engine.Images.PushAsync(name);
    }

    [Fact]
    public async Task A_pull_skips_a_dead_mirror_takes_the_next_and_names_the_image_as_asked()
    {
        await PushAsync("team/app:1");
        await using var t = new TestEngine(registry: new RegistryOptions
        {
            Mirrors = ImmutableDictionary<string, ImmutableArray<string>>.Empty.Add(Unreachable, [DeadMirror, registry.Host]),
            RegistriesConfPath = null,
            DaemonConfigPath = null,
        });

        var image = await t.Engine.Images.PullAsync($"{Unreachable}/team/app:1");

        Assert.Contains($"{Unreachable}/team/app:1", image.Names);
        var run = await t.RunAsync(t.Engine.FromImage($"{Unreachable}/team/app:1").WithCommand("echo", "from the mirror").WithNetwork("none"));
        Assert.Equal("from the mirror\n", run.Stdout);
    }

    [Fact]
    public async Task Registries_conf_mirrors_docker_hub_and_a_pinned_digest_is_verified_on_the_mirror()
    {
        var digest = await PushAsync("library/mirrored:1");
        var conf = Path.Combine(Directory.CreateTempSubdirectory("registries-conf-").FullName, "registries.conf");
        File.WriteAllText(conf, $"""
            unqualified-search-registries = ["docker.io"]

            [[registry]]
            prefix = "docker.io"
            location = "docker.io"

            [[registry.mirror]]
            location = "{DeadMirror}"

            [[registry.mirror]]
            location = "{registry.Host}"
            insecure = true

            [[registry]]
            prefix = "{Unreachable}/pinned"
            location = "{Unreachable}/pinned"

            [[registry.mirror]]
            location = "{registry.Host}/library"
            """);
        await using var t = new TestEngine(registry: new RegistryOptions { RegistriesConfPath = conf, DaemonConfigPath = null });

        var hub = await t.Engine.Images.PullAsync("mirrored:1"); // docker.io/library/mirrored:1, served by the mirror
        var pinned = await t.Engine.Images.PullAsync($"{Unreachable}/pinned/mirrored@{digest}"); // a namespace of the mirror
        var wrong = Digest.Of("not the image"u8.ToArray());
        var mismatch = await Assert.ThrowsAnyAsync<ImageException>(() => t.Engine.Images.PullAsync($"{Unreachable}/pinned/mirrored@{wrong}"));

        Assert.Contains("docker.io/library/mirrored:1", hub.Names);
        Assert.Equal(digest, pinned.ManifestDigest);
        Assert.Contains($"{registry.Host}: ", mismatch.Message, StringComparison.Ordinal); // every source is named with its own error
        Assert.Contains($"{Unreachable}: ", mismatch.Message, StringComparison.Ordinal);
        Directory.Delete(Path.GetDirectoryName(conf)!, true);
    }

    [Fact]
    public async Task Daemon_json_registry_mirrors_serve_docker_hub_and_blocked_registries_are_refused()
    {
        await PushAsync("library/fromdaemon:1");
        var dir = Directory.CreateTempSubdirectory("daemon-json-").FullName;
        File.WriteAllText(Path.Combine(dir, "daemon.json"), $$"""{"registry-mirrors": ["http://{{registry.Host}}"]}""");
        File.WriteAllText(Path.Combine(dir, "registries.conf"), $"[[registry]]\nprefix = \"{Unreachable}\"\nblocked = true\n");
        await using var t = new TestEngine(registry: new RegistryOptions { RegistriesConfPath = Path.Combine(dir, "registries.conf"), DaemonConfigPath = Path.Combine(dir, "daemon.json") });

        var image = await t.Engine.Images.PullAsync("fromdaemon:1");
        var blocked = await Assert.ThrowsAsync<RegistryException>(() => t.Engine.Images.PullAsync($"{Unreachable}/team/app:1"));

        Assert.Contains("docker.io/library/fromdaemon:1", image.Names);
        Assert.Contains($"{Unreachable} is blocked in {dir}/registries.conf", blocked.Message, StringComparison.Ordinal);
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task A_malformed_registries_conf_is_an_error_naming_the_file()
    {
        var dir = Directory.CreateTempSubdirectory("registries-bad-").FullName;
        File.WriteAllText(Path.Combine(dir, "registries.conf"), "[[registry]]\nprefix = \"x\"\ninsecure = \"yes\"\n");
        await using var t = new TestEngine(registry: new RegistryOptions { RegistriesConfPath = Path.Combine(dir, "registries.conf"), DaemonConfigPath = null });

        var e = await Assert.ThrowsAsync<RegistryException>(() => t.Engine.Images.PullAsync($"{Unreachable}/team/app:1"));

        Assert.Contains($"{dir}/registries.conf", e.Message, StringComparison.Ordinal);
        Directory.Delete(dir, true);
    }
}
