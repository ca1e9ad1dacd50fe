using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Api;

/// <summary>
/// The controllers' identities, as kube-controller-manager's <c>--use-service-account-credentials</c> gives them: each
/// controller is the service account of its name in kube-system, bound by a ClusterRoleBinding of the same name to the
/// ClusterRole <c>system:controller:NAME</c> (the rules of Kubernetes' controller bootstrap policy for the controllers
/// this cluster runs). Denying a controller something is then a matter of RBAC, as in Kubernetes.
/// </summary>
public static class ControllerPolicy
{
    /// <summary>The prefix of the controllers' ClusterRoles.</summary>
    public const string RolePrefix = "system:controller:";

    private const string Read = "get list watch";

    /// <summary>The root-ca-cert-publisher's account (the part of the service-account controller that writes kube-root-ca.crt).</summary>
    public const string RootCaPublisher = "root-ca-cert-publisher";

    // each controller's account and rules (Kubernetes' names: endpoint-controller, generic-garbage-collector, persistent-volume-binder)
    private static readonly (string Account, JsonObject[] Rules)[] Roles =
    [
        ("replicaset-controller",
        [
            BootstrapPolicy.Rule("get list watch update", "apps", "replicasets"),
            BootstrapPolicy.Rule("update", "apps", "replicasets/status replicasets/finalizers"),
            BootstrapPolicy.Rule("list watch patch create delete", "", "pods"),
            Events(),
        ]),
        ("deployment-controller",
        [
            BootstrapPolicy.Rule("get list watch update", "apps", "deployments"),
            BootstrapPolicy.Rule("update", "apps", "deployments/status deployments/finalizers"),
            BootstrapPolicy.Rule("get list watch create update patch delete", "apps", "replicasets"),
            BootstrapPolicy.Rule("get list watch update", "", "pods"),
            Events(),
        ]),
        ("daemon-set-controller",
        [
            BootstrapPolicy.Rule(Read, "apps", "daemonsets"),
            BootstrapPolicy.Rule("update", "apps", "daemonsets/status daemonsets/finalizers"),
            BootstrapPolicy.Rule("list watch", "", "nodes"),
            BootstrapPolicy.Rule("list watch create delete patch", "", "pods"),
            BootstrapPolicy.Rule("create", "", "pods/binding"),
            BootstrapPolicy.Rule("get list watch create delete update patch", "apps", "controllerrevisions"),
            Events(),
        ]),
        ("statefulset-controller",
        [
            BootstrapPolicy.Rule("list watch", "", "pods"),
            BootstrapPolicy.Rule(Read, "apps", "statefulsets"),
            BootstrapPolicy.Rule("update", "apps", "statefulsets/status statefulsets/finalizers"),
            BootstrapPolicy.Rule("get create delete update patch", "", "pods"),
            BootstrapPolicy.Rule("get create delete update patch list watch", "apps", "controllerrevisions"),
            BootstrapPolicy.Rule("get create", "", "persistentvolumeclaims"),
            BootstrapPolicy.Rule("update delete", "", "persistentvolumeclaims"),
            Events(),
        ]),
        ("disruption-controller",
        [
            BootstrapPolicy.Rule(Read, "apps", "deployments replicasets statefulsets"),
            BootstrapPolicy.Rule(Read, "policy", "poddisruptionbudgets"),
            BootstrapPolicy.Rule("update", "policy", "poddisruptionbudgets/status"),
            Events(),
        ]),
        ("horizontal-pod-autoscaler",
        [
            BootstrapPolicy.Rule(Read, "autoscaling", "horizontalpodautoscalers"),
            BootstrapPolicy.Rule("update", "autoscaling", "horizontalpodautoscalers/status"),
            BootstrapPolicy.Rule("get update", "apps", "deployments/scale replicasets/scale statefulsets/scale"),
            BootstrapPolicy.Rule("list", "", "pods"),
            BootstrapPolicy.Rule("list", "metrics.k8s.io", "pods"),
            Events(),
        ]),
        ("job-controller",
        [
            BootstrapPolicy.Rule("get list watch update patch", "batch", "jobs"),
            BootstrapPolicy.Rule("update", "batch", "jobs/status jobs/finalizers"),
            BootstrapPolicy.Rule("list watch create delete patch", "", "pods"),
            Events(),
        ]),
        ("cronjob-controller",
        [
            BootstrapPolicy.Rule("get list watch update", "batch", "cronjobs"),
            BootstrapPolicy.Rule("get list watch create update delete patch", "batch", "jobs"),
            BootstrapPolicy.Rule("update", "batch", "cronjobs/status cronjobs/finalizers"),
            BootstrapPolicy.Rule("list delete", "", "pods"),
            Events(),
        ]),
        ("node-ipam-controller",
        [
            BootstrapPolicy.Rule(Read + " patch update", "", "nodes"),
            Events(),
        ]),
        ("certificatesigningrequest-controller",
        [
            BootstrapPolicy.Rule(Read, "certificates.k8s.io", "certificatesigningrequests"),
            BootstrapPolicy.Rule("update", "certificates.k8s.io", "certificatesigningrequests/status certificatesigningrequests/approval"),
            Events(),
        ]),
        ("ttl-after-finished-controller",
        [
            BootstrapPolicy.Rule("get list watch delete", "batch", "jobs"),
            Events(),
        ]),
        ("service-controller",
        [
            BootstrapPolicy.Rule(Read, "", "services"),
            BootstrapPolicy.Rule("patch update", "", "services/status"),
            Events(),
        ]),
        ("endpoint-controller",
        [
            BootstrapPolicy.Rule(Read, "", "services pods"),
            BootstrapPolicy.Rule("get list watch create update delete", "", "endpoints"),
            BootstrapPolicy.Rule("create", "", "endpoints/restricted"),
            Events(),
        ]),
        ("generic-garbage-collector",
        [
            BootstrapPolicy.Rule("get list watch patch update delete", "*", "*"),
            Events(),
        ]),
        ("node-controller",
        [
            BootstrapPolicy.Rule("get list watch update delete patch", "", "nodes"),
            BootstrapPolicy.Rule("patch update", "", "nodes/status pods/status"),
            BootstrapPolicy.Rule("list watch get delete", "", "pods"),
            Events(),
        ]),
        ("namespace-controller",
        [
            BootstrapPolicy.Rule("get list watch delete", "", "namespaces"),
            BootstrapPolicy.Rule("update", "", "namespaces/finalize namespaces/status"),
            BootstrapPolicy.Rule("get list watch delete deletecollection", "*", "*"),
        ]),
        ("persistent-volume-binder",
        [
            BootstrapPolicy.Rule("get list watch update create delete", "", "persistentvolumes"),
            BootstrapPolicy.Rule("update", "", "persistentvolumes/status persistentvolumeclaims/status"),
            BootstrapPolicy.Rule("get list watch update", "", "persistentvolumeclaims"),
            BootstrapPolicy.Rule("list watch get create delete", "", "pods"),
            BootstrapPolicy.Rule(Read, "storage.k8s.io", "storageclasses"),
            BootstrapPolicy.Rule("list watch", "", "nodes"),
            // replicated volumes: a new volume filled from a snapshot or a backup under its lease; a deleted one's lease goes
            BootstrapPolicy.Rule("get create update patch delete", "coordination.k8s.io", "leases"),
            BootstrapPolicy.Rule(Read, "snapshot.storage.k8s.io", "volumesnapshots volumesnapshotcontents volumesnapshotclasses"),
            BootstrapPolicy.Rule("get", "", "secrets"),
            Events(),
        ]),
        ("snapshot-controller",
        [
            BootstrapPolicy.Rule("get list watch update patch delete create", "snapshot.storage.k8s.io", "volumesnapshots volumesnapshotcontents"),
            BootstrapPolicy.Rule("update patch", "snapshot.storage.k8s.io", "volumesnapshots/status volumesnapshotcontents/status"),
            BootstrapPolicy.Rule(Read, "snapshot.storage.k8s.io", "volumesnapshotclasses"),
            BootstrapPolicy.Rule(Read, "", "persistentvolumeclaims persistentvolumes nodes"),
            BootstrapPolicy.Rule(Read, "storage.k8s.io", "storageclasses"),
            BootstrapPolicy.Rule("get create update patch", "coordination.k8s.io", "leases"),
            BootstrapPolicy.Rule("get", "", "secrets"),
            Events(),
        ]),
        ("service-account-controller",
        [
            BootstrapPolicy.Rule("create", "", "serviceaccounts"),
            Events(),
        ]),
        (RootCaPublisher,
        [
            BootstrapPolicy.Rule("create update", "", "configmaps"),
            Events(),
        ]),
        ("clusterrole-aggregation-controller",
        [
            BootstrapPolicy.Rule("escalate get list watch update patch", Rbac.Group, "clusterroles"),
        ]),
    ];

