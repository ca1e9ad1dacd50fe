using System.Text;
using System.Formats.Tar;
using System.Net.Http;
using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary>
/// The course's story on real containers, through the real kubectl: a ConfigMap and a Secret feeding a Deployment
/// (with a sidecar sharing its localhost) behind a NodePort Service, cluster DNS, scaling 2 to 5, a rolling update
/// under load with zero failed requests, undo, a killed container restarted, an unpullable image backing off, and
/// nothing left behind.
/// </summary>
public sealed class ClusterAcceptanceTests
{
    private const string App = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: web-config
        data:
          greeting: hello
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: web-secret
        type: Opaque
        data:
          user: bW9uZ291c2Vy
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels:
            app: web
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: web
                image: web:v1
                command: ["sh", "-c", "echo \"$GREETING $USER_NAME\" > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"]
                ports:
                - containerPort: 8080
                  name: http
                env:
                - name: GREETING
                  valueFrom:
                    configMapKeyRef:
                      name: web-config
                      key: greeting
                - name: USER_NAME
                  valueFrom:
                    secretKeyRef:
                      name: web-secret
                      key: user
                readinessProbe:
                  httpGet:
                    path: /
                    port: http
                  periodSeconds: 1
                lifecycle:
                  preStop:
                    sleep:
                      seconds: 1
              - name: sidecar
                image: web:v1
                command: ["sh", "-c", "echo loopback only > /tmp/index.html; sleep 1; wget -qO- http://127.0.0.1:8080/; exec httpd -f -p 127.0.0.1:8082 -h /tmp"]
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          type: NodePort
          selector:
            app: web
          ports:
          - port: 80
            targetPort: http
            nodePort: 30100
        """;

    [Fact]
    public async Task The_course_story_on_real_containers_through_kubectl()
    {
        await using var te = new TestEngine();
        await ImportImagesAsync(te);
        var options = new ClusterOptions
        {
            Root = te.Root,
            // pods run detached under containers-monitor; here it runs with this test's runtime configuration, whose
            // ASP.NET Core framework provides the logging abstractions it loads
            Engine = te.Options with { MonitorCommand = MonitorCommand() },
            Nodes = 2,
            Port = 0,
            PodSubnet = "10.216.0.0/16",
            ServiceCidr = "10.217.0.0/16",
        };
        var cluster = await Cluster.StartAsync(options);
        try
        {
            var k = new Kubectl(cluster.KubeconfigPath);
            string dir = Path.Combine(te.Root, "manifests");
            Directory.CreateDirectory(dir);
            await File.WriteAllTextAsync(Path.Combine(dir, "app.yaml"), App);
            await k.RunAsync("apply", "-f", dir);
            await k.WaitForAsync("2", TimeSpan.FromSeconds(60), "get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}");

            using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero, UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
            Assert.Equal("hello mongouser", (await http.GetStringAsync("http://127.0.0.1:30100/")).Trim());

            // a UDP Service (NodePort, no selector, its Endpoints written by hand) relays datagrams both ways: to an echo
            // server on the host's pod-network address, from the node port and from the cluster IP
            var bridgeAddress = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address).First(a => a.ToString().StartsWith("10.216.", StringComparison.Ordinal));
            using var echo = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(bridgeAddress, 0));
            using var stopEcho = new CancellationTokenSource();
            var echoing = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        var got = await echo.ReceiveAsync(stopEcho.Token);
                        byte[] answer = [.. "got-"u8, .. got.Buffer];
                        await echo.SendAsync(answer.AsMemory(), got.RemoteEndPoint, stopEcho.Token);
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });
            int echoPort = ((System.Net.IPEndPoint)echo.Client.LocalEndPoint!).Port;
            await File.WriteAllTextAsync(Path.Combine(te.Root, "udp.yaml"), $"""
                apiVersion: v1
                kind: Service
                metadata:
                  name: udp-echo
                spec:
                  type: NodePort
                  ports:
                  - name: echo
                    protocol: UDP
                    port: 9999
                    nodePort: 30199
                ---
                apiVersion: v1
                kind: Endpoints
                metadata:
                  name: udp-echo
                subsets:
                - addresses:
                  - ip: {bridgeAddress}
                  ports:
                  - name: echo
                    port: {echoPort}
                    protocol: UDP
                """);
            await k.RunAsync("apply", "-f", Path.Combine(te.Root, "udp.yaml"));
            string udpClusterIp = (await k.RunAsync("get", "svc", "udp-echo", "-o", "jsonpath={.spec.clusterIP}")).Trim();
            foreach (var (target, text) in new[] { (new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 30199), "via-node-port"), (new System.Net.IPEndPoint(System.Net.IPAddress.Parse(udpClusterIp), 9999), "via-cluster-ip") })
            {
                using var udp = new System.Net.Sockets.UdpClient();
                string? reply = null;
                for (int i = 0; i < 50 && reply is null; i++)
                {
                    await udp.SendAsync(Encoding.UTF8.GetBytes(text).AsMemory(), target);
                    using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
                    try
                    {
                        reply = Encoding.UTF8.GetString((await udp.ReceiveAsync(wait.Token)).Buffer);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }

                Assert.Equal("got-" + text, reply);
            }

            await stopEcho.CancelAsync();
            await echoing;
            await k.RunAsync("delete", "svc", "udp-echo");

            // the sidecar reached the web container on the pod's localhost
            string pod = (await k.RunAsync("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")).Trim();
            await WaitForLogAsync(k, "hello mongouser", pod, "-c", "sidecar");

            // kubectl exec (WebSocket, v5.channel.k8s.io): stdout and stderr apart, the exit code, stdin to its end
            var (code, execOut, execErr) = await k.TryAsync("exec", pod, "-c", "web", "--", "sh", "-c", "echo out; echo err >&2; hostname; exit 3");
            Assert.True(code == 3, $"kubectl exec exited {code}: {execOut} {execErr}");
            Assert.Equal(["out", pod], execOut.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("err", execErr, StringComparison.Ordinal);
            var (catCode, catOut, catErr) = await k.TryWithInputAsync("line one\nline two\n", "exec", "-i", pod, "-c", "web", "--", "sh", "-c", "cat; echo done");
            Assert.True(catCode == 0, $"kubectl exec -i exited {catCode}: {catErr}");
            Assert.Equal("line one\nline two\ndone\n", catOut);
            // exec -t: the client's terminal size (resize channel 4, as kubectl sends it) is the process's terminal size
            using (var ws = new System.Net.WebSockets.ClientWebSocket())
            {
                ws.Options.AddSubProtocol("v5.channel.k8s.io");
                ws.Options.ClientCertificates.Add(cluster.Pki!.Admin);
                ws.Options.RemoteCertificateValidationCallback = cluster.Pki.ServerValidation;
                string script = Uri.EscapeDataString("sleep 1; stty size");
                await ws.ConnectAsync(new Uri($"{cluster.Url.Replace("https://", "wss://", StringComparison.Ordinal)}/api/v1/namespaces/default/pods/{pod}/exec?container=web&command=sh&command=-c&command={script}&stdout=true&tty=true"), CancellationToken.None);
                await ws.SendAsync((byte[])[4, .. "{\"Width\":100,\"Height\":40}"u8], System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
                var terminal = new StringBuilder();
                var buffer = new byte[4096];
                while (true)
                {
                    var r = await ws.ReceiveAsync(buffer, CancellationToken.None);
                    if (r.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                    {
                        break;
                    }

                    if (r.Count > 1 && buffer[0] == 1)
                    {
                        terminal.Append(Encoding.UTF8.GetString(buffer, 1, r.Count - 1));
                    }
                }

                Assert.Equal("40 100", terminal.ToString().Trim());
            }

            string local = Path.Combine(te.Root, "copied.txt");
            await File.WriteAllTextAsync(local, "copied through exec and tar\n");
            await k.RunAsync("cp", local, $"{pod}:/tmp/copied.txt", "-c", "web");
            Assert.Equal("copied through exec and tar\n", await k.RunAsync("exec", pod, "-c", "web", "--", "cat", "/tmp/copied.txt"));
            // kubectl port-forward (SPDY inside a WebSocket): a local port reaches the pod's 8080, a connection at a time
            int forwardPort, loopbackPort;
            using (var free = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
            using (var free2 = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
            {
                free.Start();
                free2.Start();
                forwardPort = ((System.Net.IPEndPoint)free.LocalEndpoint).Port;
                loopbackPort = ((System.Net.IPEndPoint)free2.LocalEndpoint).Port;
            }

            var forwardOutput = new StringBuilder();
            using (var forward = k.Start(forwardOutput, "port-forward", $"pod/{pod}", $"{forwardPort}:8080", $"{loopbackPort}:8082"))
            {
                try
                {
                    string? forwarded = null;
                    for (int i = 0; i < 100 && forwarded is null; i++)
                    {
                        try
                        {
                            forwarded = await http.GetStringAsync($"http://127.0.0.1:{forwardPort}/");
                        }
                        catch (HttpRequestException)
                        {
                            await Task.Delay(100);
                        }
                    }

                    string said;
                    lock (forwardOutput)
                    {
                        said = forwardOutput.ToString();
                    }

                    Assert.True(forwarded?.Trim() == "hello mongouser", $"port-forward gave '{forwarded}'; kubectl said: {said}");
                    Assert.Equal("hello mongouser", (await http.GetStringAsync($"http://127.0.0.1:{forwardPort}/")).Trim()); // a second connection

                    // the sidecar's server listens on the pod's 127.0.0.1 only: forwarded ports reach the pod's own localhost
                    Assert.Equal("loopback only", (await http.GetStringAsync($"http://127.0.0.1:{loopbackPort}/")).Trim());
                    string podAddress = (await k.RunAsync("get", "pod", pod, "-o", "jsonpath={.status.podIP}")).Trim();
                    using var direct = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                    await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(async () => await direct.ConnectAsync(System.Net.IPAddress.Parse(podAddress), 8082));
                }
                finally
                {
                    forward.Kill();
                    await forward.WaitForExitAsync();
                }
            }

            // a port nothing listens on: the pod's refusal comes back on the error stream, and kubectl says so
            var refusedOutput = new StringBuilder();
            using (var refused = k.Start(refusedOutput, "port-forward", $"pod/{pod}", $"{forwardPort}:8081"))
            {
                try
                {
                    string Said()
                    {
                        lock (refusedOutput)
                        {
                            return refusedOutput.ToString();
                        }
                    }

                    for (int i = 0; i < 100 && !Said().Contains("error forwarding port 8081", StringComparison.Ordinal); i++)
                    {
                        try
                        {
                            await http.GetStringAsync($"http://127.0.0.1:{forwardPort}/");
                        }
                        catch (HttpRequestException)
                        {
                        }

                        await Task.Delay(100);
                    }

                    Assert.Contains("error forwarding port 8081", Said(), StringComparison.Ordinal);
                }
                finally
                {
                    if (!refused.HasExited)
                    {
                        refused.Kill();
                    }

                    await refused.WaitForExitAsync();
                }
            }

            // kubectl run -i: a pod whose container takes stdin, attached to (pods/attach) with stdin to its end; kubectl
            // then watches the pod until it has finished, and ends by itself with the container's exit code
            var (runExit, runOut, runErr) = await k.TryWithInputAsync("hello\n", "run", "reader", "-i", "--restart=Never", "--image=web:v1", "--", "sh", "-c", "read line; echo got $line");
            Assert.True(runExit == 0, $"kubectl run -i exited {runExit}: {runErr}{runOut}");
            Assert.Contains("got hello", runOut, StringComparison.Ordinal);
            Assert.Equal("Succeeded", (await k.RunAsync("get", "pod", "reader", "-o", "jsonpath={.status.phase}")).Trim());

            await k.RunAsync("delete", "pod", "reader", "--wait=false");

            // attach -t: a container with a terminal gets the client's size (resize channel 4) before its input
            string sizedYaml = Path.Combine(te.Root, "sized.yaml");
            await File.WriteAllTextAsync(sizedYaml, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sized\nspec:\n  restartPolicy: Never\n  containers:\n  - name: sized\n    image: web:v1\n    stdin: true\n    tty: true\n    command: [\"sh\", \"-c\", \"read x; stty size\"]\n");
            await k.RunAsync("apply", "-f", sizedYaml);
            await k.WaitForAsync("Running", TimeSpan.FromSeconds(60), "get", "pod", "sized", "-o", "jsonpath={.status.phase}");
            using (var ws = new System.Net.WebSockets.ClientWebSocket())
            {
                ws.Options.AddSubProtocol("v5.channel.k8s.io");
                ws.Options.ClientCertificates.Add(cluster.Pki!.Admin);
                ws.Options.RemoteCertificateValidationCallback = cluster.Pki.ServerValidation;
                await ws.ConnectAsync(new Uri($"{cluster.Url.Replace("https://", "wss://", StringComparison.Ordinal)}/api/v1/namespaces/default/pods/sized/attach?container=sized&stdin=true&stdout=true&tty=true"), CancellationToken.None);
                await ws.SendAsync((byte[])[4, .. "{\"Width\":90,\"Height\":30}"u8], System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
                await ws.SendAsync((byte[])[0, .. "go\n"u8], System.Net.WebSockets.WebSocketMessageType.Binary, true, CancellationToken.None);
                var attachedOutput = new StringBuilder();
                var buffer = new byte[4096];
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                while (!attachedOutput.ToString().Contains("30 90", StringComparison.Ordinal))
                {
                    var r = await ws.ReceiveAsync(buffer, limit.Token);
                    if (r.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                    {
                        break;
                    }

                    if (r.Count > 1 && buffer[0] == 1)
                    {
                        attachedOutput.Append(Encoding.UTF8.GetString(buffer, 1, r.Count - 1));
                    }
                }

                Assert.Contains("30 90", attachedOutput.ToString(), StringComparison.Ordinal);
            }

            await k.RunAsync("delete", "pod", "sized", "--wait=false");

            var (missingCode, _, missingErr) = await k.TryAsync("exec", pod, "-c", "nope", "--", "true");
            Assert.NotEqual(0, missingCode);
            Assert.Contains("container nope is not valid", missingErr, StringComparison.Ordinal);

            // cluster DNS and the service's virtual IP from inside a pod
            await k.RunAsync("run", "client", "--image=web:v1", "--restart=Never", "--command", "--", "sh", "-c", "nslookup web.default.svc.cluster.local; wget -qO- http://web/");
            await k.WaitForAsync("Succeeded", TimeSpan.FromSeconds(60), "get", "pod", "client", "-o", "jsonpath={.status.phase}");
            var client = await k.RunAsync("logs", "client");
            Assert.Contains("10.217.", client, StringComparison.Ordinal);
            Assert.Contains("hello mongouser", client, StringComparison.Ordinal);

            await k.RunAsync("scale", "deployment", "web", "--replicas=5");
            await k.WaitForAsync("5", TimeSpan.FromSeconds(60), "get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}");

            // a rolling update while a client hammers the NodePort (a new connection per request)
            int ok = 0, failed = 0;
            var errors = new List<string>();
            using var stopHammer = new CancellationTokenSource();
            var hammer = Task.Run(async () =>
            {
                while (!stopHammer.IsCancellationRequested)
                {
                    try
                    {
                        var body = await http.GetStringAsync("http://127.0.0.1:30100/");
                        if (body.Trim() == "hello mongouser")
                        {
                            ok++;
                        }
                        else
                        {
                            failed++;
                            errors.Add("body: " + body);
                        }
                    }
                    catch (HttpRequestException e)
                    {
                        failed++;
                        errors.Add(e.Message);
                    }
                    catch (TaskCanceledException e) when (!stopHammer.IsCancellationRequested)
                    {
                        failed++;
                        errors.Add(e.Message);
                    }
                }
            });
            await k.RunAsync("set", "image", "deployment/web", "web=web:v2", "sidecar=web:v2");
            Assert.Contains("successfully rolled out", await k.RunAsync("rollout", "status", "deployment/web", "--timeout=120s"), StringComparison.Ordinal);
            await Task.Delay(1000);
            await stopHammer.CancelAsync();
            await hammer;
            Assert.True(failed == 0, $"{failed} of {ok + failed} requests failed during the rolling update: {string.Join("; ", errors.Take(5))}");
            Assert.True(ok > 20, $"only {ok} requests went through");
            var rs = await k.RunAsync("get", "rs", "-l", "app=web", "--no-headers");
            Assert.Equal(2, rs.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            Assert.Equal("web:v2", (await k.RunAsync("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")).Trim());
            Assert.Contains("web:v2", await k.RunAsync("get", "rs", "-l", "app=web", "-o", "wide"), StringComparison.Ordinal);

            await k.RunAsync("rollout", "undo", "deployment/web");
            Assert.Contains("successfully rolled out", await k.RunAsync("rollout", "status", "deployment/web", "--timeout=120s"), StringComparison.Ordinal);
            Assert.Equal("web:v1", (await k.RunAsync("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")).Trim());

            // a killed container comes back (restartCount 1, lastState terminated by SIGKILL)
            await k.WaitForAsync("5", TimeSpan.FromSeconds(60), "get", "pods", "-l", "app=web", "--field-selector=status.phase=Running", "-o", "jsonpath={.items[*].metadata.name}", "--no-headers", "-o", "go-template={{len .items}}");
            pod = (await k.RunAsync("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}")).Trim();
            Assert.StartsWith("sha256:", (await k.RunAsync("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0].imageID}")).Trim(), StringComparison.Ordinal); // the image's id, as the runtime reports it
            var victim = te.Engine.List().First(s => s.Spec.Labels.GetValueOrDefault("io.kubernetes.pod.name") == pod && s.Spec.Labels.GetValueOrDefault("io.kubernetes.container.name") == "web");
            string podIP = (await k.RunAsync("get", "pod", pod, "-o", "jsonpath={.status.podIP}")).Trim();
            await te.Engine.Get(victim.Id).KillAsync("SIGKILL");
            await k.WaitForAsync("1", TimeSpan.FromSeconds(60), "get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[?(@.name==\"web\")].restartCount}");
            Assert.Equal("137", (await k.RunAsync("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[?(@.name==\"web\")].lastState.terminated.exitCode}")).Trim());

            // the pod's sandbox kept its namespaces: same IP, and the sidecar reaches the restarted web on localhost
            Assert.Equal(podIP, (await k.RunAsync("get", "pod", pod, "-o", "jsonpath={.status.podIP}")).Trim());
            await k.WaitForAsync("hello mongouser", TimeSpan.FromSeconds(30), "exec", pod, "-c", "sidecar", "--", "wget", "-qO-", "http://127.0.0.1:8080/");

            // an image that cannot be pulled (a closed port on loopback): ErrImagePull, then ImagePullBackOff, no crash
            await k.RunAsync("run", "nopull", "--image=127.0.0.1:9/nope:v1");
            await k.WaitForAsync("ImagePullBackOff", TimeSpan.FromSeconds(60), "get", "pod", "nopull", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}");
        }
        finally
        {
            await RemoveAsync(cluster, te);
        }

        // the service proxy let go of its ports and addresses
        using var probe = new System.Net.Sockets.TcpClient();
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => probe.ConnectAsync("127.0.0.1", 30100));
    }

    /// <summary>Stops <paramref name="cluster"/> and removes its pods' containers, then its pod network (the test engine then checks that nothing is left).</summary>
    internal static Task RemoveAsync(Cluster cluster, TestEngine te) => ClusterCleanup.RemoveAsync(cluster, te);

    internal static System.Collections.Immutable.ImmutableArray<string> MonitorCommand()
    {
        string dir = AppContext.BaseDirectory;
        string self = Path.Combine(dir, "Containers.Orchestration.Tests");
        return [Path.Combine(Path.GetDirectoryName(Environment.ProcessPath!)!, "dotnet") is var d && File.Exists(d) ? d : "dotnet", "exec", "--runtimeconfig", self + ".runtimeconfig.json", "--depsfile", self + ".deps.json", Path.Combine(dir, "containers-monitor.dll")];
    }

    private static async Task WaitForLogAsync(Kubectl k, string expected, params string[] args)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var (exit, output, error) = await k.TryAsync(["logs", .. args]);
            last = output + error;
            if (exit == 0 && output.Contains(expected, StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(300);
        }

        Assert.Fail($"kubectl logs {string.Join(' ', args)} never showed '{expected}': {last}");
    }

    internal static async Task ImportImagesAsync(TestEngine te)
    {
        var tar = Path.Combine(te.Root, "rootfs.tar");
        await TarFile.CreateFromDirectoryAsync(TestRootfs.Path, tar, includeBaseDirectory: false);
        await using (var stream = File.OpenRead(tar))
        {
            await te.Engine.Images.ImportAsync(stream, "web:v1", new Containers.Images.Oci.ContainerConfig { Env = ["PATH=/bin"], Cmd = ["sh"] });
        }

        te.Engine.Images.Tag("web:v1", "web:v2");
        File.Delete(tar);
    }
}
