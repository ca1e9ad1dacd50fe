using System.Diagnostics;
using Containers.Volumes.Linux;
using Containers.Volumes.Replicas;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Containers.Volumes;

/// <summary>How a replica of a volume stands.</summary>
public enum ReplicaMode
{
    /// <summary>In step: takes writes and serves reads.</summary>
    ReadWrite,

    /// <summary>Being rebuilt: takes writes, serves no reads until its data is copied and verified.</summary>
    Rebuilding,

    /// <summary>Out: an I/O error, a full disk, a lost connection or a timeout; it takes nothing until replaced.</summary>
    Failed,
}

/// <summary>A replica of a volume as its engine sees it.</summary>
/// <param name="Address">host:port of its replica server.</param>
/// <param name="Mode">In step, rebuilding or failed.</param>
/// <param name="Error">Why it failed.</param>
/// <param name="InProcess">True when the engine reads and writes it in process (a replica server of this process, see <see cref="ReplicatedVolumeOptions.LocalServers"/>), not over TCP.</param>
public sealed record ReplicaStatus(string Address, ReplicaMode Mode, string? Error, bool InProcess = false);

/// <summary>Settings of a volume engine.</summary>
public sealed record ReplicatedVolumeOptions
{
    /// <summary>How long a replica may take to answer before it is failed (default 5 s).</summary>
    public TimeSpan ReplicaTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// This writer's attach generation: replicas refuse writers with a lower one once opened with it (fencing an engine
    /// left behind on a lost machine). Each new attach of a volume takes a higher one.
    /// </summary>
    public long Epoch { get; init; }

    /// <summary>Where failures and rebuilds are logged.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>
    /// Replica servers running in this process, by the address the volume's replica list names them with (the replica
    /// on the engine's own node): their replicas are read and written in process, on the calling thread, instead of
    /// over TCP. Fencing, errors and failure work as over TCP. Empty by default.
    /// </summary>
    public IReadOnlyDictionary<string, ReplicaServer> LocalServers { get; init; } = new Dictionary<string, ReplicaServer>();
}

/// <summary>
/// A volume's engine (Longhorn's engine): the one writer of a volume, sending every write to every healthy replica
/// and acknowledging it only when all of them have it; reading from one replica in step (the first in the list: put
/// the local one first). A replica that errs, fills its disk, loses its connection or does not answer within
/// <see cref="ReplicatedVolumeOptions.ReplicaTimeout"/> is failed and I/O goes on with the others; the volume fails
/// only when none is left. Snapshots are taken on every replica at one point between writes (crash-consistent). A new
/// replica is rebuilt from one in step while I/O continues, and each copied range is verified by SHA-256 on both.
/// </summary>
public sealed class ReplicatedVolume : IAsyncDisposable
{
    private const int CopyChunk = 1 << 20;

    private readonly ReplicatedVolumeOptions options;
    private readonly IoGate io = new();
    private readonly SemaphoreSlim maintenance = new(1, 1); // snapshots, rebuilds, expansion: one at a time
    private Member[] members;
    private bool disposed;

    private sealed class Member(string address, IReplicaConnection? client, ReplicaMode mode, string? error)
    {
        public string Address = address;
        public IReplicaConnection? Client = client;
        public ReplicaMode Mode = mode;
        public string? Error = error;
    }

    private ReplicatedVolume(string name, long size, Member[] members, ReplicatedVolumeOptions options)
    {
        Name = name;
        Size = size;
        this.members = members;
        this.options = options;
    }

    /// <summary>The volume's name.</summary>
    public string Name { get; }

    /// <summary>Its size in bytes.</summary>
    public long Size { get; private set; }

    /// <summary>Raised when a replica is failed (on the thread that saw it fail).</summary>
    public event Action<ReplicaStatus>? ReplicaFailed;

    /// <summary>Its replicas and how each stands.</summary>
    public IReadOnlyList<ReplicaStatus> Replicas => [.. members.Select(m => new ReplicaStatus(m.Address, m.Mode, m.Error, m.Client is LocalReplicaConnection))];

