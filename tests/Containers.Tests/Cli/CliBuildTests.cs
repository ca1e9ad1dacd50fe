using Containers.Tests.Images;

namespace Containers.Tests.Cli;

/// <summary><c>containers build</c> with the course's Dockerfile shape, then served on a published port.</summary>
public sealed class CliBuildTests : IAsyncLifetime
{
    private readonly TestEngine t = new();

    public Task InitializeAsync() => TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:1");

    public async Task DisposeAsync() => await t.DisposeAsync();

    [Fact]
    public async Task The_course_dockerfile_builds_caches_and_serves_http()
    {
        var ctx = Path.Combine(t.Root, "course");
        Directory.CreateDirectory(Path.Combine(ctx, "public"));
        File.WriteAllText(Path.Combine(ctx, "package.json"), "{\"name\":\"course\"}");
        File.WriteAllText(Path.Combine(ctx, "package-lock.json"), "{}");
        File.WriteAllText(Path.Combine(ctx, "public/index.html"), "<h1>course app</h1>\n");
        File.WriteAllText(Path.Combine(ctx, "Dockerfile"), """
            FROM localhost/busybox:1
            WORKDIR /app
            COPY package*.json ./
            RUN mkdir -p node_modules && cp package.json node_modules/.installed && echo installed
            COPY . .
            EXPOSE 8080
            CMD ["httpd", "-f", "-p", "8080", "-h", "/app/public"]
            """);

        var build = await CliRunner.RunAsync(t, "build", "-t", "localhost/course:1", ctx);
        Assert.True(build.Code == 0, build.Stderr);
        Assert.Contains("installed", build.Stderr, StringComparison.Ordinal);
        Assert.Contains("naming to docker.io", build.Stderr.Replace("localhost/course", "docker.io", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Matches("^sha256:[0-9a-f]{64}\n$", build.Stdout);

        var again = await CliRunner.RunAsync(t, "build", "-t", "localhost/course:1", ctx);
        Assert.Equal(build.Stdout, again.Stdout);
        Assert.Contains("CACHED", again.Stderr, StringComparison.Ordinal);

        var run = await CliRunner.RunAsync(t, "run", "-d", "--name", "course", "-p", "127.0.0.1::8080", "localhost/course:1");
        Assert.True(run.Code == 0, run.Stderr);
        var port = t.Engine.Get("course").GetHostPort(8080);
        Assert.Equal("<h1>course app</h1>\n", await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{port}/index.html"));
        Assert.Equal("{\"name\":\"course\"}", (await CliRunner.RunAsync(t, "exec", "course", "cat", "/app/node_modules/.installed")).Stdout);

        var broken = Path.Combine(t.Root, "broken");
        Directory.CreateDirectory(broken);
        File.WriteAllText(Path.Combine(broken, "Dockerfile"), "FROM localhost/busybox:1\nRUN exit 7\n");
        var failed = await CliRunner.RunAsync(t, "build", "-t", "localhost/broken:1", broken);
        Assert.Equal(125, failed.Code);
        Assert.Contains("Dockerfile:2: process \"/bin/sh -c exit 7\" did not complete successfully: exit code: 7", failed.Stderr, StringComparison.Ordinal);
    }
}
