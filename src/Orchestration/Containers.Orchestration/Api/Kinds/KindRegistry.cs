namespace Containers.Orchestration.Api.Kinds;

/// <summary>The kinds served, in discovery's order: a new kind is its strategy's file and one line here.</summary>
internal static class KindRegistry
{
    /// <summary>Every kind served.</summary>
    public static IReadOnlyList<ResourceType> All { get; } =
    [
        NamespaceStrategy.Type,
        PodStrategy.Type,
        ServiceStrategy.Type,
        EndpointsStrategy.Type,
        ConfigMapStrategy.Type,
        SecretStrategy.Type,
        NodeStrategy.Type,
        EventStrategy.Type,
        PersistentVolumeStrategy.Type,
        PersistentVolumeClaimStrategy.Type,
        ServiceAccountStrategy.Type,
        DeploymentStrategy.Type,
        ReplicaSetStrategy.Type,
        ControllerRevisionStrategy.Type,
        LeaseStrategy.Type,
        CertificateSigningRequestStrategy.Type,
        DaemonSetStrategy.Type,
        StatefulSetStrategy.Type,
        JobStrategy.Type,
        CronJobStrategy.Type,
        PodDisruptionBudgetStrategy.Type,
        HorizontalPodAutoscalerStrategy.Type,
        HorizontalPodAutoscalerStrategy.V1,
        IngressStrategy.Type,
        IngressClassStrategy.Type,
        NetworkPolicyStrategy.Type,
        RoleStrategy.Type,
        ClusterRoleStrategy.Type,
        RoleBindingStrategy.Type,
        ClusterRoleBindingStrategy.Type,
        StorageClassStrategy.Type,
        VolumeSnapshotClassStrategy.Type,
        VolumeSnapshotStrategy.Type,
        VolumeSnapshotContentStrategy.Type,
        ReviewStrategy.SelfSubjectAccessReview,
        ReviewStrategy.SubjectAccessReview,
        ReviewStrategy.LocalSubjectAccessReview,
        ReviewStrategy.SelfSubjectRulesReview,
        ReviewStrategy.TokenReview,
        ReviewStrategy.SelfSubjectReview,
        MetricsStrategy.Pods,
        MetricsStrategy.Nodes,
    ];
}
