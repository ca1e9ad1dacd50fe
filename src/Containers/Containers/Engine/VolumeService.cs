using Containers.Build;

namespace Containers;

/// <summary>
/// Named volumes of an engine's root (docker volume): create, list, inspect, remove, prune. A container that mounts a
/// missing named volume creates it; an empty volume is filled from the image's content at its mount point on first use.
/// Reached as <see cref="ContainerEngine.Volumes"/>.
/// </summary>
public sealed class VolumeService
{
    private readonly RuntimeContext ctx;
    private readonly ImmutableArray<IVolumeDriver> drivers;

    internal VolumeService(RuntimeContext ctx, ImmutableArray<IVolumeDriver> drivers = default)
    {
        this.ctx = ctx;
        this.drivers = drivers.IsDefault ? [] : drivers;
    }

    /// <summary>The drivers besides local.</summary>
    public IReadOnlyList<string> Drivers => ["local", .. drivers.Select(d => d.Name)];

    /// <summary>Creates a volume (an anonymous one when <paramref name="name"/> is null), or returns the existing one. Throws <see cref="InvalidContainerSpecException"/> for a bad name.</summary>
    public VolumeInfo Create(string? name = null, IReadOnlyDictionary<string, string>? labels = null) =>
        ctx.Volumes.Create(name, labels?.ToImmutableDictionary(), ctx.Time.GetUtcNow());

    /// <summary>
    /// Creates a volume of <paramref name="driver"/> with its options (docker volume create --driver --opt), or returns
    /// the existing one (which must be of that driver). Throws <see cref="InvalidContainerSpecException"/> for an unknown
    /// driver or options it refuses.
    /// </summary>
    public VolumeInfo Create(string? name, IReadOnlyDictionary<string, string>? labels, string driver, IReadOnlyDictionary<string, string>? options)
    {
        if (driver == "local")
        {
            return ctx.Volumes.Create(name, labels?.ToImmutableDictionary(), ctx.Time.GetUtcNow(), "local", options?.ToImmutableDictionary());
        }

        var d = DriverOf(driver, name ?? "");
        var made = ctx.Volumes.Create(name, labels?.ToImmutableDictionary(), ctx.Time.GetUtcNow(), driver, (options ?? ImmutableDictionary<string, string>.Empty).ToImmutableDictionary(), d.Create);
        return made.Driver == driver ? made : throw new ContainerConflictException($"volume {made.Name} exists with driver {made.Driver}, not {driver}");
    }

    private IVolumeDriver DriverOf(string driver, string volume) =>
        drivers.FirstOrDefault(d => d.Name == driver)
        ?? throw new InvalidContainerSpecException($"volume {volume}: driver '{driver}' is not available (drivers: {string.Join(", ", Drivers)})");

    /// <summary>Attaches the volumes of drivers other than local that <paramref name="spec"/> mounts.</summary>
    internal void Attach(ContainerSpec spec)
    {
        foreach (var name in VolumeStore.UsedBy(spec).Distinct(StringComparer.Ordinal))
        {
            if (ctx.Volumes.Get(name) is { Driver: not "local" } v)
            {
                DriverOf(v.Driver, name).Attach(v);
            }
        }
    }

    /// <summary>Every volume.</summary>
    public IReadOnlyList<VolumeInfo> List() => ctx.Volumes.List();

    /// <summary>A volume by name. Throws <see cref="ContainerNotFoundException"/>.</summary>
    public VolumeInfo Get(string name) => ctx.Volumes.Get(name) ?? throw new ContainerNotFoundException($"no such volume: {name}");

    /// <summary>
    /// Removes a volume and its data. Throws <see cref="ContainerConflictException"/> when any container (running or
    /// not) uses it, and <see cref="ContainerNotFoundException"/> when it does not exist unless <paramref name="force"/>.
    /// </summary>
    public void Remove(string name, bool force = false)
    {
        if (ctx.Volumes.Get(name) is null)
        {
            if (force)
            {
                return;
            }

            throw new ContainerNotFoundException($"no such volume: {name}");
        }

        var users = ctx.Store.List().Where(c => VolumeStore.UsedBy(c.Spec).Contains(name)).ToArray();
        if (users.Length > 0)
        {
            throw new ContainerConflictException($"remove {name}: volume is in use - [{string.Join(", ", users.Select(u => u.Id))}]");
        }

        if (ctx.Volumes.Get(name) is { Driver: not "local" } v)
        {
            DriverOf(v.Driver, name).Remove(v);
        }

        ctx.Volumes.Delete(name);
    }

