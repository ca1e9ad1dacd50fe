namespace Containers;

/// <summary>
/// A named volume kept by something other than a directory of the root (docker's volume plugins): made with
/// <c>volume create --driver NAME</c>, attached before every start of a container that mounts it, so that the
/// volume's <see cref="Runtime.VolumeInfo.Mountpoint"/> holds its data, and removed with it. Registered through
/// <see cref="EngineOptions.VolumeDrivers"/>.
/// </summary>
public interface IVolumeDriver
{
    /// <summary>The driver's name (<c>--driver NAME</c>).</summary>
    string Name { get; }

    /// <summary>Checks a new volume's options and makes what it needs; throws <see cref="InvalidContainerSpecException"/> for bad options.</summary>
    void Create(Runtime.VolumeInfo volume);

    /// <summary>Makes the volume's data present at its mountpoint (a container that mounts it is about to start).</summary>
    void Attach(Runtime.VolumeInfo volume);

    /// <summary>Removes the volume's data (no container uses it).</summary>
    void Remove(Runtime.VolumeInfo volume);
}
