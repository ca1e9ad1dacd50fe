using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Api;

/// <summary>
/// The default roles and bindings kube-apiserver makes at start (its RBAC bootstrap policy): cluster-admin for
/// <c>system:masters</c>; admin, edit and view as ClusterRoles aggregated from the <c>system:aggregate-to-*</c> roles;
/// discovery, basic-user and public-info-viewer for every caller; and the roles of the components (node,
/// kube-controller-manager, kube-scheduler, kube-proxy). Those marked <c>rbac.authorization.kubernetes.io/autoupdate:
/// "true"</c> are set back to the defaults at each start; a user who wants to keep a change sets it to "false".
/// </summary>
public static class BootstrapPolicy
{
    /// <summary>The label that marks the defaults.</summary>
    public const string BootstrappingLabel = "kubernetes.io/bootstrapping";

    /// <summary>The annotation that lets a start set a default back.</summary>
    public const string AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate";

    private const string Read = "get list watch", Write = "create delete deletecollection patch update", All = "create delete deletecollection get list patch update watch";

    /// <summary>The rules of <c>system:node</c> (what a node may do besides what the Node authorizer checks object by object).</summary>
    internal static IReadOnlyList<JsonObject> NodeRules =>
    [
        Rule("create", "authentication.k8s.io", "tokenreviews"),
        Rule("create", "authorization.k8s.io", "localsubjectaccessreviews subjectaccessreviews"),
        Rule(Read, "", "services"),
        Rule("create get list watch", "", "nodes"),
        Rule("patch update", "", "nodes/status nodes"),
        Rule("create patch update", "", "events"),
        Rule(Read, "", "pods"),
        Rule("create delete", "", "pods"),
        Rule("patch update", "", "pods/status"),
        Rule("create", "", "pods/eviction"),
        Rule("get", "", "endpoints"),
        Rule("create delete get patch update", "coordination.k8s.io", "leases"),
        Rule("get patch update", "", "persistentvolumeclaims/status"),
        Rule("list watch get patch update", "snapshot.storage.k8s.io", "volumesnapshotcontents"), // snapshots of replicated volumes attached here
        Rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests"), // its certificate's renewal
        // what the service proxy and the network-policy agent of a machine that joined read as its node
        Rule("list watch", "", "endpoints"),
        Rule(Read, "", "namespaces"), // and checks a namespace is live before writing in it, as the API server does again
        Rule(Read, "networking.k8s.io", "networkpolicies"),
    ];

