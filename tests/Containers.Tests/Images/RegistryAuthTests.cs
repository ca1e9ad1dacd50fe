using Containers.Images;
using System.Collections.Immutable;
using Containers.Images.Registry;

namespace Containers.Tests.Images;

/// <summary>Basic auth over TLS (htpasswd, self-signed certificate) and Bearer tokens, against the real registry.</summary>
public sealed class RegistryAuthTests
{
    private static ImageService Images(TestEngine engine, RegistryOptions options) =>
        new(engine.Engine.Images.Store, options, () => [], TimeProvider.System);

    private static RegistryOptions Trusting(TestRegistry registry, string dir, RegistryCredentials? credentials)
    {
        var certs = Path.Combine(dir, "certs.d", registry.Host);
        Directory.CreateDirectory(certs);
        File.Copy(registry.CertificatePath, Path.Combine(certs, "ca.crt"), overwrite: true);
        return new RegistryOptions
        {
            LoopbackIsInsecure = false, // verify the certificate for real, against certs.d
            CertificatesDirectory = Path.Combine(dir, "certs.d"),
            DockerConfigPath = Path.Combine(dir, "no-config.json"),
            Credentials = credentials is null ? [] : new Dictionary<string, RegistryCredentials> { [registry.Host] = credentials }.ToImmutableDictionary(),
        };
    }

    [Fact]
    public async Task Basic_auth_over_tls_pushes_and_pulls_with_the_right_credentials_only()
    {
        using var registry = new TestRegistry(auth: true);
        await using var a = new TestEngine();
        var name = $"{registry.Host}/secure/busybox:1";
        await TestImages.ImportBusyboxAsync(a.Engine, name);

        var none = await Assert.ThrowsAsync<RegistryException>(() => Images(a, Trusting(registry, a.Root, null)).PushAsync(name));
        Assert.Equal(401, none.StatusCode);
        Assert.Contains("no credentials", none.Message, StringComparison.Ordinal);

        var wrong = await Assert.ThrowsAsync<RegistryException>(() => Images(a, Trusting(registry, a.Root, new RegistryCredentials(TestRegistry.User, "nope"))).PushAsync(name));
        Assert.Contains($"authentication failed for secure/busybox as user '{TestRegistry.User}'", wrong.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("nope", wrong.Message, StringComparison.Ordinal);

        var untrusted = await Assert.ThrowsAnyAsync<Exception>(() => Images(a, Trusting(registry, a.Root, null) with { CertificatesDirectory = Path.Combine(a.Root, "empty") }).PushAsync(name));
        Assert.Contains(registry.Host, untrusted.Message, StringComparison.Ordinal);

        await Images(a, Trusting(registry, a.Root, new RegistryCredentials(TestRegistry.User, TestRegistry.Password))).PushAsync(name);

        // credentials from docker's config.json, as `docker login` writes them
        await using var b = new TestEngine();
        var config = Path.Combine(b.Root, "config.json");
        var auth = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{TestRegistry.User}:{TestRegistry.Password}"));
        File.WriteAllText(config, "{\"auths\":{\"" + registry.Host + "\":{\"auth\":\"" + auth + "\"}}}");
        var images = Images(b, Trusting(registry, b.Root, null) with { DockerConfigPath = config });
        var pulled = await images.PullAsync(name);
        Assert.Equal(a.Engine.Images.Get(name).ManifestDigest, pulled.ManifestDigest);
        Assert.Contains("1", await images.ListTagsAsync($"{registry.Host}/secure/busybox"));
    }

    [Fact]
    public async Task Bearer_tokens_are_fetched_from_the_realm_and_cached_per_scope()
    {
        using var tokens = new TestTokenServer();
        using var registry = new TestRegistry(token: tokens);
        await using var a = new TestEngine();
        var name = $"{registry.Host}/tokens/busybox:1";
        await TestImages.ImportBusyboxAsync(a.Engine, name);
        var options = new RegistryOptions { DockerConfigPath = null, Credentials = new Dictionary<string, RegistryCredentials> { [registry.Host] = new(TestRegistry.User, TestRegistry.Password) }.ToImmutableDictionary() };

        await Images(a, options).PushAsync(name);
        var pushTokens = tokens.Requests;
        Assert.InRange(pushTokens, 1, 3); // one per scope, not one per request

        await using var b = new TestEngine();
        var images = Images(b, options);
        await images.PullAsync(name);
        var result = await b.RunAsync(b.Engine.FromImage(name).WithCommand("echo", "token ok"));
        Assert.Equal("token ok\n", result.Stdout);

        var denied = await Assert.ThrowsAsync<RegistryException>(() => Images(b, options with { Credentials = options.Credentials.SetItem(registry.Host, new(TestRegistry.User, "bad")) }).PullAsync(name));
        Assert.Contains("token request", denied.Message, StringComparison.Ordinal);
        Assert.Equal(401, denied.StatusCode);
    }
}
