using Containers.Dashboard;

namespace Containers.Cli;

/// <summary><c>containers dashboard</c>: the web dashboard in the foreground, over this engine (or a Docker API endpoint) and the cluster of a kubeconfig.</summary>
internal static class DashboardCommand
{
    public static Verb Verb() =>
        new Verb("dashboard", "[OPTIONS]", FullCli.DashboardHelp)
            .Value("-p|--port", "int", "The port to serve on", "9000")
            .Value("--address", "ip", "The address to bind (serving beyond this machine needs --tls-cert)", "127.0.0.1")
            .Value("--docker-host", "string", "Serve this Docker API endpoint (unix:///PATH or tcp://HOST:PORT) instead of this engine")
            .Value("--kubeconfig", "string", "The cluster to serve (default: ROOT/kubeconfig when a cluster was brought up)")
            .Flag("--in-cluster", "Serve the cluster this runs in as a pod (its service account), and no Docker endpoint unless --docker-host")
            .Value("--tls-cert", "string", "Serve HTTPS with this certificate (PEM)")
            .Value("--tls-key", "string", "The certificate's private key (PEM)")
            .Value("--password-file", "string", "The admin password, for an unattended start (or CONTAINERS_DASHBOARD_PASSWORD)")
            .Runs(RunAsync);

    private static async Task<int> RunAsync(CliContext context, Args a)
    {
        var port = a.Get("port") is { } p ? (int.TryParse(p, out var n) && n is >= 0 and < 65536 ? n : throw new UsageException($"--port: '{p}' is not a port", a.Verb)) : 9000;
        var address = a.Get("address") is { } text ? (System.Net.IPAddress.TryParse(text, out var ip) ? ip : throw new UsageException($"--address: '{text}' is not an IP address", a.Verb)) : System.Net.IPAddress.Loopback;
        string? password = a.Get("password-file") is { } file
            ? (File.Exists(file) ? File.ReadAllText(file).TrimEnd('\r', '\n') : throw new UsageException($"--password-file {file}: no such file", a.Verb))
            : Environment.GetEnvironmentVariable("CONTAINERS_DASHBOARD_PASSWORD") is { Length: > 0 } fromEnv ? fromEnv : null;
        if (!System.Net.IPAddress.IsLoopback(address) && a.Get("tls-cert") is null)
        {
            throw new UsageException($"--address {address}: the dashboard controls this machine's containers; serve it beyond loopback only over HTTPS (--tls-cert, --tls-key)", a.Verb);
        }

        string root = context.Options.Root;
        bool inCluster = a.Has("in-cluster");
        string kubeconfig = a.Get("kubeconfig") ?? Path.Combine(root, "kubeconfig");
        var options = new DashboardOptions
        {
            DataDirectory = Path.Combine(root, "dashboard"),
            // in a pod there is no engine to serve: the cluster only, or a Docker endpoint given
            Engine = a.Get("docker-host") is null && !inCluster ? context.Engine : null,
            DockerHost = a.Get("docker-host"),
            InCluster = inCluster,
            KubeconfigPath = inCluster ? null : File.Exists(kubeconfig) ? kubeconfig : (a.Get("kubeconfig") is { } k ? throw new UsageException($"--kubeconfig {k}: no such file", a.Verb) : null),
            AdminPassword = password,
            Address = address,
            Port = port,
            TlsCertificatePath = a.Get("tls-cert"),
            TlsKeyPath = a.Get("tls-key"),
        };
        using var stop = new StopSignal();
        DashboardServer server;
        try
        {
            server = await DashboardServer.StartAsync(options).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new UsageException(e.Message, a.Verb);
        }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse } || e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"--port {port}: the address {address}:{port} is in use", a.Verb);
        }

        await using (server.ConfigureAwait(false))
        {
            await Console.Error.WriteLineAsync($"dashboard: {server.Url}").ConfigureAwait(false);
            string docker = options.DockerHost ?? (options.Engine is null ? "none" : "this engine (" + root + ")");
            string cluster = inCluster ? "; cluster: the one this pod runs in" : options.KubeconfigPath is { } kc ? "; cluster: " + kc : "";
            await Console.Error.WriteLineAsync($"  Docker: {docker}{cluster}").ConfigureAwait(false);
            if (!server.State.Initialized)
            {
                await Console.Error.WriteLineAsync("  first run: open the page to set the admin password (or start with --password-file)").ConfigureAwait(false);
            }

            await stop.WaitAsync().ConfigureAwait(false);
        }

        return 0;
    }
}