    /// <summary>The default ClusterRoles (with the controllers' system:controller: roles of <see cref="ControllerPolicy"/>).</summary>
    public static IReadOnlyList<JsonObject> ClusterRoles() =>
    [
        ClusterRole("cluster-admin", null, [Rule("*", "*", "*"), Urls("*", "*")]),
        Aggregated("admin", "admin", null),
        Aggregated("edit", "edit", "admin"),
        Aggregated("view", "view", "edit"),
        ClusterRole("system:aggregate-to-admin", "admin",
        [
            Rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
            Rule(All, Rbac.Group, "rolebindings roles"),
        ]),
        ClusterRole("system:aggregate-to-edit", "edit",
        [
            Rule(Read, "", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy"),
            Rule("impersonate", "", "serviceaccounts"),
            Rule(Write, "", "pods pods/attach pods/exec pods/portforward pods/proxy"),
            Rule("create", "", "pods/eviction"),
            Rule(Write, "", "configmaps events persistentvolumeclaims replicationcontrollers replicationcontrollers/scale secrets serviceaccounts services services/proxy"),
            Rule("create", "", "serviceaccounts/token"),
            Rule(Write, "apps", "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale statefulsets statefulsets/scale"),
            Rule(Write, "autoscaling", "horizontalpodautoscalers"),
            Rule(Write, "batch", "cronjobs jobs"),
            Rule(Write, "policy", "poddisruptionbudgets"),
            Rule(Write, "networking.k8s.io", "ingresses networkpolicies"),
            Rule(All, "coordination.k8s.io", "leases"),
        ]),
        ClusterRole("system:aggregate-to-view", "view",
        [
            Rule(Read, "", "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods replicationcontrollers replicationcontrollers/scale serviceaccounts services services/status"),
            Rule(Read, "", "bindings events limitranges namespaces/status pods/log pods/status replicationcontrollers/status resourcequotas resourcequotas/status"),
            Rule(Read, "", "namespaces"),
            Rule(Read, "discovery.k8s.io", "endpointslices"),
            Rule(Read, "apps", "controllerrevisions daemonsets daemonsets/status deployments deployments/scale deployments/status replicasets replicasets/scale replicasets/status statefulsets statefulsets/scale statefulsets/status"),
            Rule(Read, "autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status"),
            Rule(Read, "batch", "cronjobs cronjobs/status jobs jobs/status"),
            Rule(Read, "policy", "poddisruptionbudgets poddisruptionbudgets/status"),
            Rule(Read, "networking.k8s.io", "ingresses ingresses/status networkpolicies"),
        ]),
        ClusterRole("system:basic-user", null,
        [
            Rule("create", "authorization.k8s.io", "selfsubjectaccessreviews selfsubjectrulesreviews"),
            Rule("create", "authentication.k8s.io", "selfsubjectreviews"),
        ]),
        ClusterRole("system:discovery", null, [Urls("get", "/api /api/* /apis /apis/* /healthz /livez /openapi /openapi/* /readyz /version /version/")]),
        ClusterRole("system:public-info-viewer", null, [Urls("get", "/healthz /livez /readyz /version /version/")]),
        ClusterRole("system:monitoring", null, [Urls("get", "/healthz /healthz/* /livez /livez/* /metrics /readyz /readyz/*")]),
        ClusterRole("system:service-account-issuer-discovery", null, [Urls("get", "/.well-known/openid-configuration /openid/v1/jwks")]),
        ClusterRole("system:auth-delegator", null,
        [
            Rule("create", "authentication.k8s.io", "tokenreviews"),
            Rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        ]),
        ClusterRole("system:node", null, NodeRules),
        ClusterRole("system:node-bootstrapper", null, [Rule("create get list watch", "certificates.k8s.io", "certificatesigningrequests")]),
        ClusterRole("system:node-proxier", null,
        [
            Rule("list watch", "", "endpoints services"),
            Rule(Read, "", "nodes"),
            Rule("create patch update", "", "events"),
        ]),
        ClusterRole("system:kube-controller-manager", null,
        [
            Rule("create patch update", "", "events"),
            Rule("create", "coordination.k8s.io", "leases"),
            Rule("create", "", "secrets serviceaccounts"),
            Rule("delete", "", "secrets"),
            Rule("get", "", "configmaps namespaces secrets serviceaccounts"),
            Rule("update", "", "secrets serviceaccounts"),
            Rule("create", "authentication.k8s.io", "tokenreviews"),
            Rule("create", "authorization.k8s.io", "subjectaccessreviews"),
            Rule("list watch", "*", "*"),
            Rule("create", "", "serviceaccounts/token"),
        ]),
        ClusterRole("system:kube-scheduler", null,
        [
            Rule("create patch update", "", "events"),
            Rule("create", "coordination.k8s.io", "leases"),
            Rule(Read, "", "nodes"),
            Rule("delete get list watch", "", "pods"),
            Rule("create", "", "bindings pods/binding"),
            Rule("patch update", "", "pods/status"),
            Rule(Read, "", "replicationcontrollers services"),
            Rule(Read, "apps", "replicasets statefulsets"),
            Rule(Read, "policy", "poddisruptionbudgets"),
            Rule(Read, "", "persistentvolumeclaims persistentvolumes namespaces"),
            Rule("patch update", "", "persistentvolumes"), // system:volume-scheduler's: a local volume gets its node's affinity
            Rule("create", "authentication.k8s.io", "tokenreviews"),
            Rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        ]),
        .. ControllerPolicy.ClusterRoles(),
    ];

    /// <summary>The default ClusterRoleBindings.</summary>
    public static IReadOnlyList<JsonObject> ClusterRoleBindings() =>
    [
        Binding("cluster-admin", ("Group", Authorizer.SuperuserGroup)),
        Binding("system:basic-user", ("Group", "system:authenticated")),
        Binding("system:discovery", ("Group", "system:authenticated")),
        Binding("system:public-info-viewer", ("Group", "system:authenticated"), ("Group", "system:unauthenticated")),
        Binding("system:monitoring", ("Group", "system:monitoring")),
        Binding("system:service-account-issuer-discovery", ("Group", "system:serviceaccounts")),
        Binding("system:kube-controller-manager", ("User", ComponentIdentities.ControllerManager)),
        Binding("system:kube-scheduler", ("User", ComponentIdentities.Scheduler)),
        Binding("system:node-proxier", ("User", ComponentIdentities.Proxy)),
        Binding("system:node-bootstrapper", ("Group", BootstrapTokens.Group)), // kubeadm's kubeadm:kubelet-bootstrap
        .. ControllerPolicy.ClusterRoleBindings(),
    ];

    /// <summary>
    /// Creates the default roles and bindings that are missing, sets those still marked for automatic update back to
    /// the defaults, and aggregates the aggregated ClusterRoles.
    /// </summary>
    public static void Reconcile(ObjectApi api)
    {
        ArgumentNullException.ThrowIfNull(api);
        foreach (var (type, defaults) in new[] { (ClusterRoleStrategy.Type, ClusterRoles()), (ClusterRoleBindingStrategy.Type, ClusterRoleBindings()) })
        {
            foreach (var wanted in defaults)
            {
                string name = Json.Name(wanted);
                var current = api.TryGet(type, null, name);
                if (current is null)
                {
                    try
                    {
                        api.Create(type, null, wanted);
                        continue;
                    }
                    catch (ApiException e) when (e.Reason == "AlreadyExists")
                    {
                        // another API server on the same store made it a moment ago (this one's cache had not seen it):
                        // theirs is the same default; taken as it is now
                        current = api.TryGet(type, null, name);
                        if (current is null)
                        {
                            throw;
                        }
                    }
                }

                if (Json.Str(current, "metadata", "annotations", AutoUpdateAnnotation) == "true")
                {
                    api.Mutate(type, null, name, o =>
                    {
                        bool changed = false;
                        foreach (string field in new[] { "rules", "aggregationRule", "roleRef", "subjects" })
                        {
                            if (wanted[field] is { } value && (field != "rules" || wanted["aggregationRule"] is null) && !JsonNode.DeepEquals(o[field], value))
                            {
                                o[field] = value.DeepClone();
                                changed = true;
                            }
                        }

                        return changed;
                    });
                }
            }
        }

        ClusterRoleAggregation.AggregateAll(api);
    }

    private static JsonObject Metadata(string name, IEnumerable<(string, string)> labels)
    {
        var l = new JsonObject { [BootstrappingLabel] = "rbac-defaults" };
        foreach (var (k, v) in labels)
        {
            l[k] = v;
        }

        return new JsonObject { ["name"] = name, ["labels"] = l, ["annotations"] = new JsonObject { [AutoUpdateAnnotation] = "true" } };
    }

    private static string AggregateLabel(string to) => $"rbac.authorization.k8s.io/aggregate-to-{to}";

    internal static JsonObject ClusterRole(string name, string? aggregateTo, IReadOnlyList<JsonObject> rules) => new()
    {
        ["apiVersion"] = $"{Rbac.Group}/v1",
        ["kind"] = "ClusterRole",
        ["metadata"] = Metadata(name, aggregateTo is null ? [] : [(AggregateLabel(aggregateTo), "true")]),
        ["rules"] = new JsonArray([.. rules.Select(r => (JsonNode)r.DeepClone())]),
    };

    private static JsonObject Aggregated(string name, string selects, string? aggregateTo) => new()
    {
        ["apiVersion"] = $"{Rbac.Group}/v1",
        ["kind"] = "ClusterRole",
        ["metadata"] = Metadata(name, aggregateTo is null ? [] : [(AggregateLabel(aggregateTo), "true")]),
        ["aggregationRule"] = new JsonObject
        {
            ["clusterRoleSelectors"] = new JsonArray(new JsonObject { ["matchLabels"] = new JsonObject { [AggregateLabel(selects)] = "true" } }),
        },
        ["rules"] = new JsonArray(),
    };

    private static JsonObject Binding(string role, params (string Kind, string Name)[] subjects) => Binding(role, subjects.Select(s => Subject(s.Kind, s.Name)));

    /// <summary>A default ClusterRoleBinding named as its role, binding it to <paramref name="subjects"/>.</summary>
    internal static JsonObject Binding(string role, IEnumerable<JsonObject> subjects) => new()
    {
        ["apiVersion"] = $"{Rbac.Group}/v1",
        ["kind"] = "ClusterRoleBinding",
        ["metadata"] = Metadata(role, []),
        ["roleRef"] = new JsonObject { ["apiGroup"] = Rbac.Group, ["kind"] = "ClusterRole", ["name"] = role },
        ["subjects"] = new JsonArray([.. subjects]),
    };

    /// <summary>A binding's subject: a User or Group (in the RBAC API group), or a ServiceAccount of <paramref name="ns"/>.</summary>
    internal static JsonObject Subject(string kind, string name, string? ns = null) => kind == "ServiceAccount"
        ? new JsonObject { ["kind"] = kind, ["name"] = name, ["namespace"] = ns }
        : new JsonObject { ["apiGroup"] = Rbac.Group, ["kind"] = kind, ["name"] = name };

    private static JsonArray Strings(string spaced) => new([.. spaced.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => (JsonNode)s)]);

