// A Host.CreateApplicationBuilder app that brings up its own dependencies: the course stack comes up (healthy)
// before the app's own hosted services run, its URLs arrive as configuration values, and it goes down with the app.
// Run: dotnet run --project samples/HostingDemo   (as root; Ctrl+C or --once to stop)
using Containers;
using Containers.Hosting;
using Containers.Samples;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var builder = Host.CreateApplicationBuilder(args);
var stackDir = Path.Combine(AppContext.BaseDirectory, "CourseStack");
builder.Services.AddContainers(o => o.StartTimeout = TimeSpan.FromMinutes(2));
builder.AddComposeStack(Path.Combine(stackDir, "compose.yaml"), "course", new Dictionary<string, string> { ["FRONTEND_PORT"] = "0", ["BACKEND_PORT"] = "0" });
builder.Services.AddHostedService<OrdersClient>();
using var host = builder.Build();

// the stack's Dockerfiles start FROM a base image made locally; make sure it is in the store before the host starts
await CourseBaseImage.EnsureAsync(host.Services.GetRequiredService<ContainerEngine>());
await host.RunAsync();

/// <summary>The app's own work: talks to the stack through the values the resources published.</summary>
internal sealed class OrdersClient(IConfiguration configuration, HealthCheckService health, IHostApplicationLifetime lifetime, ILogger<OrdersClient> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var frontend = configuration["Containers:Resources:course:frontend:Url"];
        var backend = configuration["Containers:Resources:course:backend:Url"];
        logger.LogInformation("frontend at {Frontend}, backend at {Backend}", frontend, backend);
        using var http = new HttpClient();
        using var body = new StringContent("coffee\n");
        await http.PostAsync(new Uri(backend + "/cgi-bin/orders"), body, stoppingToken);
        logger.LogInformation("orders: {Orders}", await http.GetStringAsync(new Uri(frontend + "/cgi-bin/orders"), stoppingToken));
        var report = await health.CheckHealthAsync(stoppingToken);
        logger.LogInformation("health: {Status} ({Entries})", report.Status, string.Join(", ", report.Entries["containers"].Data.Select(kv => $"{kv.Key}={kv.Value}")));
        if (Environment.GetCommandLineArgs().Contains("--once"))
        {
            lifetime.StopApplication();
        }
    }
}
