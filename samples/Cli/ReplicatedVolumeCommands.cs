using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Containers.Runtime;
using Containers.Volumes;
using Containers.Volumes.Backups;
using Containers.Volumes.Replicas;

namespace Containers.Cli;

/// <summary>
/// The full CLI's part of replicated volumes on one machine: <c>volume serve NAME</c> (the detached server a container
/// start runs: replica servers over the volume's replica directories on 127.0.0.1, the engine, the mount; it answers
/// snapshot requests on ROOT/volumes/NAME/serve.sock and leaves once no container that uses the volume runs), and
/// <c>volume snapshot|snapshots|restore|backup</c>.
/// </summary>
internal static class ReplicatedVolumeCommands
{
    private static readonly TimeSpan IdleChecks = TimeSpan.FromSeconds(2);

    /// <summary>The replica servers and the engine of a volume opened by this process.</summary>
    private sealed class Opened : IAsyncDisposable
    {
        public required List<ReplicaServer> Servers { get; init; }
        public required ReplicatedVolume Engine { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Engine.DisposeAsync().ConfigureAwait(false);
            foreach (var s in Servers)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static VolumeInfo Replicated(ContainerEngine engine, string name)
    {
        var v = engine.Volumes.Get(name);
        return v.Driver == "replicated" ? v : throw new UsageException($"volume {name} has driver {v.Driver}: snapshots and backups are for volumes of driver replicated (volume create --driver replicated)");
    }

    private static async Task<Opened> OpenAsync(VolumeInfo v, CancellationToken ct)
    {
        var settings = ReplicatedVolumeSettings.Of(v);
        var dir = Path.GetDirectoryName(v.Mountpoint)!;
        var servers = new List<ReplicaServer>();
        try
        {
            foreach (var d in settings.ReplicaDirectories)
            {
                servers.Add(ReplicaServer.Start(d, new IPEndPoint(IPAddress.Loopback, 0)));
            }

            // each open takes the next epoch: an engine left by a killed server is fenced
            var epochFile = Path.Combine(dir, "epoch");
            var epoch = (File.Exists(epochFile) ? long.Parse(File.ReadAllText(epochFile).Trim(), CultureInfo.InvariantCulture) : 0) + 1;
            File.WriteAllText(epochFile, epoch.ToString(CultureInfo.InvariantCulture));
            // the servers run in this process: the engine reads and writes their replicas in process (other processes, as
            // `volume snapshot` beside a running container, reach them over TCP at replicas.addr)
            var local = servers.ToDictionary(s => $"127.0.0.1:{s.EndPoint.Port}", s => s, StringComparer.Ordinal);
            var engine = await ReplicatedVolume.OpenAsync(v.Name, settings.Size, [.. servers.Select(s => $"127.0.0.1:{s.EndPoint.Port}")], new ReplicatedVolumeOptions { Epoch = epoch, LocalServers = local }, ct).ConfigureAwait(false);
            File.WriteAllLines(Path.Combine(dir, "replicas.addr"), servers.Select(s => $"127.0.0.1:{s.EndPoint.Port}"));
            return new Opened { Servers = servers, Engine = engine };
        }
        catch
        {
            foreach (var s in servers)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary><c>volume serve NAME</c>: attaches the volume and keeps it while a container that uses it runs.</summary>
    public static async Task<int> ServeAsync(ContainerEngine engine, Args a)
    {
        var v = Replicated(engine, a.Positionals.Single());
        var dir = Path.GetDirectoryName(v.Mountpoint)!;
        using var lockFile = new FileStream(Path.Combine(dir, "serve.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        try
        {
            lockFile.Lock(0, 0);
        }
        catch (IOException)
        {
            Console.WriteLine("ready"); // another server has it
            return 0;
        }

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        await using var opened = await OpenAsync(v, stop.Token).ConfigureAwait(false);
        var settings = ReplicatedVolumeSettings.Of(v);
        var attachment = await VolumeAttachment.AttachAsync(opened.Engine, Path.Combine(dir, "run"), v.Mountpoint, settings.FsType, null, stop.Token).ConfigureAwait(false);
        var sock = Path.Combine(dir, "serve.sock");
        File.Delete(sock);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(sock));
        listener.Listen(8);
        await File.WriteAllTextAsync(Path.Combine(dir, "serve.pid"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), stop.Token).ConfigureAwait(false);
        Console.WriteLine("ready");
        Console.Out.Flush();
        await using (var log = new StreamWriter(Path.Combine(dir, "serve.log"), append: true) { AutoFlush = true })
        {
            Console.SetOut(log);
            Console.SetError(log);
            bool Used() => engine.List(all: true).Any(c => c.Spec.Mounts.Any(m => m.Type == MountType.Volume && m.Source == v.Name) && c.Status is ContainerStatus.Running or ContainerStatus.Created or ContainerStatus.Restarting);
            var requests = ServeRequestsAsync(listener, opened.Engine, () => !Used(), stop);
            try
            {
                // leaves once no container that mounts the volume is running or about to (three idle checks in a row)
                for (var idle = 0; idle < 3 && !stop.IsCancellationRequested;)
                {
                    await Task.Delay(IdleChecks, stop.Token).ConfigureAwait(false);
                    idle = Used() ? 0 : idle + 1;
                }
            }
            catch (OperationCanceledException)
            {
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} detaching"));
            await stop.CancelAsync().ConfigureAwait(false);
            listener.Close();
            await requests.ConfigureAwait(false);
            try
            {
                await attachment.DisposeAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine($"volume {v.Name}: {e.Message}; detaching lazily");
                _ = VolumeUnmount(v.Mountpoint);
                await attachment.DisposeAsync().ConfigureAwait(false);
            }

            File.Delete(sock);
            File.Delete(Path.Combine(dir, "serve.pid"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} volume {v.Name} detached"));
        }

        return 0;
    }

    private static int VolumeUnmount(string path) => System.Diagnostics.Process.Start("umount", ["-l", path])!.WaitForExitAsync().Wait(5000) ? 0 : 1;

    // one request per connection, one line: "snapshot NAME", "snapshots", "leave" (when no container uses the volume);
    // the answer's lines end with "ok" or "error: ..."
    private static async Task ServeRequestsAsync(Socket listener, ReplicatedVolume volume, Func<bool> idle, CancellationTokenSource stop)
    {
        var ct = stop.Token;
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            using (client)
            await using (var stream = new NetworkStream(client))
            {
                using var reader = new StreamReader(stream);
                await using var writer = new StreamWriter(stream) { AutoFlush = true };
                var line = (await reader.ReadLineAsync(ct).ConfigureAwait(false) ?? "").Split(' ', 2);
                try
                {
                    switch (line[0])
                    {
                        case "snapshot":
                            var held = await volume.SnapshotAsync(line[1], ct).ConfigureAwait(false);
                            await writer.WriteLineAsync($"snapshot {line[1]} taken (writes held {held.TotalMilliseconds:0.0} ms)").ConfigureAwait(false);
                            break;
                        case "snapshots":
                            foreach (var s in await volume.SnapshotsAsync(ct).ConfigureAwait(false))
                            {
                                await writer.WriteLineAsync(SnapshotLine(s)).ConfigureAwait(false);
                            }

                            break;
                        case "leave":
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{DateTime.UtcNow:HH:mm:ss.fff} leave asked; in use: {!idle()}"));
                            if (!idle())
                            {
                                throw new InvalidOperationException($"volume {volume.Name} is in use: stop the containers that use it first (a mounted filesystem would see its blocks change under it)");
                            }

                            await writer.WriteLineAsync("ok").ConfigureAwait(false);
                            await stop.CancelAsync().ConfigureAwait(false);
                            return;
                        default:
                            throw new ArgumentException($"unknown request '{line[0]}'");
                    }

                    await writer.WriteLineAsync("ok").ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    await writer.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
                }
            }
        }
    }

    private static string SnapshotLine(SnapshotInfo s) => $"{s.Name,-30} {s.Created.ToLocalTime():yyyy-MM-dd HH:mm:ss}  {s.Bytes >> 10} KiB";

    // a request to the running server; null when none runs
    private static async Task<List<string>?> AskAsync(string dir, string request)
    {
        var sock = Path.Combine(dir, "serve.sock");
        if (!ReplicatedVolumeDriver.ServeAlive(dir) || !File.Exists(sock))
        {
            return null;
        }

        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await s.ConnectAsync(new UnixDomainSocketEndPoint(sock)).ConfigureAwait(false);
        await using var stream = new NetworkStream(s);
        await using var writer = new StreamWriter(stream) { AutoFlush = true };
        using var reader = new StreamReader(stream);
        await writer.WriteLineAsync(request).ConfigureAwait(false);
        var lines = new List<string>();
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line == "ok")
            {
                return lines;
            }

            if (line.StartsWith("error: ", StringComparison.Ordinal))
            {
                throw new ContainerException(line["error: ".Length..]);
            }

            lines.Add(line);
        }

        throw new ContainerException("the volume's server closed the connection");
    }

    /// <summary><c>volume snapshot VOLUME SNAPSHOT</c>, <c>volume snapshots VOLUME</c>, <c>volume restore VOLUME SNAPSHOT</c>, <c>volume backup VOLUME TARGET</c>, <c>volume restore VOLUME --from TARGET BACKUP</c>.</summary>
    public static async Task<int> RunAsync(ContainerEngine engine, Args a)
    {
        var v = Replicated(engine, a.Positionals.FirstOrDefault() ?? throw new UsageException("a volume name is required"));
        var dir = Path.GetDirectoryName(v.Mountpoint)!;
        switch (a.Name)
        {
            case "snapshot":
            {
                var name = a.Positionals.ElementAtOrDefault(1) ?? $"snap-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}";
                if (await AskAsync(dir, "snapshot " + name).ConfigureAwait(false) is { } answer)
                {
                    answer.ForEach(Console.WriteLine);
                    return 0;
                }

                await using var opened = await OpenAsync(v, default).ConfigureAwait(false);
                var held = await opened.Engine.SnapshotAsync(name).ConfigureAwait(false);
                Console.WriteLine($"snapshot {name} taken (writes held {held.TotalMilliseconds:0.0} ms)");
                return 0;
            }

            case "snapshots":
            {
                if (await AskAsync(dir, "snapshots").ConfigureAwait(false) is { } answer)
                {
                    answer.ForEach(Console.WriteLine);
                    return 0;
                }

                await using var opened = await OpenAsync(v, default).ConfigureAwait(false);
                foreach (var s in await opened.Engine.SnapshotsAsync().ConfigureAwait(false))
                {
                    Console.WriteLine(SnapshotLine(s));
                }

                return 0;
            }

            case "restore":
            {
                // a server whose containers have all stopped is asked to detach now rather than in a few seconds
                if (ReplicatedVolumeDriver.ServeAlive(dir))
                {
                    try
                    {
                        await AskAsync(dir, "leave").ConfigureAwait(false);
                    }
                    catch (ContainerException e)
                    {
                        throw new ContainerConflictException(e.Message);
                    }

                    if (!ReplicatedVolumeDriver.WaitDetached(dir))
                    {
                        throw new ContainerConflictException($"volume {v.Name}: its server did not detach within {ReplicatedVolumeDriver.DetachSeconds} s");
                    }
                }

                await using var opened = await OpenAsync(v, default).ConfigureAwait(false);
                if (a.Get("from") is { } from)
                {
                    var backup = a.Positionals.ElementAtOrDefault(1) ?? throw new UsageException("restore --from TARGET needs the backup's name");
                    using var target = BackupTargets.Open(from);
                    await new BackupStore(target).RestoreAsync(a.Get("source-volume") ?? v.Name, backup, opened.Engine).ConfigureAwait(false);
                    Console.WriteLine($"volume {v.Name} restored from backup {backup} in {target.Description}");
                    return 0;
                }

                var snapshot = a.Positionals.ElementAtOrDefault(1) ?? throw new UsageException("restore needs a snapshot's name (or --from TARGET BACKUP)");
                await opened.Engine.RevertAsync(snapshot).ConfigureAwait(false);
                Console.WriteLine($"volume {v.Name} reverted to snapshot {snapshot}");
                return 0;
            }

            case "backup":
            {
                var to = a.Positionals.ElementAtOrDefault(1) ?? throw new UsageException("backup needs a target: a directory or s3://BUCKET/PREFIX");
                var name = a.Get("name") ?? $"backup-{DateTimeOffset.UtcNow:yyyyMMdd-HHmmss}";
                using var target = BackupTargets.Open(to);
                BackupInfo info;
                if (await AskAsync(dir, "snapshot " + name).ConfigureAwait(false) is not null)
                {
                    // the server holds the volume: its replicas are read beside it
                    var addresses = File.ReadAllLines(Path.Combine(dir, "replicas.addr"));
                    await using var reader = await VolumeReader.OpenAsync(v.Name, addresses, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                    info = await new BackupStore(target).BackupAsync(reader, name, name).ConfigureAwait(false);
                }
                else
                {
                    await using var opened = await OpenAsync(v, default).ConfigureAwait(false);
                    await opened.Engine.SnapshotAsync(name).ConfigureAwait(false);
                    info = await new BackupStore(target).BackupAsync(opened.Engine, name, name).ConfigureAwait(false);
                }

                Console.WriteLine($"backup {info.Name} of volume {v.Name} to {target.Description}: {info.Chunks} chunks, {info.NewChunks} new, {info.UploadedBytes} bytes uploaded in {info.Seconds:0.00} s{(info.Base is { } b ? $" (incremental over {b})" : "")}");
                return 0;
            }

            default:
                throw new UsageException($"unknown volume command {a.Name}");
        }
    }
}
