using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Containers.Tests.Orchestration;

/// <summary>
/// A real etcd (Debian's etcd-server) for a test: one member on 127.0.0.1 with ports of its own and its data in
/// /dev/shm (fsync is then cheap), ended by PID and removed at dispose. <see cref="RestartAsync"/> kills it and starts
/// it again on the same data and ports.
/// </summary>
public sealed class EtcdServer : IAsyncDisposable
{
    private readonly string data;
    private readonly int peerPort;
    private Process? process;

    private EtcdServer(string data, int clientPort, int peerPort)
    {
        this.data = data;
        ClientPort = clientPort;
        this.peerPort = peerPort;
    }

    /// <summary>The client port on 127.0.0.1.</summary>
    public int ClientPort { get; }

    /// <summary>The client URL.</summary>
    public string Url => $"http://127.0.0.1:{ClientPort}";

    /// <summary>The member's PID.</summary>
    public int Pid => process!.Id;

    /// <summary>Starts one and waits until it answers.</summary>
    public static async Task<EtcdServer> StartAsync()
    {
        var server = new EtcdServer(Path.Combine("/dev/shm", "containers-tests-etcd-" + Guid.NewGuid().ToString("N")[..8]), FreePort(), FreePort());
        await server.RunAsync(fresh: true);
        return server;
    }

    /// <summary>SIGKILLs the member, then starts it again on its data (its history and revision kept).</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        Kill();
        await Task.Delay(down);
        await RunAsync(fresh: false);
    }

    /// <summary>SIGKILLs the member.</summary>
    public void Kill()
    {
        if (process is { HasExited: false })
        {
            process.Kill();
            process.WaitForExit();
        }

        process?.Dispose();
        process = null;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Kill();
        if (Directory.Exists(data))
        {
            Directory.Delete(data, recursive: true);
        }

        return ValueTask.CompletedTask;
    }

    private async Task RunAsync(bool fresh)
    {
        var info = new ProcessStartInfo("etcd")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var arg in new[]
        {
            "--name", "test", "--data-dir", data,
            "--listen-client-urls", Url, "--advertise-client-urls", Url,
            "--listen-peer-urls", $"http://127.0.0.1:{peerPort}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peerPort}",
            "--initial-cluster", $"test=http://127.0.0.1:{peerPort}", "--initial-cluster-state", fresh ? "new" : "existing",
            "--log-level", "error",
        })
        {
            info.ArgumentList.Add(arg);
        }

        process = Process.Start(info) ?? throw new InvalidOperationException("etcd did not start");
        var log = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        using var http = new HttpClient();
        var until = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < until)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"etcd exited ({process.ExitCode}): {log}");
            }

            try
            {
                if ((await http.GetStringAsync($"{Url}/health")).Contains("\"true\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not yet
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"etcd did not answer on {Url}: {log}");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