    /// <summary>The accounts of the controllers, by the names they run under here (their loggers' categories).</summary>
    private static readonly Dictionary<string, string> AccountOf = new(StringComparer.Ordinal)
    {
        ["endpoints-controller"] = "endpoint-controller",
        ["daemonset-controller"] = "daemon-set-controller",
        ["garbage-collector"] = "generic-garbage-collector",
        ["persistentvolume-controller"] = "persistent-volume-binder",
        ["serviceaccount-controller"] = "service-account-controller",
    };

    /// <summary>The service account (in kube-system) the controller named <paramref name="controller"/> acts as.</summary>
    public static string AccountFor(string controller) => AccountOf.GetValueOrDefault(controller, controller);

    /// <summary>The controllers' ClusterRoles (<c>system:controller:NAME</c>).</summary>
    public static IReadOnlyList<JsonObject> ClusterRoles() =>
        [.. Roles.Select(r => BootstrapPolicy.ClusterRole(RolePrefix + r.Account, null, r.Rules))];

    /// <summary>The controllers' ClusterRoleBindings, each binding its role to the controller's service account in kube-system.</summary>
    public static IReadOnlyList<JsonObject> ClusterRoleBindings() =>
        [.. Roles.Select(r => BootstrapPolicy.Binding(RolePrefix + r.Account, [BootstrapPolicy.Subject("ServiceAccount", r.Account, "kube-system")]))];

    /// <summary>Creates the controllers' service accounts in kube-system that are missing (as kube-controller-manager does at start).</summary>
    public static void EnsureAccounts(ObjectApi api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var accounts = ResourceType.Find("", "serviceaccounts")!;
        foreach (var (account, _) in Roles)
        {
            if (api.TryGet(accounts, "kube-system", account) is null)
            {
                try
                {
                    api.Create(accounts, "kube-system", new JsonObject { ["metadata"] = new JsonObject { ["name"] = account } });
                }
                catch (ApiException e) when (e.Code == 409)
                {
                    // made meanwhile
                }
            }
        }
    }

    private static JsonObject Events() => BootstrapPolicy.Rule("create update patch", "", "events");
}