    /// <summary>Removes volumes no container uses: anonymous ones only unless <paramref name="all"/>. Returns their names.</summary>
    public IReadOnlyList<string> Prune(bool all = false)
    {
        var used = ctx.Store.List().SelectMany(c => VolumeStore.UsedBy(c.Spec)).ToHashSet(StringComparer.Ordinal);
        var removed = new List<string>();
        foreach (var v in ctx.Volumes.List().Where(v => (all || v.Anonymous) && !used.Contains(v.Name)))
        {
            ctx.Volumes.Delete(v.Name);
            removed.Add(v.Name);
        }

        return removed;
    }

    /// <summary>
    /// Gives every volume mount of <paramref name="spec"/> a volume: anonymous ones get a fresh name, missing named ones
    /// are created, and an empty new volume is filled from the image's files at its mount point (docker's copy-up).
    /// </summary>
    internal ContainerSpec Prepare(ContainerSpec spec)
    {
        if (!spec.Mounts.Any(m => m.Type == MountType.Volume))
        {
            return spec;
        }

        var mounts = spec.Mounts.ToBuilder();
        for (var i = 0; i < mounts.Count; i++)
        {
            var m = mounts[i];
            if (m.Type != MountType.Volume)
            {
                continue;
            }

            var existed = m.Source.Length > 0 && ctx.Volumes.Get(m.Source) is not null;
            var volume = ctx.Volumes.Create(m.Source.Length == 0 ? null : m.Source, null, ctx.Time.GetUtcNow());
            mounts[i] = m with { Source = volume.Name };
            if (!existed && spec.Rootfs.Length > 0)
            {
                CopyUp(spec, m.Target, volume);
            }
        }

        return spec with { Mounts = mounts.ToImmutable() };
    }

    private void CopyUp(ContainerSpec spec, string target, VolumeInfo volume)
    {
        var view = new MergedView([spec.Rootfs, .. spec.LowerLayers], ctx.Sys);
        var rel = target.Trim('/');
        if (view.Resolve(rel) is not { } source || ctx.Sys.LStat(source) is not { IsDirectory: true } top || Directory.EnumerateFileSystemEntries(volume.Mountpoint).Any())
        {
            return;
        }

        CopyMetadata(volume.Mountpoint, top);
        Walk(view, rel, volume.Mountpoint);
    }

    private void Walk(MergedView view, string rel, string destination)
    {
        foreach (var name in view.List(rel))
        {
            var childRel = rel.Length == 0 ? name : rel + "/" + name;
            if (view.Resolve(childRel) is not { } host || ctx.Sys.LStat(host) is not { } st)
            {
                continue;
            }

            var dest = Path.Combine(destination, name);
            switch (st.Type)
            {
                case FileStatus.Directory:
                    Directory.CreateDirectory(dest);
                    CopyMetadata(dest, st);
                    Walk(view, childRel, dest);
                    break;
                case FileStatus.Symlink:
                    ctx.Sys.Symlink(ctx.Sys.ReadLink(host), dest);
                    ctx.Sys.LChown(dest, st.Uid, st.Gid);
                    break;
                case FileStatus.Regular:
                    File.Copy(host, dest);
                    CopyMetadata(dest, st);
                    break;
                default:
                    break; // devices and fifos are not copied into volumes
            }
        }
    }

    private void CopyMetadata(string to, FileStatus st)
    {
        ctx.Sys.LChown(to, st.Uid, st.Gid);
        ctx.Sys.Chmod(to, st.Permissions);
        ctx.Sys.SetTimes(to, st.MtimeNs, st.MtimeNs);
    }
}
