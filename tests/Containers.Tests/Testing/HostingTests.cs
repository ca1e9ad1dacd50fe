using Containers.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Containers.Tests.Testing;

/// <summary>Microsoft.Extensions.Hosting: a container as a resource of the app, its address in configuration, its health as a health check.</summary>
public sealed class HostingTests
{
    [Fact]
    public async Task A_container_comes_up_healthy_with_the_host_publishes_its_url_and_goes_down_with_it()
    {
        await using var t = new TestEngine();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Containers:Root"] = t.Root,
            ["Containers:MachineStateDirectory"] = t.Options.MachineStateDirectory,
            ["Containers:BridgeName"] = t.Options.BridgeName,
            ["Containers:BridgeSubnet"] = t.Options.BridgeSubnet,
        });
        builder.AddContainer("web", e => e.FromRootfs(TestRootfs.Path)
            .WithCommand("sh", "-c", "touch /tmp/ready; exec httpd -f -p 8080 -h /var/www")
            .WithPortBinding(0, 8080, "127.0.0.1")
            .WithHealthCheck(new Containers.Runtime.HealthCheck { Test = ["CMD", "test", "-f", "/tmp/ready"], Interval = TimeSpan.FromMilliseconds(100) }));
        using var host = builder.Build();

        await host.StartAsync();
        var engine = host.Services.GetRequiredService<ContainerEngine>();
        Assert.Equal(t.Root, engine.Root);
        var url = host.Services.GetRequiredService<IConfiguration>()["Containers:Resources:web:web:Url"];
        Assert.StartsWith("http://127.0.0.1:", url, StringComparison.Ordinal);
        Assert.Equal("hello from busybox httpd\n", await TestEngine.GetWhenUpAsync(url + "/index.html"));
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Status);
        Assert.Equal("healthy", report.Entries["containers"].Data["web/web/web"]);

        await engine.Get("web").KillAsync();
        // The kill is asynchronous: wait for the exit the check reports on, not for a fixed time (300 ms was too short under load).
        await engine.Get("web").WaitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var status = (await health.CheckHealthAsync()).Status;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); status != HealthStatus.Unhealthy && DateTime.UtcNow < deadline; status = (await health.CheckHealthAsync()).Status)
        {
            await Task.Delay(50);
        }

        Assert.Equal(HealthStatus.Unhealthy, status);

        await host.StopAsync();
        Assert.Empty(t.Engine.List(all: true));
        await engine.DisposeAsync();
    }
}

/// <summary>The order resources come up in.</summary>
public sealed class HostingOrderTests
{
    private static SingleContainerResource R(string name, params string[] deps) => new() { Name = name, Configure = e => e.FromRootfs("/"), DependsOn = [.. deps] };

    [Fact]
    public void Dependencies_come_first_otherwise_registration_order_and_cycles_are_refused()
    {
        var order = ContainerResourcesHostedService.InDependencyOrder([R("app", "db", "cache"), R("cache"), R("db", "cache"), R("extra")]);
        Assert.Equal(["cache", "db", "app", "extra"], order.Select(r => r.Name));
        Assert.Contains("cycle", Assert.Throws<ContainerException>(() => ContainerResourcesHostedService.InDependencyOrder([R("a", "b"), R("b", "a")])).Message, StringComparison.Ordinal);
        Assert.Contains("not registered", Assert.Throws<ContainerException>(() => ContainerResourcesHostedService.InDependencyOrder([R("a", "zzz")])).Message, StringComparison.Ordinal);
    }
}
