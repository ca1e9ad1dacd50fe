using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Api;

/// <summary>A kind the API server serves: where it lives in the URL space and how it behaves.</summary>
/// <param name="Group">API group ("" for the core group).</param>
/// <param name="Version">API version (v1).</param>
/// <param name="Kind">The kind (Pod).</param>
/// <param name="Plural">The resource name in URLs (pods).</param>
/// <param name="Namespaced">Whether objects live in a namespace.</param>
public sealed record ResourceType(string Group, string Version, string Kind, string Plural, bool Namespaced)
{
    /// <summary>Short names kubectl accepts (po, deploy).</summary>
    public IReadOnlyList<string> ShortNames { get; init; } = [];

    /// <summary>Whether the object has a status subresource (status is written only through it).</summary>
    public bool HasStatus { get; init; }

    /// <summary>Whether the object has a scale subresource (spec.replicas).</summary>
    public bool HasScale { get; init; }

    /// <summary>Whether a spec change bumps metadata.generation.</summary>
    public bool HasGeneration { get; init; }

    /// <summary>What the kind does in the generic store (defaults, validation, deletion, columns): see <see cref="KindStrategy"/>.</summary>
    internal KindStrategy Strategy { get; init; } = KindStrategy.Plain;

    /// <summary>
    /// For an older version served of a kind stored in another (autoscaling/v1 HorizontalPodAutoscaler, stored as
    /// autoscaling/v2): the stored version. Objects are converted on the way in and out of the API server.
    /// </summary>
    public ResourceType? Stored { get; init; }

    /// <summary>The conversion between this version and <see cref="Stored"/>.</summary>
    internal IVersionConversion? Conversion { get; init; }

    /// <summary>The lower-case singular name.</summary>
    public string Singular => Kind.ToLowerInvariant();

    /// <summary>group/version, or just the version for the core group.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The name the store files objects under (pods, deployments.apps).</summary>
    public string StoreName => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>The kinds served (see <see cref="KindRegistry"/>).</summary>
    public static IReadOnlyList<ResourceType> All => KindRegistry.All;

    /// <summary>
    /// The groups served besides the core group, with their one version: those with a kind served. The Scale
    /// (autoscaling/v1) and Eviction (policy/v1) of the scale and eviction subresources are named by their
    /// subresources' discovery entries; a group listed with no resources fails kubectl's discovery ("received empty
    /// response for: policy/v1"), so neither is listed.
    /// </summary>
    public static IReadOnlyList<string> Groups { get; } = [.. KindRegistry.All.Select(t => t.Group).Where(g => g.Length > 0).Distinct()];

    /// <summary>The kinds as stored (each kind once, in the version it is stored in).</summary>
    public static IEnumerable<ResourceType> Stores => All.Where(t => t.Stored is null);

    /// <summary>The served kind with that group and plural (or kind), or null (in its stored version when several are served).</summary>
    public static ResourceType? Find(string group, string pluralOrKind) =>
        All.FirstOrDefault(t => t.Stored is null && t.Group == group && (t.Plural == pluralOrKind || t.Kind == pluralOrKind));

    /// <summary>The kind served at group/version/plural, or null.</summary>
    public static ResourceType? Find(string group, string version, string plural) =>
        All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Plural == plural);

    /// <summary>The kind for an apiVersion + kind pair as in a manifest, or null.</summary>
    public static ResourceType? ForKind(string apiVersion, string kind)
    {
        string group = apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
        string version = apiVersion[(apiVersion.IndexOf('/', StringComparison.Ordinal) + 1)..];
        return All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Kind == kind);
    }

    /// <summary>Well-known kinds.</summary>
    public static ResourceType Pods { get; } = Find("", "pods")!;

    /// <summary>Leases (coordination.k8s.io/v1): leader election.</summary>
    public static ResourceType Leases { get; } = Find("coordination.k8s.io", "leases")!;

    /// <summary>Namespaces.</summary>
    public static ResourceType Namespaces { get; } = Find("", "namespaces")!;

    /// <summary>Nodes.</summary>
    public static ResourceType Nodes { get; } = Find("", "nodes")!;

    /// <summary>Services.</summary>
    public static ResourceType Services { get; } = Find("", "services")!;

    /// <summary>Endpoints.</summary>
    public static ResourceType Endpoints { get; } = Find("", "endpoints")!;

    /// <summary>Events.</summary>
    public static ResourceType Events { get; } = Find("", "events")!;

    /// <summary>ConfigMaps.</summary>
    public static ResourceType ConfigMaps { get; } = Find("", "configmaps")!;

    /// <summary>Secrets.</summary>
    public static ResourceType Secrets { get; } = Find("", "secrets")!;

    /// <summary>PersistentVolumeClaims.</summary>
    public static ResourceType Claims { get; } = Find("", "persistentvolumeclaims")!;

    /// <summary>PersistentVolumes.</summary>
    public static ResourceType Volumes { get; } = Find("", "persistentvolumes")!;

    /// <summary>StorageClasses.</summary>
    public static ResourceType StorageClasses { get; } = Find("storage.k8s.io", "storageclasses")!;

    /// <summary>VolumeSnapshots.</summary>
    public static ResourceType Snapshots { get; } = Find("snapshot.storage.k8s.io", "volumesnapshots")!;

    /// <summary>VolumeSnapshotContents.</summary>
    public static ResourceType SnapshotContents { get; } = Find("snapshot.storage.k8s.io", "volumesnapshotcontents")!;

    /// <summary>VolumeSnapshotClasses.</summary>
    public static ResourceType SnapshotClasses { get; } = Find("snapshot.storage.k8s.io", "volumesnapshotclasses")!;

    /// <summary>Deployments.</summary>
    public static ResourceType Deployments { get; } = Find("apps", "deployments")!;

    /// <summary>ReplicaSets.</summary>
    public static ResourceType ReplicaSets { get; } = Find("apps", "replicasets")!;
}

/// <summary>Converts objects between a served version of a kind and the version it is stored in.</summary>
internal interface IVersionConversion
{
    /// <summary>The stored form of <paramref name="served"/>; <paramref name="current"/> is the stored object it replaces, if any (fields the served version cannot say are kept from it).</summary>
    JsonObject ToStored(JsonObject served, JsonObject? current);

    /// <summary>The served form of a stored object.</summary>
    JsonObject FromStored(JsonObject stored);
}