    /// <summary>
    /// Opens volume <paramref name="name"/> on the replicas at <paramref name="addresses"/> (host:port of their replica
    /// servers), making them when they do not exist. Replicas that cannot be reached, or that disagree with the first
    /// one reached (size, snapshots, or made new beside existing ones), are failed; at least one must be in step.
    /// </summary>
    public static async Task<ReplicatedVolume> OpenAsync(string name, long size, IReadOnlyList<string> addresses, ReplicatedVolumeOptions? options = null, CancellationToken ct = default)
    {
        options ??= new ReplicatedVolumeOptions();
        if (addresses.Count == 0)
        {
            throw new ArgumentException("a volume needs at least one replica", nameof(addresses));
        }

        var opened = await Task.WhenAll(addresses.Select(async a =>
        {
            try
            {
                return new Member(a, await ConnectAsync(a, new OpenRequest(name, size, true, null, options.Epoch), options, ct).ConfigureAwait(false), ReplicaMode.ReadWrite, null);
            }
            catch (ReplicaException e)
            {
                return new Member(a, null, ReplicaMode.Failed, e.Message);
            }
        })).ConfigureAwait(false);

        // the replicas that existed before set the truth; a replica made now beside them holds nothing and must be rebuilt
        var existing = opened.Where(m => m.Client is { Info.Created: false }).ToList();
        var reference = existing.FirstOrDefault() ?? opened.FirstOrDefault(m => m.Client is not null);
        if (reference is null)
        {
            throw new ReplicaException($"volume {name}: no replica could be opened: {string.Join("; ", opened.Select(m => m.Error))}", VolumeSyscalls.EIO);
        }

        var volume = new ReplicatedVolume(name, reference.Client!.Info.Size, opened, options);
        var names = string.Join(",", reference.Client.Info.Snapshots.Select(s => s.Name));
        foreach (var m in opened.Where(m => m.Client is not null && m != reference))
        {
            var info = m.Client!.Info;
            var why = existing.Count > 0 && info.Created ? "the replica was missing (made empty now): it must be rebuilt"
                : info.Size != reference.Client.Info.Size ? $"its size {info.Size} differs from {reference.Client.Info.Size} at {reference.Address}"
                : string.Join(",", info.Snapshots.Select(s => s.Name)) != names ? $"its snapshots differ from those at {reference.Address}"
                : null;
            if (why is not null)
            {
                await volume.FailAsync(m, new ReplicaException(why, VolumeSyscalls.EIO)).ConfigureAwait(false);
            }
        }

        if (opened.Any(m => m.Client is { Info.Dirty: true }) && opened.Count(m => m.Mode == ReplicaMode.ReadWrite) > 1)
        {
            await volume.ResyncAsync(reference, ct).ConfigureAwait(false);
        }

        return volume;
    }

