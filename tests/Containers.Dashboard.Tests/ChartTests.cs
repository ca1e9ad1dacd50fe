using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Containers.Orchestration;
using PuppeteerSharp;

namespace Containers.Tests.Dashboard;

/// <summary>
/// The course's exercise with our own dashboard: its image (the NativeAOT CLI on a Debian minbase, built by our
/// builder from samples/Dashboard/Dockerfile) installed into our cluster from its Helm chart with the CLI's helm,
/// serving the cluster it runs in (its service account) over HTTPS on NodePort 30777.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed class ChartTests
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    private static string Repo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Containers.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Containers.sln not found above " + AppContext.BaseDirectory);
    }

    private static string CacheDirectory => Path.Combine(Environment.GetEnvironmentVariable("CONTAINERS_TEST_ROOT") ?? "/var/lib/containers-dotnet-tests", "cache");

    private static async Task<(int Code, string Output)> RunAsync(string file, string? workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }

        return (p.ExitCode, await stdout + await stderr);
    }

    /// <summary>The NativeAOT CLI: CONTAINERS_TEST_CLI_AOT when given, else published into <paramref name="dir"/>.</summary>
    private static async Task<string> AotCliAsync(string dir)
    {
        if (Environment.GetEnvironmentVariable("CONTAINERS_TEST_CLI_AOT") is { Length: > 0 } given)
        {
            return given;
        }

        var (code, output) = await RunAsync("dotnet", Repo(), "publish", "samples/Cli/Cli.csproj", "-c", "Release", "-o", dir, "-nologo", "-v", "quiet");
        Assert.True(code == 0, "dotnet publish samples/Cli failed: " + output);
        return Path.Combine(dir, "containers");
    }

    /// <summary>The image's base: Debian 12 minbase with libssl3 and ca-certificates (mmdebstrap), made once per machine.</summary>
    private static async Task<string> BaseTarballAsync()
    {
        string cache = Path.Combine(CacheDirectory, "dashboard-base-bookworm-1.tar");
        await Gate.WaitAsync();
        try
        {
            if (!File.Exists(cache))
            {
                Directory.CreateDirectory(CacheDirectory);
                var (code, output) = await RunAsync("mmdebstrap", null, "--variant=minbase", "--mode=root", "--format=tar", "--quiet", "--include=libssl3,ca-certificates",
                    "--aptopt=Acquire::Retries \"3\"", "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
                    "bookworm", cache + ".partial");
                Assert.True(code == 0, "mmdebstrap failed: " + output);
                File.Move(cache + ".partial", cache, overwrite: true);
            }
        }
        finally
        {
            Gate.Release();
        }

        return cache;
    }

    [Fact]
    public async Task The_dashboard_image_installs_from_its_chart_and_serves_the_cluster_it_runs_in_on_node_port_30777()
    {
        await using var t = DockerViewTests.Engine();
        string cli = await AotCliAsync(Path.Combine(t.Root, "cli"));
        async Task<string> Cli(params string[] args)
        {
            var (code, output) = await RunAsync(cli, null, ["--root", t.Root, .. args]);
            Assert.True(code == 0, $"containers {string.Join(' ', args)} failed ({code}): {output}");
            return output;
        }

        // the image, as samples/Dashboard/build-image.sh makes it
        await using (var tar = File.OpenRead(await BaseTarballAsync()))
        {
            await t.Engine.Images.ImportAsync(tar, "localhost/dashboard-base:bookworm", new Containers.Images.Oci.ContainerConfig { Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] });
        }

        string context = Path.Combine(t.Root, "context");
        Directory.CreateDirectory(context);
        File.Copy(Path.Combine(Path.GetDirectoryName(cli)!, "containers-cli"), Path.Combine(context, "containers")); // the full CLI: the dashboard is one of its verbs
        File.Copy(Path.Combine(Repo(), "samples", "Dashboard", "Dockerfile"), Path.Combine(context, "Dockerfile"));
        await Cli("build", "-t", "containers-dashboard:1.0.0", context);

        var cluster = await Cluster.StartAsync(new ClusterOptions
        {
            Root = t.Root,
            Engine = t.Options,
            Nodes = 1,
            Port = 0,
            PodSubnet = "10.229.0.0/16",
            ServiceCidr = "10.230.0.0/16",
        });
        try
        {
            const string password = "a-chart-password-for-the-test";
            string notes = await Cli("helm", "install", "dash", Path.Combine(Repo(), "samples", "Dashboard", "chart", "containers-dashboard"), "--set", "adminPassword=" + password);
            Assert.Contains("30777", notes, StringComparison.Ordinal);

            X509Certificate2? served = null;
            using var http = new HttpClient(new SocketsHttpHandler
            {
                UseProxy = false,
                UseCookies = true,
                SslOptions = { RemoteCertificateValidationCallback = (_, cert, _, _) => { served ??= cert is null ? null : X509CertificateLoader.LoadCertificate(cert.GetRawCertData()); return true; } },
            })
            { BaseAddress = new Uri("https://127.0.0.1:30777/"), Timeout = TimeSpan.FromSeconds(10) };
            HttpResponseMessage? status = null;
            for (var deadline = DateTime.UtcNow.AddSeconds(120); status is null; await Task.Delay(250))
            {
                try
                {
                    status = await http.GetAsync("api/auth/status");
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                    // the pod is still coming up
                }
                catch (HttpRequestException e)
                {
                    var pods = await RunAsync("kubectl", null, "--kubeconfig", cluster.KubeconfigPath, "describe", "pods");
                    var logs = await RunAsync("kubectl", null, "--kubeconfig", cluster.KubeconfigPath, "logs", "deploy/dash-containers-dashboard");
                    Assert.Fail($"the dashboard did not answer on NodePort 30777: {e.Message}\n{pods.Output}\n{logs.Output}");
                }
            }

            Assert.Equal(HttpStatusCode.OK, status.StatusCode);
            Assert.Contains("CN=dash-containers-dashboard", served!.Subject, StringComparison.Ordinal); // the chart's self-signed certificate
            var login = await http.PostAsJsonAsync("api/auth/login", new { password });
            Assert.True(login.IsSuccessStatusCode, await login.Content.ReadAsStringAsync());
            var answer = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("https://10.230.0.1/", answer.GetProperty("kubernetes").GetString()); // the kubernetes Service, from the pod
            Assert.False(answer.TryGetProperty("docker", out _)); // no engine in a pod
            var nodes = JsonDocument.Parse(await http.GetStringAsync("api/k8s/api/v1/nodes")).RootElement.GetProperty("items");
            Assert.Equal("node-1", nodes[0].GetProperty("metadata").GetProperty("name").GetString());
            var itself = JsonDocument.Parse(await http.GetStringAsync("api/k8s/apis/apps/v1/namespaces/default/deployments/dash-containers-dashboard")).RootElement;
            Assert.Equal(1, itself.GetProperty("status").GetProperty("readyReplicas").GetInt32());
            var releases = await http.GetStringAsync("api/helm/releases");
            Assert.Contains("\"name\":\"dash\"", releases, StringComparison.Ordinal);
            Assert.Contains("containers-dashboard-1.0.0", releases, StringComparison.Ordinal);

            // the page, in the browser, from the pod
            await using (var browser = await DashboardBrowser.LaunchAsync(ignoreCertificateErrors: true))
            {
                await browser.LoginAsync(new Uri("https://127.0.0.1:30777/"), password);
                await browser.GoAsync("/k8s/helm");
                await browser.WaitForContainsAsync("#helm-releases tr[data-name=dash]", "containers-dashboard-1.0.0");
                await browser.ScreenshotAsync("in-cluster-helm");
            }

            await Cli("helm", "uninstall", "dash");
        }
        finally
        {
            await Containers.Tests.Orchestration.ClusterCleanup.RemoveAsync(cluster, t);
        }
    }
}