    internal static JsonObject Rule(string verbs, string groups, string resources) => new()
    {
        ["apiGroups"] = groups.Length == 0 ? new JsonArray("") : Strings(groups),
        ["resources"] = Strings(resources),
        ["verbs"] = Strings(verbs),
    };

    private static JsonObject Urls(string verbs, string urls) => new() { ["nonResourceURLs"] = Strings(urls), ["verbs"] = Strings(verbs) };
}

/// <summary>
/// kube-controller-manager's clusterrole-aggregation controller: an aggregated ClusterRole's rules are the rules of
/// every ClusterRole its <c>aggregationRule.clusterRoleSelectors</c> select (each rule once, in the order of the roles'
/// names).
/// </summary>
internal static class ClusterRoleAggregation
{
    /// <summary>Sets the rules of every aggregated ClusterRole; repeats while one changed (an aggregate of aggregates), at most 8 rounds.</summary>
    public static void AggregateAll(ObjectApi api)
    {
        for (int round = 0; round < 8; round++)
        {
            var roles = api.List(ClusterRoleStrategy.Type).Items;
            bool changed = false;
            foreach (var role in roles.Where(r => Json.At(r, "aggregationRule") is JsonObject))
            {
                var rules = Aggregate(role, roles);
                if (!JsonNode.DeepEquals(Json.At(role, "rules") ?? new JsonArray(), rules))
                {
                    api.Mutate(ClusterRoleStrategy.Type, null, Json.Name(role), o =>
                    {
                        o["rules"] = rules.DeepClone();
                        return true;
                    });
                    changed = true;
                }
            }

            if (!changed)
            {
                return;
            }
        }
    }

    private static JsonArray Aggregate(JsonObject role, IReadOnlyList<JsonObject> roles)
    {
        var selectors = Json.Items(role, "aggregationRule", "clusterRoleSelectors").Select(s => LabelSelector.FromObject(s)).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var rules = new JsonArray();
        foreach (var other in roles.Where(r => Json.Name(r) != Json.Name(role) && selectors.Any(s => s.Matches(r))).OrderBy(Json.Name, StringComparer.Ordinal))
        {
            foreach (var rule in Json.Items(other, "rules"))
            {
                if (seen.Add(rule.ToJsonString()))
                {
                    rules.Add((JsonNode)rule.DeepClone());
                }
            }
        }

        return rules;
    }
}
