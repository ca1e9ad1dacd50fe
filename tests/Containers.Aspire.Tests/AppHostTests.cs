using System.Reflection;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Containers.DockerApi;
using Containers.Tests.Images;
using Microsoft.Extensions.DependencyInjection;

namespace Containers.Tests.Aspire;

/// <summary>
/// A .NET Aspire app host with two container resources, unchanged, on our Docker Engine API: its orchestrator (DCP,
/// from Aspire.Hosting.Orchestration) drives the docker CLI with DOCKER_HOST on our socket. It makes its session
/// network, creates the containers on it by the network's full ID with their resource names as aliases, waits for
/// one before the other, proxies an HTTP endpoint, and removes it all when the app stops.
/// </summary>
public sealed class AppHostTests
{
    [Fact]
    public async Task An_app_host_runs_two_container_resources_and_leaves_nothing()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:v1");
        string dcp = typeof(AppHostTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "DcpCliPath").Value!;
        Assert.True(File.Exists(dcp), $"DCP is missing at {dcp} (the Aspire.Hosting.Orchestration.linux-x64 package)");
        Environment.SetEnvironmentVariable("DOCKER_HOST", "unix://" + server.SocketPath); // DCP and its docker CLI read it
        Environment.SetEnvironmentVariable("DOCKER_CONFIG", Directory.CreateDirectory(Path.Combine(t.Root, "docker-config")).FullName);
        string dcpLogs = Directory.CreateDirectory(Path.Combine(t.Root, "dcp-logs")).FullName; // DCP's own account, shown if it leaves something
        Environment.SetEnvironmentVariable("DCP_DIAGNOSTICS_LOG_FOLDER", dcpLogs);
        Environment.SetEnvironmentVariable("DCP_DIAGNOSTICS_LOG_LEVEL", "debug");
        try
        {
            var builder = DistributedApplication.CreateBuilder(new DistributedApplicationOptions { DisableDashboard = true, Args = ["--dcp-cli-path", dcp] });
            builder.Configuration["DcpPublisher:DashboardPath"] = "/nonexistent"; // validated even with the dashboard off
            builder.Configuration["DcpPublisher:ContainerRuntime"] = "docker";
            builder.Configuration["DcpPublisher:WaitForResourceCleanup"] = "true"; // the app host's stop waits for DCP to remove what it made
            var db = builder.AddContainer("db", "localhost/busybox", "v1")
                .WithEntrypoint("sh").WithArgs("-c", "trap 'exit 0' TERM; sleep 1000 & wait");
            var web = builder.AddContainer("web", "localhost/busybox", "v1")
                .WithEntrypoint("sh")
                .WithArgs("-c", "mkdir -p /www; nslookup db > /www/dns.txt 2>&1; echo hello-from-web > /www/index.html; echo web-is-serving; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait")
                .WithHttpEndpoint(targetPort: 8080, name: "http")
                .WaitFor(db);
            await using (var app = builder.Build())
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
                await app.StartAsync(timeout.Token);
                var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
                await notifications.WaitForResourceAsync("db", KnownResourceStates.Running, timeout.Token);
                var webRunning = await notifications.WaitForResourceAsync("web", e => e.Snapshot.State?.Text == KnownResourceStates.Running, timeout.Token);
                Assert.Equal(2, t.Engine.List().Count);

                // the console logs the Aspire dashboard shows: DCP follows the container's log through our API
                var logs = app.Services.GetRequiredService<ResourceLoggerService>();
                bool seen = false;
                await foreach (var batch in logs.WatchAsync(webRunning.ResourceId).WithCancellation(timeout.Token)) // the instance's name (web-xxxxxxxx), as the dashboard asks
                {
                    if (batch.Any(line => line.Content.Contains("web-is-serving", StringComparison.Ordinal)))
                    {
                        seen = true;
                        break;
                    }
                }

                Assert.True(seen);
                Assert.Contains(t.Engine.Networks.List(), n => n.Name.StartsWith("aspire-session-network-", StringComparison.Ordinal));

                string url = web.GetEndpoint("http").Url; // DCP's proxy on the host, to the port we publish
                Assert.Equal("hello-from-web\n", await TestEngine.GetWhenUpAsync(url + "/index.html"));
                string dns = (await TestEngine.GetWhenUpAsync(url + "/dns.txt"))!;
                Assert.True(dns.Contains("Address", StringComparison.Ordinal) && !dns.Contains("can't resolve", StringComparison.Ordinal), dns);
                await app.StopAsync(timeout.Token);
            }

