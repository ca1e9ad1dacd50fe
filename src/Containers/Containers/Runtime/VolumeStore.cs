using System.Text.Json.Serialization;

namespace Containers.Runtime;

/// <summary>A named volume: a directory under the root that outlives the containers that mount it.</summary>
/// <param name="Name">Its name (64 hex digits for an anonymous volume).</param>
/// <param name="Mountpoint">The host directory holding its data.</param>
/// <param name="CreatedAt">When it was made.</param>
/// <param name="Labels">Its labels.</param>
/// <param name="Anonymous">True for a volume made for one container (removed with it by <c>--rm</c>).</param>
/// <param name="Driver">Its driver: <c>local</c> (a directory of the root), or a registered <see cref="IVolumeDriver"/>'s name.</param>
/// <param name="Options">Its driver's options (<c>--opt KEY=VALUE</c>).</param>
public sealed record VolumeInfo(string Name, string Mountpoint, DateTimeOffset CreatedAt, ImmutableDictionary<string, string> Labels, bool Anonymous, string Driver = "local", ImmutableDictionary<string, string>? Options = null);

/// <summary>Volume names as docker allows them.</summary>
public static class VolumeNames
{
    /// <summary>True for <c>[a-zA-Z0-9][a-zA-Z0-9_.-]+</c>.</summary>
    public static bool IsValid(string name) =>
        name.Length >= 2 && char.IsAsciiLetterOrDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');
}

/// <summary><c>volumes/&lt;name&gt;/_data</c> and <c>volume.json</c> under the root; changes under the root's lock.</summary>
internal sealed class VolumeStore(string root, ISyscalls sys)
{
    private readonly string dir = Path.Combine(root, "volumes");

    public string DataPath(string name) => Path.Combine(dir, name, "_data");

    public VolumeInfo? Get(string name)
    {
        var file = Path.Combine(dir, name, "volume.json");
        var bytes = VolumeNames.IsValid(name) ? RawFile.Read(sys, file) : null;
        return bytes is null ? null : JsonSerializer.Deserialize(bytes, VolumeJsonContext.Default.VolumeInfo);
    }

    public IReadOnlyList<VolumeInfo> List() => Directory.Exists(dir)
        ? [.. Directory.EnumerateDirectories(dir).Select(d => Get(Path.GetFileName(d))).OfType<VolumeInfo>().OrderBy(v => v.Name, StringComparer.Ordinal)]
        : [];

    /// <summary>Creates the volume, or returns it when it exists (docker's create is idempotent). A null name makes an anonymous one.</summary>
    public VolumeInfo Create(string? name, ImmutableDictionary<string, string>? labels, DateTimeOffset now, string driver = "local", ImmutableDictionary<string, string>? options = null, Action<VolumeInfo>? made = null)
    {
        var anonymous = name is null;
        name ??= Linux.RandomIds.NewHex();
        if (!VolumeNames.IsValid(name))
        {
            throw new InvalidContainerSpecException($"invalid volume name '{name}': only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
        }

        return FileLock.Run(sys, Path.Combine(root, "lock"), () =>
        {
            if (Get(name) is { } existing)
            {
                return existing;
            }

            Directory.CreateDirectory(DataPath(name));
            var info = new VolumeInfo(name, DataPath(name), now, labels ?? ImmutableDictionary<string, string>.Empty, anonymous, driver, options);
            try
            {
                made?.Invoke(info);
            }
            catch
            {
                Directory.Delete(Path.Combine(dir, name), recursive: true);
                throw;
            }

            RawFile.Replace(sys, Path.Combine(dir, name, "volume.json"), JsonSerializer.SerializeToUtf8Bytes(info, VolumeJsonContext.Default.VolumeInfo));
            return info;
        });
    }

    /// <summary>Deletes the volume and its data (the caller checked that no container uses it).</summary>
    public void Delete(string name)
    {
        var path = Path.Combine(dir, name);
        if (!Directory.Exists(path))
        {
            return;
        }

        var doomed = Path.Combine(dir, ".deleting-" + name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.Move(path, doomed);
        Directory.Delete(doomed, recursive: true);
    }

    /// <summary>Names of volumes a container spec mounts.</summary>
    public static IEnumerable<string> UsedBy(ContainerSpec spec) =>
        spec.Mounts.Where(m => m.Type == MountType.Volume && m.Source.Length > 0).Select(m => m.Source);
}

[JsonSerializable(typeof(VolumeInfo))]
internal sealed partial class VolumeJsonContext : JsonSerializerContext;
