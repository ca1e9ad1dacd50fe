using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Containers;
using Containers.Compose;
using Containers.Testing;

namespace CourseStack.Tests;

/// <summary>
/// The acceptance test of the real course stack (samples/CourseApp): node:18, nginx:latest and postgres:15 made from
/// Debian's packages by samples/images/build.sh and cached in the test root; the backend's image built with
/// `RUN npm install` from its lockfile (the container reaches the npm registry through the bridge's NAT); the stack up
/// with its healthchecks; an order posted through nginx's /api proxy lands in Postgres and survives a restarted backend;
/// the database's data is on the bind volume.
/// </summary>
public sealed class CourseAppTests
{
    private static readonly string Samples = AppContext.BaseDirectory;

    private static async Task BuildBaseImagesAsync(ContainerEngine engine)
    {
        var options = TestRun.Options;
        var psi = new ProcessStartInfo(Path.Combine(Samples, "images", "build.sh"), [Path.Combine(Samples, "containers-cli"), engine.Root])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["CONTAINERS_MACHINE_STATE"] = options.MachineStateDirectory;
        psi.Environment["CONTAINERS_BRIDGE"] = options.BridgeName;
        psi.Environment["CONTAINERS_BRIDGE_SUBNET"] = options.BridgeSubnet;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"samples/images/build.sh failed ({p.ExitCode}):\n{await stdout}\n{await stderr}");
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        }

        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
        }
    }

    [Fact]
    public async Task The_real_stack_builds_from_Debian_packages_and_keeps_orders_in_postgres()
    {
        var engine = TestRun.Engine;
        await BuildBaseImagesAsync(engine);
        var app = Directory.CreateTempSubdirectory("course-app-").FullName;
        CopyDirectory(Path.Combine(Samples, "CourseApp"), app);
        var project = "course-app-" + Guid.NewGuid().ToString("N")[..6];
        var builder = ComposeStack.FromFile(Path.Combine(app, "compose.yaml")).WithEngine(engine).WithProjectName(project)
            .WithEnvironment("FRONTEND_PORT", "0").WithEnvironment("BACKEND_PORT", "0")
            .WithUpOptions(new UpOptions { Build = true, Wait = true, InProcess = true, Timeout = TimeSpan.FromMinutes(5), ExtraLabels = System.Collections.Immutable.ImmutableDictionary<string, string>.Empty.Add(TestRun.Label, TestRun.Id), CgroupParent = TestRun.CgroupParent });
        var stack = await builder.UpAsync();
        try
        {
            var frontend = stack.Services["frontend"].Container;
            var port = frontend.GetHostPort(80);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

            // the frontend has no healthcheck (the image has no HTTP client): "up" is running, nginx may still be starting
            string? page = null;
            for (var i = 0; i < 100 && page is null; i++)
            {
                try
                {
                    page = await http.GetStringAsync(new Uri("/", UriKind.Relative));
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(200);
                }
            }

            using var order = new StringContent("""{"item": "course book"}""", System.Text.Encoding.UTF8, "application/json");
            var created = await http.PostAsync(new Uri("/api/orders", UriKind.Relative), order);
            var health = await http.GetStringAsync(new Uri("/api/health", UriKind.Relative));

            Assert.Contains("Course shop", page, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Contains("\"ok\"", health, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(app, "postgres-data", "PG_VERSION")), "the database's files are on the bind volume");
            var backend = stack.Services["backend"].Container;
            var modules = await backend.ExecAsync(["node", "-e", "console.log(require('pg/package.json').version)"]);
            Assert.Equal(0, modules.ExitCode); // npm install ran in the build

            // the order is in Postgres, not in the backend: a restarted backend still lists it
            await backend.StopAsync(TimeSpan.FromSeconds(5));
            await backend.StartAsync();
            JsonArray? orders = null;
            for (var i = 0; i < 100 && orders is null; i++)
            {
                try
                {
                    orders = JsonNode.Parse(await http.GetStringAsync(new Uri("/api/orders", UriKind.Relative))) as JsonArray;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(200);
                }
            }

            Assert.NotNull(orders);
            Assert.Contains(orders, o => (string?)o!["item"] == "course book");
        }
        finally
        {
            await stack.DownAsync();
            Directory.Delete(app, true);
        }
    }
}