            // DCP removes its containers and network after the app host stops, on its own time
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && (t.Engine.List(all: true).Count > 0 || t.Engine.Networks.List().Any(n => n.Name.StartsWith("aspire-", StringComparison.Ordinal))))
            {
                await Task.Delay(200);
            }

            Assert.True(t.Engine.List(all: true).Count == 0, "DCP left containers; what it logged:\n" + DcpErrors(dcpLogs));
            Assert.False(t.Engine.Networks.List().Any(n => n.Name.StartsWith("aspire-", StringComparison.Ordinal)), "DCP left its network; what it logged:\n" + DcpErrors(dcpLogs));
            Assert.True(await DcpExitedAsync(dcp), "DCP was still running 30 s after the app host stopped");
            t.AssertNothingLeft();
        }
        finally
        {
            // KEEP_DCP_LOGS=DIR keeps DCP's diagnostic logs (every docker command it ran) after the test's root is gone
            if (Environment.GetEnvironmentVariable("KEEP_DCP_LOGS") is { Length: > 0 } keep)
            {
                Directory.CreateDirectory(keep);
                foreach (var f in Directory.EnumerateFiles(Path.Combine(t.Root, "dcp-logs")))
                {
                    File.Copy(f, Path.Combine(keep, Path.GetFileName(f)), overwrite: true);
                }
            }

            Environment.SetEnvironmentVariable("DOCKER_HOST", null);
            Environment.SetEnvironmentVariable("DOCKER_CONFIG", null);
            Environment.SetEnvironmentVariable("DCP_DIAGNOSTICS_LOG_FOLDER", null);
            Environment.SetEnvironmentVariable("DCP_DIAGNOSTICS_LOG_LEVEL", null);
        }
    }

    /// <summary>DCP's errors and its docker commands about networks and removal, from its diagnostic logs, for a failure's message.</summary>
    private static string DcpErrors(string folder) => string.Join('\n', Directory.EnumerateFiles(folder, "*.log")
        .SelectMany(File.ReadLines)
        .Where(l => l.Contains("\"level\":\"error\"", StringComparison.Ordinal) || l.Contains("network rm", StringComparison.Ordinal) || l.Contains("shut", StringComparison.OrdinalIgnoreCase))
        .Select(l => l.Length > 600 ? l[..600] : l)
        .TakeLast(60));

    /// <summary>Whether every process of the DCP binary this test's app host started has ended (within 30 s); those left are killed.</summary>
    private static async Task<bool> DcpExitedAsync(string dcp)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var left = Processes(dcp);
            if (left.Count == 0)
            {
                return true;
            }

            if (DateTime.UtcNow > deadline)
            {
                foreach (var process in left)
                {
                    process.Kill();
                }

                return false;
            }

            await Task.Delay(200);
        }
    }

    /// <summary>The running processes of the binary <paramref name="path"/> that this process's app host started.</summary>
    private static List<System.Diagnostics.Process> Processes(string path)
    {
        var found = new List<System.Diagnostics.Process>();
        string full = Path.GetFullPath(path);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                if (File.ResolveLinkTarget(Path.Combine(dir, "exe"), returnFinalTarget: false)?.FullName == full && Ours(pid))
                {
                    found.Add(System.Diagnostics.Process.GetProcessById(pid));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // gone meanwhile
            }
        }

        return found;
    }

    /// <summary>Whether <paramref name="pid"/> is this app host's DCP: it runs detached (reparented), with <c>--monitor</c> naming this process.</summary>
    private static bool Ours(int pid)
    {
        var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        int at = Array.IndexOf(args, "--monitor");
        return at >= 0 && at + 1 < args.Length && args[at + 1] == Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
