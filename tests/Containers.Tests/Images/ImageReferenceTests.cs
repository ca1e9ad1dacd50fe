using Containers.Images;

namespace Containers.Tests.Images;

public class ImageReferenceTests
{
    [Theory]
    [InlineData("nginx", "docker.io/library/nginx:latest", "nginx:latest")]
    [InlineData("nginx:1.25", "docker.io/library/nginx:1.25", "nginx:1.25")]
    [InlineData("library/nginx", "docker.io/library/nginx:latest", "nginx:latest")]
    [InlineData("docker.io/nginx", "docker.io/library/nginx:latest", "nginx:latest")]
    [InlineData("index.docker.io/library/nginx:x", "docker.io/library/nginx:x", "nginx:x")]
    [InlineData("user/app", "docker.io/user/app:latest", "user/app:latest")]
    [InlineData("localhost:5000/a/b:t", "localhost:5000/a/b:t", "localhost:5000/a/b:t")]
    [InlineData("localhost/a", "localhost/a:latest", "localhost/a:latest")]
    [InlineData("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest")]
    [InlineData("quay.io/org/sub/img:v1.2_3-x", "quay.io/org/sub/img:v1.2_3-x", "quay.io/org/sub/img:v1.2_3-x")]
    [InlineData("a__b/c-d.e", "docker.io/a__b/c-d.e:latest", "a__b/c-d.e:latest")]
    public void Normalises_like_docker(string input, string full, string familiar)
    {
        var r = ImageReference.Parse(input);
        Assert.Equal(full, r.ToString());
        Assert.Equal(familiar, r.ToFamiliarString());
    }

    [Fact]
    public void Digest_references_pin_content_and_keep_a_tag_when_given()
    {
        var hex = new string('a', 64);
        var r = ImageReference.Parse($"busybox@sha256:{hex}");
        Assert.Null(r.Tag);
        Assert.Equal($"sha256:{hex}", r.ManifestReference);
        Assert.Equal($"docker.io/library/busybox@sha256:{hex}", r.ToString());
        var both = ImageReference.Parse($"localhost:5000/x:1@sha256:{hex}");
        Assert.Equal("1", both.Tag);
        Assert.Equal($"sha256:{hex}", both.ManifestReference);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Nginx", "lowercase")]
    [InlineData("nginx:", "invalid tag")]
    [InlineData("nginx:-x", "invalid tag")]
    [InlineData("nginx@sha256:abc", "not a digest")]
    [InlineData("a//b", "path component")]
    [InlineData("a/b_", "path component")]
    [InlineData("-host.io/x", "registry")]
    [InlineData("host.io/", "empty repository")]
    public void Rejects_invalid_references_saying_why(string input, string why)
    {
        var e = Assert.Throws<InvalidReferenceException>(() => ImageReference.Parse(input));
        Assert.Contains(why, e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Chain_ids_follow_the_oci_spec()
    {
        var a = Digest.Of("a"u8);
        var b = Digest.Of("b"u8);
        Assert.Equal(a, Digest.Chain(null, a));
        Assert.Equal(Digest.Of(System.Text.Encoding.ASCII.GetBytes($"{a} {b}")), Digest.Chain(a, b));
    }
}
