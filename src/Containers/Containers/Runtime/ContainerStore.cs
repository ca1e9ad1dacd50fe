using System.Text.Json.Serialization;

namespace Containers.Runtime;

/// <summary>
/// The containers under one root: <c>containers/ID/state.json</c> plus the container's files. Several processes
/// share a root; read-modify-write goes through <see cref="Update"/> under an flock on <c>ROOT/lock</c>.
/// </summary>
internal sealed class ContainerStore
{
    private readonly ISyscalls sys;

    public ContainerStore(string root, ISyscalls sys)
    {
        Root = Path.GetFullPath(root);
        this.sys = sys;
        Directory.CreateDirectory(ContainersDir);
        Directory.CreateDirectory(Path.GetDirectoryName(SeccompCache)!); // ROOT/cache: a cache writes under it only while it exists
    }

    public string Root { get; }

    public string ContainersDir => Path.Combine(Root, "containers");

    public string Dir(string id) => Path.Combine(ContainersDir, id);

    public string LogPath(string id) => Path.Combine(Dir(id), id + "-json.log");

    /// <summary>Where compiled seccomp filters are kept between processes (<see cref="Security.SeccompFilters.For"/>).</summary>
    public string SeccompCache => Path.Combine(Root, "cache", "seccomp");

    public static string NewId() => Linux.RandomIds.NewHex();

    /// <summary>Runs <paramref name="action"/> holding the root's exclusive lock (across processes).</summary>
    public T Locked<T>(Func<T> action) => FileLock.Run(sys, Path.Combine(Root, "lock"), action);

    /// <summary>Creates the directory and first state of a new container; refuses a name in use.</summary>
    public ContainerState Create(ContainerSpec spec, TimeProvider time)
    {
        return Locked(() =>
        {
            var id = NewId();
            var name = spec.Name ?? NameGenerator.Next(n => List().Any(s => s.Name == n));
            if (!NameGenerator.IsValid(name))
            {
                throw new InvalidContainerSpecException($"invalid container name '{name}': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
            }

            if (List().FirstOrDefault(s => s.Name == name) is { } clash)
            {
                throw new ContainerConflictException($"the container name \"/{name}\" is already in use by container \"{clash.Id}\"; remove or rename that container to reuse the name");
            }

            Directory.CreateDirectory(Dir(id));
            var self = ProcessIdentity.Self;
            var state = new ContainerState
            {
                Id = id,
                Name = name,
                Spec = spec with { Name = name },
                Created = time.GetUtcNow(),
                Status = ContainerStatus.Created,
                MonitorPid = self.Pid,
                MonitorStartTime = self.StartTime,
            };
            Write(state);
            return state;
        });
    }

    /// <summary>Reads, changes and writes a container's state under the lock; returns the new state.</summary>
    public ContainerState Update(string id, Func<ContainerState, ContainerState> change) =>
        Locked(() =>
        {
            var s = Read(id) ?? throw new ContainerNotFoundException($"no such container: {id}");
            var n = change(s);
            Write(n);
            return n;
        });

    public ContainerState? Read(string id)
    {
        try
        {
            return RawFile.Read(sys, Path.Combine(Dir(id), "state.json")) is { } bytes ? ContainerStateJson.Read(bytes) : null;
        }
        catch (Exception e) when (e is SyscallException or JsonException)
        {
            return null;
        }
    }

    public IReadOnlyList<ContainerState> List() =>
        Directory.EnumerateDirectories(ContainersDir)
            .Select(d => Read(Path.GetFileName(d)))
            .OfType<ContainerState>()
            .OrderByDescending(s => s.Created)
            .ToArray();

    /// <summary>Where a <c>--ipc shareable</c> container's /dev/shm is mounted on the host while it runs.</summary>
    public string ShmDir(string id) => Path.Combine(Dir(id), "shm");

    /// <summary>The container with the full id or the name <paramref name="idOrName"/>, or null.</summary>
    public ContainerState? ReadByIdOrName(string idOrName) => Read(idOrName) ?? List().FirstOrDefault(s => s.Name == idOrName);

    /// <summary>
    /// The running container a <c>container:X</c> mode names (<paramref name="what"/>: network, pid, ipc). Throws
    /// <see cref="ContainerNotFoundException"/> or <see cref="ContainerConflictException"/> naming the mode.
    /// </summary>
    public ContainerState RunningFor(string what, string mode)
    {
        var idOrName = mode["container:".Length..];
        var target = ReadByIdOrName(idOrName) ?? throw new ContainerNotFoundException($"{what} mode {mode}: no such container");
        return target is { Status: ContainerStatus.Running, Pid: > 0 }
            ? target
            : throw new ContainerConflictException($"{what} mode {mode}: the container is not running");
    }

    /// <summary>Finds a container by full id, unique id prefix or name. Throws <see cref="ContainerNotFoundException"/>.</summary>
    public ContainerState Find(string idOrName)
    {
        var all = List();
        var byName = all.FirstOrDefault(s => s.Name == idOrName.TrimStart('/'));
        if (byName is not null)
        {
            return byName;
        }

        var matches = all.Where(s => s.Id.StartsWith(idOrName, StringComparison.Ordinal)).ToArray();
        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new ContainerNotFoundException($"no such container: {idOrName}"),
            _ => throw new ContainerConflictException($"the id prefix '{idOrName}' matches {matches.Length} containers; give more characters"),
        };
    }