    // a replica of a server in this process is opened in process; any other over TCP (an unparsable address fails as unreachable)
    private static async Task<IReplicaConnection> ConnectAsync(string address, OpenRequest open, ReplicatedVolumeOptions options, CancellationToken ct)
    {
        if (options.LocalServers.TryGetValue(address, out var server))
        {
            return server.OpenLocal(address, open);
        }

        var (host, port) = ReplicaClient.Split(address);
        return await ReplicaClient.ConnectAsync(host, port, open, options.ReplicaTimeout, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// After an engine stopped without closing (a crash, a lost node), replicas may differ where writes were in flight
    /// and never acknowledged: each range any replica's head has data in is compared by SHA-256 with the reference
    /// replica, and a range that differs is copied from it, so every replica reads the same before any I/O.
    /// </summary>
    private async Task ResyncAsync(Member reference, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var info = await ClientOf(reference).InfoAsync().ConfigureAwait(false);
        var head = info.Snapshots.Count;
        var chunks = new SortedSet<long>();
        foreach (var m in members.Where(m => m.Mode == ReplicaMode.ReadWrite))
        {
            ReplicaStore.AddChunks(chunks, await ClientOf(m).ExtentsAsync(head).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false), CopyChunk);
        }

        var buffer = new byte[CopyChunk];
        var fixedRanges = 0;
        foreach (var offset in chunks)
        {
            var length = (int)Math.Min(CopyChunk, Size - offset);
            var truth = await ClientOf(reference).ChecksumAsync(-1, offset, length).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
            var loaded = false;
            foreach (var m in members.Where(m => m.Mode == ReplicaMode.ReadWrite && m != reference))
            {
                try
                {
                    var theirs = await ClientOf(m).ChecksumAsync(-1, offset, length).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
                    if (truth.AsSpan().SequenceEqual(theirs))
                    {
                        continue;
                    }

                    if (!loaded)
                    {
                        await ClientOf(reference).ReadAsync(offset, buffer.AsMemory(0, length)).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
                        loaded = true;
                    }

                    await ClientOf(m).WriteAsync(offset, buffer.AsMemory(0, length)).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
                    fixedRanges++;
                }
                catch (Exception e) when (e is ReplicaException or TimeoutException)
                {
                    await FailAsync(m, e).ConfigureAwait(false);
                }
            }
        }

        options.Logger.LogInformation("volume {Volume}: replicas resynced after an unclean stop: {Chunks} ranges compared, {Fixed} copied from {Reference}, in {Seconds:0.00} s", Name, chunks.Count, fixedRanges, reference.Address, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Deletes volume <paramref name="name"/>'s replicas on the servers at <paramref name="addresses"/> (as a writer of
    /// <paramref name="epoch"/>, so no older writer can go on). Returns the addresses that could not be reached or refused,
    /// with why; a server without a replica of the volume counts as done.
    /// </summary>
    public static async Task<IReadOnlyList<string>> DeleteReplicasAsync(string name, IReadOnlyList<string> addresses, long epoch, TimeSpan timeout, CancellationToken ct = default)
    {
        var problems = new List<string>();
        foreach (var a in addresses)
        {
            try
            {
                var (host, port) = ReplicaClient.Split(a);
                await using var client = await ReplicaClient.ConnectAsync(host, port, new OpenRequest(name, 0, false, null, epoch), timeout, ct).ConfigureAwait(false);
                await client.DeleteAsync().WaitAsync(timeout, ct).ConfigureAwait(false);
            }
            catch (ReplicaException e) when (e.Errno == VolumeSyscalls.ENOENT)
            {
                // nothing there
            }
            catch (Exception e) when (e is ReplicaException or TimeoutException or ArgumentException)
            {
                problems.Add($"{a}: {e.Message}");
            }
        }

        return problems;
    }

    /// <summary>Reads <paramref name="destination"/>'s length at <paramref name="offset"/>.</summary>
    public async ValueTask ReadAsync(long offset, Memory<byte> destination, CancellationToken ct = default)
    {
        CheckRange(offset, destination.Length);
        await io.EnterAsync().ConfigureAwait(false);
        try
        {
            while (true)
            {
                var source = InStep("read");
                try
                {
                    await ClientOf(source).ReadAsync(offset, destination).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is ReplicaException or TimeoutException)
                {
                    await FailAsync(source, e).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            io.Exit();
        }
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>; returns when every healthy replica has it.</summary>
    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        CheckRange(offset, data.Length);
        await io.EnterAsync().ConfigureAwait(false);
        try
        {
            await OnAllAsync(m => ClientOf(m).WriteAsync(offset, data), "write", ct).ConfigureAwait(false);
        }
        finally
        {
            io.Exit();
        }
    }

    /// <summary>Makes every write so far durable on every healthy replica (fdatasync of their heads).</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        await io.EnterAsync().ConfigureAwait(false);
        try
        {
            await OnAllAsync(m => ClientOf(m).FlushAsync(), "flush", ct).ConfigureAwait(false);
        }
        finally
        {
            io.Exit();
        }
    }

    /// <summary>
    /// Takes snapshot <paramref name="name"/> on every healthy replica at one point: writes are held while it is taken,
    /// so it holds every write acknowledged before and none after (crash-consistent). Returns how long writes were held.
    /// </summary>
    public async Task<TimeSpan> SnapshotAsync(string name, CancellationToken ct = default)
    {
        CheckName(name);
        await maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if ((await SnapshotsAsync(ct).ConfigureAwait(false)).Any(s => s.Name == name))
            {
                throw new InvalidOperationException($"volume {Name}: snapshot {name} exists");
            }

            var held = Stopwatch.StartNew();
            using (await io.ExclusiveAsync().ConfigureAwait(false))
            {
                var now = DateTimeOffset.UtcNow;
                await OnAllAsync(m => ClientOf(m).SnapshotAsync(name, now), $"snapshot {name}", ct).ConfigureAwait(false);
            }

            return held.Elapsed;
        }
        finally
        {
            maintenance.Release();
        }
    }

    /// <summary>The volume's snapshots, oldest first (as its first healthy replica holds them).</summary>
    public async Task<IReadOnlyList<SnapshotInfo>> SnapshotsAsync(CancellationToken ct = default)
    {
        var source = InStep("list snapshots");
        return (await ClientOf(source).InfoAsync().WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false)).Snapshots;
    }

    /// <summary>Deletes a snapshot on every healthy replica (its data merges into the next layer; no other view changes).</summary>
    public async Task DeleteSnapshotAsync(string name, CancellationToken ct = default)
    {
        await maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using (await io.ExclusiveAsync().ConfigureAwait(false))
            {
                await OnAllAsync(m => ClientOf(m).DeleteSnapshotAsync(name), $"delete snapshot {name}", ct, ignoreTimeout: true).ConfigureAwait(false);
            }
        }
        finally
        {
            maintenance.Release();
        }
    }

    /// <summary>
    /// Puts the volume back to snapshot <paramref name="name"/> on every healthy replica; later snapshots go. The volume
    /// must not be in use (detach it first: a mounted filesystem would see its blocks change under it).
    /// </summary>
    public async Task RevertAsync(string name, CancellationToken ct = default)
    {
        await maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using (await io.ExclusiveAsync().ConfigureAwait(false))
            {
                await OnAllAsync(m => ClientOf(m).RevertAsync(name), $"revert to {name}", ct).ConfigureAwait(false);
            }
        }
        finally
        {
            maintenance.Release();
        }
    }

