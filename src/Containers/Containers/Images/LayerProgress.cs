namespace Containers.Images;

/// <summary>What is happening to one layer (or config/manifest blob) during a pull, push, load or save.</summary>
public enum LayerPhase
{
    /// <summary>Waiting for a download slot.</summary>
    Waiting,

    /// <summary>Already in the store (pull) or in the registry (push).</summary>
    AlreadyExists,

    /// <summary>Bytes are moving (and, for a pull, being unpacked as they arrive).</summary>
    Transferring,

    /// <summary>Mounted from another repository of the same registry (push).</summary>
    Mounted,

    /// <summary>Done: verified and stored, or uploaded.</summary>
    Complete,
}

/// <summary>Progress of one blob, reported through <see cref="IProgress{T}"/>.</summary>
/// <param name="Digest">The blob's digest.</param>
/// <param name="Phase">What is happening.</param>
/// <param name="Current">Bytes done.</param>
/// <param name="Total">Bytes in all (the descriptor's size).</param>
public readonly record struct LayerProgress(Digest Digest, LayerPhase Phase, long Current, long Total);