    /// <summary>
    /// Removes a container: its directory is renamed into <c>trash/</c> at once (atomic: the container is gone for
    /// every reader) and deleted in the background; <see cref="EmptyTrash"/> finishes what a crash interrupted.
    /// </summary>
    /// <summary>
    /// Moves the container's directory to the trash (deleted in the background). Its anonymous volumes go with it
    /// when it was <c>--rm</c> or when <paramref name="withAnonymousVolumes"/> (a container that never started).
    /// </summary>
    public void Delete(string id, bool withAnonymousVolumes = false)
    {
        var dir = Dir(id);
        if (!Directory.Exists(dir))
        {
            return;
        }

        // --rm takes the container's anonymous volumes with it, as docker does
        if (Read(id) is { } state && (state.Spec.AutoRemove || withAnonymousVolumes))
        {
            var volumes = new VolumeStore(Root, sys);
            foreach (var name in VolumeStore.UsedBy(state.Spec))
            {
                if (volumes.Get(name) is { Anonymous: true })
                {
                    volumes.Delete(name);
                }
            }
        }

        if (Directory.Exists(ShmDir(id)))
        {
            ContainerSupervisor.UnmountShareableShm(sys, ShmDir(id)); // left mounted by a run that did not clean up
        }

        var trash = Path.Combine(Root, "trash", id + "-" + NewId()[..8]);
        Directory.CreateDirectory(Path.Combine(Root, "trash"));
        try
        {
            Directory.Move(dir, trash);
        }
        catch (DirectoryNotFoundException)
        {
            return; // removed concurrently
        }

        _ = Task.Run(() => DeleteQuietly(trash));
    }

    /// <summary>Deletes what is left in <c>trash/</c> (the start-up sweep).</summary>
    public void EmptyTrash()
    {
        var trash = Path.Combine(Root, "trash");
        if (Directory.Exists(trash))
        {
            foreach (var d in Directory.EnumerateDirectories(trash))
            {
                DeleteQuietly(d);
            }
        }
    }

    private static void DeleteQuietly(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (IOException)
        {
            // another process empties the trash at the same time, or a file is busy: the next sweep retries
        }
    }

    private void Write(ContainerState state)
    {
        RawFile.Replace(sys, Path.Combine(Dir(state.Id), "state.json"), ContainerStateJson.Write(state));
    }
}

/// <summary>
/// The JSON contract of the files in a root, as the serializer gives it. The library reads and writes them with
/// <see cref="ContainerStateJson"/> (no serializer metadata to build at every CLI call); tests hold the two to one shape.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ContainerState))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class ContainerStoreJsonContext : JsonSerializerContext;

/// <summary>The one-line JSON a monitor prints when a start fails.</summary>
[JsonSerializable(typeof(MonitorError))]
internal sealed partial class MonitorJsonContext : JsonSerializerContext;