    /// <summary>Grows the volume on every healthy replica.</summary>
    public async Task ExpandAsync(long size, CancellationToken ct = default)
    {
        if (size < Size || size % ReplicaStore.BlockSize != 0)
        {
            throw new ArgumentException($"volume {Name}: size {size}: a volume only grows, by whole {ReplicaStore.BlockSize}-byte blocks", nameof(size));
        }

        await maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using (await io.ExclusiveAsync().ConfigureAwait(false))
            {
                await OnAllAsync(m => ClientOf(m).ExpandAsync(size), "expand", ct).ConfigureAwait(false);
                Size = size;
            }
        }
        finally
        {
            maintenance.Release();
        }
    }

    /// <summary>SHA-256 of the whole volume as it is now (or at snapshot <paramref name="snapshot"/>), computed by a replica in step.</summary>
    public async Task<byte[]> ChecksumAsync(string? snapshot = null, CancellationToken ct = default)
    {
        var source = InStep("checksum");
        var layer = snapshot is null ? -1 : await LayerOfAsync(source, snapshot, ct).ConfigureAwait(false);
        return await ClientOf(source).ChecksumAsync(layer, 0, Size).WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds a replica on the server at <paramref name="address"/> and rebuilds it from one in step while I/O goes on: the
    /// snapshot layers are copied first (they do not change), then the replica takes every new write while the head's
    /// data is copied range by range, each range with writes held, and each copied range of every layer is compared by
    /// SHA-256 on both replicas. Throws when a range differs or either side fails; the new replica is then failed.
    /// A failed replica at the same address is replaced.
    /// </summary>
    public async Task RebuildAsync(string address, CancellationToken ct = default)
    {
        await maintenance.WaitAsync(ct).ConfigureAwait(false);
        Member? target = null;
        try
        {
            var source = InStep("rebuild");
            if (members.Any(m => m.Address == address && m.Mode != ReplicaMode.Failed))
            {
                throw new InvalidOperationException($"volume {Name}: {address} already holds a replica in use");
            }

            var info = await ClientOf(source).InfoAsync().WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
            var open = new OpenRequest(Name, Size, true, info.Snapshots, options.Epoch);
            var client = await ConnectAsync(address, open, options, ct).ConfigureAwait(false);
            if (!client.Info.Created)
            {
                // what is left of an older replica there is thrown away
                await client.DeleteAsync().ConfigureAwait(false);
                await client.DisposeAsync().ConfigureAwait(false);
                client = await ConnectAsync(address, open, options, ct).ConfigureAwait(false);
            }

            target = new Member(address, client, ReplicaMode.Rebuilding, null);
            var sw = Stopwatch.StartNew();
            long copied = 0;

            // the frozen layers, oldest first: nothing writes them
            for (var layer = 0; layer < info.Snapshots.Count; layer++)
            {
                foreach (var (offset, length) in await ClientOf(source).ExtentsAsync(layer).ConfigureAwait(false))
                {
                    copied += await CopyAsync(ClientOf(source), client, layer, offset, length, ct).ConfigureAwait(false);
                }
            }

            // from here on it takes every write
            using (await io.ExclusiveAsync().ConfigureAwait(false))
            {
                members = [.. members.Where(m => m.Address != address), target];
            }

            var head = info.Snapshots.Count;
            foreach (var (offset, length) in await ClientOf(source).ExtentsAsync(head).ConfigureAwait(false))
            {
                for (var pos = offset; pos < offset + length; pos += CopyChunk)
                {
                    using (await io.ExclusiveAsync().ConfigureAwait(false))
                    {
                        if (source.Mode != ReplicaMode.ReadWrite || target.Mode == ReplicaMode.Failed)
                        {
                            throw new ReplicaException($"volume {Name}: the rebuild of {address} lost {(target.Mode == ReplicaMode.Failed ? "its target" : $"its source {source.Address}")}", VolumeSyscalls.EIO);
                        }

                        copied += await CopyAsync(ClientOf(source), client, head, pos, Math.Min(CopyChunk, offset + length - pos), ct).ConfigureAwait(false);
                    }
                }
            }

            target.Mode = ReplicaMode.ReadWrite;
            options.Logger.LogInformation("volume {Volume}: replica {Address} rebuilt from {Source}: {Bytes} bytes in {Seconds:0.00} s, verified", Name, address, source.Address, copied, sw.Elapsed.TotalSeconds);
        }
        catch (Exception e) when (target is not null && e is not OperationCanceledException)
        {
            await FailAsync(target, e).ConfigureAwait(false);
            throw;
        }
        finally
        {
            maintenance.Release();
        }
    }

    /// <summary>Drops the replica at <paramref name="address"/> from the volume (its data stays on its server).</summary>
    public async Task RemoveReplicaAsync(string address)
    {
        Member? gone;
        using (await io.ExclusiveAsync().ConfigureAwait(false))
        {
            gone = members.FirstOrDefault(m => m.Address == address);
            if (gone is not null && gone.Mode == ReplicaMode.ReadWrite && members.Count(m => m.Mode == ReplicaMode.ReadWrite) == 1)
            {
                throw new InvalidOperationException($"volume {Name}: {address} is its last replica in step");
            }

            members = [.. members.Where(m => m != gone)];
        }

        if (gone?.Client is { } c)
        {
            await c.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<long> CopyAsync(IReplicaConnection from, IReplicaConnection to, int layer, long offset, long length, CancellationToken ct)
    {
        var buffer = new byte[(int)Math.Min(length, CopyChunk)];
        for (var pos = offset; pos < offset + length; pos += buffer.Length)
        {
            var n = (int)Math.Min(buffer.Length, offset + length - pos);
            await from.ReadLayerAsync(layer, pos, buffer.AsMemory(0, n)).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
            await to.WriteLayerAsync(layer, pos, buffer.AsMemory(0, n)).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
        }

        var mine = from.ChecksumAsync(layer, offset, length);
        var theirs = to.ChecksumAsync(layer, offset, length);
        await Task.WhenAll(mine, theirs).WaitAsync(options.ReplicaTimeout, ct).ConfigureAwait(false);
        if (!mine.Result.AsSpan().SequenceEqual(theirs.Result))
        {
            throw new ReplicaException($"volume {Name}: rebuild of {to.Address}: layer {layer} bytes {offset}+{length} differ from {from.Address} after the copy", VolumeSyscalls.EIO);
        }

        return length;
    }

    private static async Task<int> LayerOfAsync(Member source, string snapshot, CancellationToken ct)
    {
        var snaps = (await source.Client!.InfoAsync().WaitAsync(ct).ConfigureAwait(false)).Snapshots;
        for (var i = 0; i < snaps.Count; i++)
        {
            if (snaps[i].Name == snapshot)
            {
                return i;
            }
        }

        throw new KeyNotFoundException($"no snapshot {snapshot}");
    }

    /// <summary>A reader of this volume's snapshots on one of its replicas in step (a connection of its own).</summary>
    public Task<VolumeReader> OpenReaderAsync(CancellationToken ct = default) =>
        VolumeReader.OpenAsync(Name, [.. members.Where(m => m.Mode == ReplicaMode.ReadWrite).Select(m => m.Address)], options.ReplicaTimeout, ct);

    /// <summary>SHA-256 of the whole volume as each replica not failed holds it, by address (they must all be equal).</summary>
    public async Task<IReadOnlyDictionary<string, string>> ReplicaChecksumsAsync(CancellationToken ct = default)
    {
        using (await io.ExclusiveAsync().ConfigureAwait(false))
        {
            var targets = members.Where(m => m.Mode != ReplicaMode.Failed).ToArray();
            var sums = await Task.WhenAll(targets.Select(m => ClientOf(m).ChecksumAsync(-1, 0, Size).WaitAsync(ct))).ConfigureAwait(false);
            return targets.Select((m, i) => (m.Address, Convert.ToHexStringLower(sums[i]))).ToDictionary(p => p.Address, p => p.Item2);
        }
    }

    /// <summary>The offsets of the <paramref name="chunk"/>-sized chunks that hold data in any layer.</summary>
    internal async Task<IReadOnlyList<long>> DataChunksAsync(int chunk, CancellationToken ct)
    {
        var source = InStep("list data");
        var info = await ClientOf(source).InfoAsync().WaitAsync(ct).ConfigureAwait(false);
        var chunks = new SortedSet<long>();
        for (var l = 0; l <= info.Snapshots.Count; l++)
        {
            ReplicaStore.AddChunks(chunks, await ClientOf(source).ExtentsAsync(l).WaitAsync(ct).ConfigureAwait(false), chunk);
        }

        return [.. chunks];
    }

    private async Task OnAllAsync(Func<Member, Task> call, string what, CancellationToken ct, bool ignoreTimeout = false)
    {
        var targets = members.Where(m => m.Mode != ReplicaMode.Failed).ToArray();
        if (TargetsPicked is { } picked)
        {
            await picked().ConfigureAwait(false);
        }

        if (targets.Length == 1)
        {
            try
            {
                await (ignoreTimeout ? call(targets[0]) : call(targets[0]).WaitAsync(options.ReplicaTimeout, ct)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ReplicaException or TimeoutException)
            {
                await FailAsync(targets[0], e).ConfigureAwait(false);
            }
        }
        else
        {
            // the replicas over the network first, so their requests are on their way while one in process runs on this thread
            var tasks = new Task[targets.Length];
            for (var pass = 0; pass < 2; pass++)
            {
                for (var i = 0; i < targets.Length; i++)
                {
                    if ((targets[i].Client is LocalReplicaConnection) == (pass == 1))
                    {
                        tasks[i] = ignoreTimeout ? Invoke(call, targets[i]) : Invoke(call, targets[i]).WaitAsync(options.ReplicaTimeout, ct);
                    }
                }
            }

            try
            {
                await Task.WhenAll(tasks).ConfigureAwait(false);
            }
            catch (Exception) when (!ct.IsCancellationRequested)
            {
                for (var i = 0; i < tasks.Length; i++)
                {
                    if (tasks[i].Exception?.InnerException is { } e && e is ReplicaException or TimeoutException)
                    {
                        await FailAsync(targets[i], e).ConfigureAwait(false);
                    }
                    else if (tasks[i].Exception?.InnerException is { } other)
                    {
                        throw other;
                    }
                }
            }
        }

        if (!members.Any(m => m.Mode == ReplicaMode.ReadWrite))
        {
            throw NoReplica(what);
        }
    }

    // a call that throws before it returns a task (ClientOf on a replica failed meanwhile) as a failed task, so the
    // other replicas' calls still start and the failure is handled with theirs
    private static Task Invoke(Func<Member, Task> call, Member m)
    {
        try
        {
            return call(m);
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    /// <summary>For tests: runs after a call on every replica has picked its targets and before it calls them.</summary>
    internal Func<Task>? TargetsPicked { get; set; }

    /// <summary>For tests: fails the replica at <paramref name="address"/> as a failed call would.</summary>
    internal Task FailReplicaAsync(string address, Exception reason) => FailAsync(members.Single(m => m.Address == address), reason);

    private async Task FailAsync(Member m, Exception e)
    {
        IReplicaConnection? client;
        lock (m)
        {
            if (m.Mode == ReplicaMode.Failed)
            {
                return;
            }

            m.Mode = ReplicaMode.Failed;
            m.Error = e is TimeoutException ? $"replica {Name} at {m.Address}: no answer within {options.ReplicaTimeout.TotalSeconds:0.#} s" : e.Message;
            client = m.Client;
            m.Client = null;
        }

        options.Logger.LogWarning("volume {Volume}: replica {Address} failed: {Error}", Name, m.Address, m.Error);
        ReplicaFailed?.Invoke(new ReplicaStatus(m.Address, m.Mode, m.Error));
        if (client is not null)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    // a member's connection; a replica another thread failed since this one picked it has none: that is a replica
    // failure (the caller fails it over), not a null dereference
    private IReplicaConnection ClientOf(Member m) =>
        m.Client ?? throw new ReplicaException($"volume {Name}: replica {m.Address} failed: {m.Error ?? "closed"}", VolumeSyscalls.EIO);

    // the replica reads come from: the first in step (the local one when it was put first)
    private Member InStep(string what) => members.FirstOrDefault(m => m.Mode == ReplicaMode.ReadWrite) ?? throw NoReplica(what);

    private ReplicaException NoReplica(string what) =>
        new($"volume {Name}: {what}: no replica in step is left ({string.Join("; ", members.Select(m => $"{m.Address}: {m.Error ?? m.Mode.ToString()}"))})", VolumeSyscalls.EIO);

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (offset < 0 || length < 0 || offset + length > Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"volume {Name}: {offset}+{length} is outside its {Size} bytes");
        }
    }

    internal static void CheckName(string name)
    {
        if (name.Length is 0 or > 200 || name[0] == '.' || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new ArgumentException($"invalid snapshot name '{name}': [a-zA-Z0-9_.-], not starting with a dot");
        }
    }

    /// <summary>Flushes, then closes the connections to the replicas.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        try
        {
            if (members.Any(m => m.Mode == ReplicaMode.ReadWrite))
            {
                await FlushAsync().ConfigureAwait(false);
            }
        }
        catch (ReplicaException)
        {
            // nothing left to flush to
        }

        disposed = true;
        foreach (var m in members)
        {
            if (m.Client is { } c)
            {
                if (m.Mode == ReplicaMode.ReadWrite)
                {
                    try
                    {
                        await c.CloseAsync().WaitAsync(options.ReplicaTimeout).ConfigureAwait(false); // clean: no resync at the next open
                    }
                    catch (Exception e) when (e is ReplicaException or TimeoutException)
                    {
                        // it stays dirty: the next open compares it
                    }
                }

                await c.DisposeAsync().ConfigureAwait(false);
            }
        }

        maintenance.Dispose();
    }

    /// <summary>I/O enters shared; snapshots and rebuild steps hold it exclusive, waiting for I/O in flight to end.</summary>
    private sealed class IoGate
    {
        private readonly SemaphoreSlim entry = new(1, 1);
        private int inflight;
        private TaskCompletionSource? drained;

        public async ValueTask EnterAsync()
        {
            await entry.WaitAsync().ConfigureAwait(false);
            Interlocked.Increment(ref inflight);
            entry.Release();
        }

        public void Exit()
        {
            if (Interlocked.Decrement(ref inflight) == 0)
            {
                Volatile.Read(ref drained)?.TrySetResult();
            }
        }

        public async Task<IDisposable> ExclusiveAsync()
        {
            await entry.WaitAsync().ConfigureAwait(false);
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref drained, tcs);
            if (Volatile.Read(ref inflight) != 0)
            {
                await tcs.Task.ConfigureAwait(false);
            }

            Volatile.Write(ref drained, null);
            return new Releaser(entry);
        }

        private sealed class Releaser(SemaphoreSlim entry) : IDisposable
        {
            public void Dispose() => entry.Release();
        }
    }
}
