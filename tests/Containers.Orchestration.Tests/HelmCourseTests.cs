using System.Diagnostics;
using System.Net;
using System.Text;
using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>
/// The course's Helm exercise, offline, on real containers and through the containers CLI: a chart published in an
/// HTTP chart repository served here, added with repo add, installed with
/// <c>helm upgrade --install --create-namespace -n portainer portainer REPO/portainer</c>, reached through its NodePort
/// and through kubectl port-forward, and removed with helm uninstall.
/// </summary>
public sealed class HelmCourseTests
{
    private const string ChartYaml = """
        apiVersion: v2
        name: portainer
        description: The dashboard of the course, as a chart
        version: 1.0.0
        appVersion: "1.0"
        """;

    private const string Values = """
        image:
          repository: web
          tag: v1
        service:
          type: NodePort
          port: 9000
          nodePort: 30790
        """;

    private const string Deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}
          labels:
            app.kubernetes.io/name: {{ .Chart.Name }}
            app.kubernetes.io/instance: {{ .Release.Name }}
        spec:
          replicas: 1
          selector:
            matchLabels:
              app.kubernetes.io/instance: {{ .Release.Name }}
          template:
            metadata:
              labels:
                app.kubernetes.io/instance: {{ .Release.Name }}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: dashboard
                image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
                command: ["sh", "-c", "echo '{{ .Chart.Name }} {{ .Chart.AppVersion }} in {{ .Release.Namespace }}' > /tmp/index.html && exec httpd -f -p 9000 -h /tmp"]
                ports:
                - {name: http, containerPort: 9000}
                readinessProbe:
                  tcpSocket: {port: http}
                  periodSeconds: 1
        """;

    private const string Service = """
        apiVersion: v1
        kind: Service
        metadata:
          name: {{ .Release.Name }}
        spec:
          type: {{ .Values.service.type }}
          selector:
            app.kubernetes.io/instance: {{ .Release.Name }}
          ports:
          - name: http
            port: {{ .Values.service.port }}
            targetPort: http
            {{- if eq .Values.service.type "NodePort" }}
            nodePort: {{ .Values.service.nodePort }}
            {{- end }}
        """;

    private const string Notes = """
        Get the dashboard's URL: http://127.0.0.1:{{ .Values.service.nodePort }}/
        or: kubectl port-forward -n {{ .Release.Namespace }} svc/{{ .Release.Name }} 9000:{{ .Values.service.port }}
        """;

    [Fact]
    public async Task The_course_installs_a_chart_from_a_repository_reaches_it_and_uninstalls_it()
    {
        await using var te = new TestEngine();
        await ClusterAcceptanceTests.ImportImagesAsync(te);
        var cluster = await Cluster.StartAsync(new ClusterOptions
        {
            Root = te.Root,
            Engine = te.Options with { MonitorCommand = ClusterAcceptanceTests.MonitorCommand() },
            Nodes = 1,
            Port = 0,
            PodSubnet = "10.224.0.0/16",
            ServiceCidr = "10.225.0.0/16",
        });
        try
        {
            string src = Path.Combine(te.Root, "src", "portainer");
            Directory.CreateDirectory(Path.Combine(src, "templates"));
            await File.WriteAllTextAsync(Path.Combine(src, "Chart.yaml"), ChartYaml);
            await File.WriteAllTextAsync(Path.Combine(src, "values.yaml"), Values);
            await File.WriteAllTextAsync(Path.Combine(src, "templates", "deployment.yaml"), Deployment);
            await File.WriteAllTextAsync(Path.Combine(src, "templates", "service.yaml"), Service);
            await File.WriteAllTextAsync(Path.Combine(src, "templates", "NOTES.txt"), Notes);
            string published = Path.Combine(te.Root, "published");

            // publish: package, index, serve
            var (code, output, error) = await CliAsync(te, "helm", "package", src, "-d", published);
            Assert.True(code == 0, error);
            Assert.Equal($"Successfully packaged chart and saved it to: {published}/portainer-1.0.0.tgz", output.Trim());
            using var server = new StaticFileServer(published);
            string url = $"http://127.0.0.1:{server.Port}";
            Assert.Equal(0, (await CliAsync(te, "helm", "repo", "index", published, "--url", url)).Code);

            (code, output, error) = await CliAsync(te, "helm", "repo", "add", "portainer", url);
            Assert.True(code == 0, error);
            Assert.Equal("\"portainer\" has been added to your repositories", output.Trim());
            (code, output, _) = await CliAsync(te, "helm", "repo", "update");
            Assert.Contains("...Successfully got an update from the \"portainer\" chart repository", output, StringComparison.Ordinal);

            (code, output, error) = await CliAsync(te, "helm", "upgrade", "--install", "--create-namespace", "-n", "portainer", "portainer", "portainer/portainer");
            Assert.True(code == 0, error + output);
            Assert.StartsWith("Release \"portainer\" does not exist. Installing it now.\nNAME: portainer\n", output, StringComparison.Ordinal);
            Assert.Contains("NAMESPACE: portainer\nSTATUS: deployed\nREVISION: 1\n", output, StringComparison.Ordinal);
            Assert.Contains("NOTES:\nGet the dashboard's URL: http://127.0.0.1:30790/", output, StringComparison.Ordinal);

            var k = new Kubectl(cluster.KubeconfigPath);
            await k.WaitForAsync("1", TimeSpan.FromSeconds(60), "get", "deploy", "portainer", "-n", "portainer", "-o", "jsonpath={.status.readyReplicas}");
            using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
            Assert.Equal("portainer 1.0 in portainer", (await http.GetStringAsync("http://127.0.0.1:30790/")).Trim());

            int local;
            using (var free = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
            {
                free.Start();
                local = ((IPEndPoint)free.LocalEndpoint).Port;
            }

            var said = new StringBuilder();
            using (var forward = k.Start(said, "port-forward", "-n", "portainer", "svc/portainer", $"{local}:9000"))
            {
                try
                {
                    string? body = null;
                    for (int i = 0; i < 100 && body is null; i++)
                    {
                        try
                        {
                            body = await http.GetStringAsync($"http://127.0.0.1:{local}/");
                        }
                        catch (HttpRequestException)
                        {
                            await Task.Delay(100);
                        }
                    }

                    Assert.Equal("portainer 1.0 in portainer", body?.Trim());
                }
                finally
                {
                    forward.Kill();
                    await forward.WaitForExitAsync();
                }
            }

            (code, output, _) = await CliAsync(te, "helm", "list", "-n", "portainer");
            Assert.Matches(@"^NAME\s+NAMESPACE\s+REVISION\s+UPDATED\s+STATUS\s+CHART\s+APP VERSION\nportainer\s+portainer\s+1\s+.+\s+deployed\s+portainer-1\.0\.0\s+1\.0\n$", output);

            (code, output, error) = await CliAsync(te, "helm", "uninstall", "-n", "portainer", "portainer");
            Assert.True(code == 0, error);
            Assert.Equal("release \"portainer\" uninstalled", output.Trim());
            Assert.Equal("", (await k.RunAsync("get", "deploy,svc,secrets", "-n", "portainer", "-o", "name")).Trim());
            using var probe = new System.Net.Sockets.TcpClient();
            await UntilAsync(async () =>
            {
                try
                {
                    using var c = new System.Net.Sockets.TcpClient();
                    await c.ConnectAsync("127.0.0.1", 30790);
                    return false;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    return true;
                }
            }, "the node port to close");
        }
        finally
        {
            await ClusterAcceptanceTests.RemoveAsync(cluster, te);
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !await condition(); await Task.Delay(200))
        {
            Assert.True(DateTime.UtcNow < deadline, "waited for " + what);
        }
    }

    /// <summary>Runs the containers CLI over the test's root, with Helm's repository files under it.</summary>
    private static async Task<(int Code, string Stdout, string Stderr)> CliAsync(TestEngine te, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "containers-cli")) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["HELM_REPOSITORY_CONFIG"] = Path.Combine(te.Root, "helm", "repositories.yaml");
        psi.Environment["HELM_REPOSITORY_CACHE"] = Path.Combine(te.Root, "helm", "cache");
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(te.Root);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }
}
