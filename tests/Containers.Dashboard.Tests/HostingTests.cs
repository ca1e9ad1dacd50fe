using System.Net;
using System.Net.Http.Json;
using Containers.Dashboard;
using Containers.DockerApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Containers.Tests.Dashboard;

/// <summary>The dashboard inside an app of one's own: services.AddContainersDashboard, app.MapContainersDashboard("/dashboard").</summary>
[Collection(DashboardCollection.Name)]
public sealed class HostingTests
{
    [Fact]
    public async Task An_app_maps_the_dashboard_under_a_prefix_beside_its_own_endpoints()
    {
        await using var t = new TestEngine();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddContainersDashboard(new DashboardOptions { DataDirectory = Path.Combine(t.Root, "dashboard"), Engine = t.Engine, AdminPassword = DockerViewTests.Password });
        await using var app = builder.Build();
        app.MapGet("/", () => "the app's own page");
        app.MapContainersDashboard("/dashboard");
        await app.StartAsync();
        try
        {
            var url = new Uri(app.Urls.First() + "/");
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = url };
            Assert.Equal("the app's own page", await http.GetStringAsync(""));
            string page = await http.GetStringAsync("dashboard/");
            Assert.Contains("<base href=\"/dashboard/\">", page, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("dashboard/api/docker/_ping")).StatusCode);
            var login = await http.PostAsJsonAsync("dashboard/api/auth/login", new { password = DockerViewTests.Password });
            login.EnsureSuccessStatusCode();
            Assert.Contains("path=/dashboard/", login.Headers.GetValues("Set-Cookie").Single(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal("OK", await http.GetStringAsync("dashboard/api/docker/_ping"));
            Assert.Equal("[]", await http.GetStringAsync("dashboard/api/stacks"));
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Fact]
    public async Task The_dashboard_serves_another_docker_endpoint_and_lists_its_stacks_by_label_without_deploying_there()
    {
        await using var t = new TestEngine();
        await using var api = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "other.sock"));
        await Containers.Tests.Images.TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:1");
        await using var server = await DashboardServer.StartAsync(new DashboardOptions
        {
            DataDirectory = Path.Combine(t.Root, "dashboard"),
            DockerHost = "unix://" + api.SocketPath,
            AdminPassword = DockerViewTests.Password,
            Port = 0,
        });
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = server.Url };
        var login = await http.PostAsJsonAsync("api/auth/login", new { password = DockerViewTests.Password });
        login.EnsureSuccessStatusCode();
        string status = await login.Content.ReadAsStringAsync();
        Assert.Contains("\"docker\":\"unix://" + api.SocketPath + "\"", status, StringComparison.Ordinal);
        Assert.Contains("\"stacks\":false", status, StringComparison.Ordinal);
        Assert.Equal("OK", await http.GetStringAsync("api/docker/_ping"));
        Assert.Contains("localhost/busybox:1", await http.GetStringAsync("api/docker/images/json"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotImplemented, (await http.GetAsync("api/stacks")).StatusCode);
        Assert.False(File.Exists(Path.Combine(t.Root, "dashboard", "docker.sock"))); // no private API of its own
    }
}
