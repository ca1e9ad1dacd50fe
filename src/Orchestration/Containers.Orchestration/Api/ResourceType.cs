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

    /// <summary>The lower-case singular name.</summary>
    public string Singular => Kind.ToLowerInvariant();

    /// <summary>group/version, or just the version for the core group.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The name the store files objects under (pods, deployments.apps).</summary>
    public string StoreName => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>The kinds served.</summary>
    public static IReadOnlyList<ResourceType> All { get; } =
    [
        new("", "v1", "Namespace", "namespaces", false) { ShortNames = ["ns"], HasStatus = true },
        new("", "v1", "Pod", "pods", true) { ShortNames = ["po"], HasStatus = true },
        new("", "v1", "Service", "services", true) { ShortNames = ["svc"], HasStatus = true },
        new("", "v1", "Endpoints", "endpoints", true) { ShortNames = ["ep"] },
        new("", "v1", "ConfigMap", "configmaps", true) { ShortNames = ["cm"] },
        new("", "v1", "Secret", "secrets", true),
        new("", "v1", "Node", "nodes", false) { ShortNames = ["no"], HasStatus = true },
        new("", "v1", "Event", "events", true) { ShortNames = ["ev"] },
        new("", "v1", "PersistentVolume", "persistentvolumes", false) { ShortNames = ["pv"], HasStatus = true },
        new("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true) { ShortNames = ["pvc"], HasStatus = true },
        new("", "v1", "ServiceAccount", "serviceaccounts", true) { ShortNames = ["sa"] },
        new("apps", "v1", "Deployment", "deployments", true) { ShortNames = ["deploy"], HasStatus = true, HasScale = true, HasGeneration = true },
        new("apps", "v1", "ReplicaSet", "replicasets", true) { ShortNames = ["rs"], HasStatus = true, HasScale = true, HasGeneration = true },
        new("apps", "v1", "ControllerRevision", "controllerrevisions", true),
    ];

    /// <summary>
    /// The groups served besides the core group, with their one version: those with a kind served. The Scale
    /// (autoscaling/v1) and Eviction (policy/v1) of the scale and eviction subresources are named by their
    /// subresources' discovery entries; a group listed with no resources fails kubectl's discovery ("received empty
    /// response for: policy/v1"), so neither is listed.
    /// </summary>
    public static IReadOnlyList<string> Groups { get; } = ["apps"];

    /// <summary>The served kind with that group and plural (or kind), or null.</summary>
    public static ResourceType? Find(string group, string pluralOrKind) =>
        All.FirstOrDefault(t => t.Group == group && (t.Plural == pluralOrKind || t.Kind == pluralOrKind));

    /// <summary>The kind for an apiVersion + kind pair as in a manifest, or null.</summary>
    public static ResourceType? ForKind(string apiVersion, string kind)
    {
        string group = apiVersion.Contains('/', StringComparison.Ordinal) ? apiVersion[..apiVersion.IndexOf('/', StringComparison.Ordinal)] : "";
        string version = apiVersion[(apiVersion.IndexOf('/', StringComparison.Ordinal) + 1)..];
        return All.FirstOrDefault(t => t.Group == group && t.Version == version && t.Kind == kind);
    }

    /// <summary>Well-known kinds.</summary>
    public static ResourceType Pods { get; } = Find("", "pods")!;

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

    /// <summary>Deployments.</summary>
    public static ResourceType Deployments { get; } = Find("apps", "deployments")!;

    /// <summary>ReplicaSets.</summary>
    public static ResourceType ReplicaSets { get; } = Find("apps", "replicasets")!;
}
