using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Api;

/// <summary>An authorizer's answer, as kube-apiserver's: allowed, denied, or no opinion (the next authorizer decides).</summary>
public enum AuthorizationDecision
{
    /// <summary>Nothing said: the next authorizer in the chain decides; denied when none allows.</summary>
    NoOpinion,

    /// <summary>Allowed.</summary>
    Allow,

    /// <summary>Denied, whatever the later authorizers would say.</summary>
    Deny,
}

/// <summary>
/// kube-apiserver's authorization chain (<c>--authorization-mode=Node,RBAC</c> behind the <c>system:masters</c>
/// superuser group): members of <c>system:masters</c> may do anything; the Node authorizer decides what a node
/// (<c>system:node:NAME</c> in <c>system:nodes</c>) may read; RBAC decides everything else. A denial answers 403
/// Forbidden with Kubernetes' message.
/// </summary>
public sealed class Authorizer
{
    /// <summary>The group whose members may do anything (kube-apiserver's <c>system:masters</c>).</summary>
    public const string SuperuserGroup = "system:masters";

    private readonly RbacAuthorizer rbac;
    private readonly NodeAuthorizer nodes;

    /// <summary>An authorizer over the roles, bindings and pods of <paramref name="api"/>.</summary>
    public Authorizer(ObjectApi api)
    {
        rbac = new RbacAuthorizer(api);
        nodes = new NodeAuthorizer(api);
    }

    /// <summary>Whether <paramref name="a"/> is allowed, and the reason given when it is not (may be empty).</summary>
    public (bool Allowed, string Reason) Authorize(RequestAttributes a) => Authorize(a, null);

    /// <summary>
    /// As <see cref="Authorize(RequestAttributes)"/>, for a node's read made for <paramref name="pod"/> (its agent in
    /// this process knows which pod it prepares): the Node authorizer looks at that pod instead of searching the node's.
    /// </summary>
    public (bool Allowed, string Reason) Authorize(RequestAttributes a, JsonObject? pod)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (a.User.Groups.Contains(SuperuserGroup))
        {
            return (true, "");
        }

        var (decision, reason) = nodes.Authorize(a, pod);
        if (decision == AuthorizationDecision.Allow)
        {
            return (true, "");
        }

        if (decision == AuthorizationDecision.NoOpinion && rbac.Allows(a))
        {
            return (true, "");
        }

        return (false, reason);
    }

    /// <summary>The rules <paramref name="user"/> has in <paramref name="ns"/> (SelfSubjectRulesReview): everything for the superuser group.</summary>
    internal IReadOnlyList<PolicyRule> RulesFor(KubeUser user, string ns)
    {
        if (user.Groups.Contains(SuperuserGroup))
        {
            HashSet<string> all = ["*"];
            return [new PolicyRule(all, all, all, new HashSet<string>(), []), new PolicyRule(all, new HashSet<string>(), new HashSet<string>(), new HashSet<string>(), ["*"])];
        }

        return rbac.RulesFor(user, ns);
    }

    /// <summary>kube-apiserver's Forbidden Status for a denied request (its message word for word, the reason after a colon).</summary>
    public static ApiException Forbidden(RequestAttributes a, string reason = "")
    {
        ArgumentNullException.ThrowIfNull(a);
        string why;
        if (!a.IsResourceRequest)
        {
            why = $"User \"{a.User.Name}\" cannot {a.Verb} path \"{a.Path}\"";
        }
        else if (a.Namespace.Length > 0)
        {
            why = $"User \"{a.User.Name}\" cannot {a.Verb} resource \"{a.ResourceAndSubresource}\" in API group \"{a.ApiGroup}\" in the namespace \"{a.Namespace}\"";
        }
        else
        {
            why = $"User \"{a.User.Name}\" cannot {a.Verb} resource \"{a.ResourceAndSubresource}\" in API group \"{a.ApiGroup}\" at the cluster scope";
        }

        if (reason.Length > 0)
        {
            why += ": " + reason;
        }

        if (!a.IsResourceRequest)
        {
            return new ApiException(403, "Forbidden", "forbidden: " + why);
        }

        string qualified = a.ApiGroup.Length == 0 ? a.Resource : $"{a.Resource}.{a.ApiGroup}";
        string subject = a.Name.Length > 0 ? $"{qualified} \"{a.Name}\"" : qualified;
        var details = new JsonObject { ["kind"] = a.Resource };
        if (a.Name.Length > 0)
        {
            details["name"] = a.Name;
        }

        if (a.ApiGroup.Length > 0)
        {
            details["group"] = a.ApiGroup;
        }

        return new ApiException(403, "Forbidden", $"{subject} is forbidden: {why}", details: details);
    }
}

/// <summary>
/// kube-apiserver's Node authorizer: a node (<c>system:node:NAME</c> in group <c>system:nodes</c>) may read a Secret,
/// ConfigMap, PersistentVolumeClaim or PersistentVolume, or ask for a service account's token, only when a pod bound to
/// it uses that object; it may change only its own Node and the status of its own pods; otherwise it has the rules of
/// the <c>system:node</c> role. Anyone else: no opinion.
/// </summary>
internal sealed class NodeAuthorizer(ObjectApi api)
{
    /// <summary>The group of nodes.</summary>
    public const string NodesGroup = "system:nodes";

    /// <summary>The user-name prefix of nodes.</summary>
    public const string NodePrefix = "system:node:";

    private static readonly PolicyRule[] NodeRules = [.. BootstrapPolicy.NodeRules.Select(PolicyRule.Of)];

    public (AuthorizationDecision Decision, string Reason) Authorize(RequestAttributes a, JsonObject? pod = null)
    {
        if (!a.User.Groups.Contains(NodesGroup) || !a.User.Name.StartsWith(NodePrefix, StringComparison.Ordinal))
        {
            return (AuthorizationDecision.NoOpinion, "");
        }

        string node = a.User.Name[NodePrefix.Length..];
        string None() => $"no relationship found between node '{node}' and this object"; // made only for a denial
        if (!a.IsResourceRequest || a.ApiGroup.Length > 0)
        {
            return Rules(a);
        }

        switch (a.Resource, a.Subresource)
        {
            case ("secrets" or "configmaps" or "persistentvolumeclaims" or "persistentvolumes", ""):
                return a.Verb == "get" && a.Name.Length > 0 && Uses(node, a.Resource, a.Namespace, a.Name, pod)
                    ? (AuthorizationDecision.Allow, "")
                    : (AuthorizationDecision.Deny, a.Verb == "get" ? None() : $"can only get individual resources of this type");
            case ("serviceaccounts", "token"):
                return a.Verb == "create" && Uses(node, "serviceaccounts", a.Namespace, a.Name, pod)
                    ? (AuthorizationDecision.Allow, "")
                    : (AuthorizationDecision.Deny, None());
            case ("nodes", _) when a.Verb is "update" or "patch" or "delete" && a.Name != node:
                return (AuthorizationDecision.Deny, $"node '{node}' cannot modify node '{a.Name}'");
            case ("pods", "status") when a.Verb is "update" or "patch":
                return api.TryGet(ResourceType.Pods, a.Namespace, a.Name) is { } target && Json.Str(target, "spec", "nodeName") == node
                    ? (AuthorizationDecision.Allow, "")
                    : (AuthorizationDecision.Deny, $"node '{node}' can only update the status of pods bound to it");
            default:
                return Rules(a);
        }
    }

    private static (AuthorizationDecision, string) Rules(RequestAttributes a)
    {
        string combined = a.ResourceAndSubresource;
        foreach (var r in NodeRules)
        {
            if (r.Allows(a, combined))
            {
                return (AuthorizationDecision.Allow, "");
            }
        }

        return (AuthorizationDecision.NoOpinion, "");
    }

    /// <summary>Whether a pod bound to <paramref name="node"/> uses the object (through a volume, the environment, an image pull secret, its service account, or a claim's volume).</summary>
    private bool Uses(string node, string resource, string ns, string name, JsonObject? pod)
    {
        // the pod a node agent names is looked at as stored now (bound to this node, not deleted meanwhile)
        var current = pod is null ? null : api.TryGet(ResourceType.Pods, Json.Namespace(pod), Json.Name(pod));
        var onNode = current is not null && Json.Uid(current) == Json.Uid(pod!) && Json.Str(current, "spec", "nodeName") == node
            ? [current]
            : api.List(ResourceType.Pods, resource == "persistentvolumes" ? null : ns, fields: FieldSelector.Parse("spec.nodeName=" + node)).Items;
        if (resource == "persistentvolumes")
        {
            return onNode.Any(p => PodReferences.Of(p, "persistentvolumeclaims").Any(claim =>
                api.TryGet(ResourceType.Claims, Json.Namespace(p), claim) is { } c && Json.Str(c, "spec", "volumeName") == name));
        }

        return onNode.Any(p => PodReferences.Of(p, resource).Contains(name));
    }
}

/// <summary>The objects a pod's spec names, by resource: what its node may read for it.</summary>
internal static class PodReferences
{
    /// <summary>The names of the <paramref name="resource"/> (secrets, configmaps, persistentvolumeclaims, serviceaccounts) <paramref name="pod"/> uses.</summary>
    public static HashSet<string> Of(JsonObject pod, string resource)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var spec = Json.At(pod, "spec") as JsonObject;
        void Add(string? name)
        {
            if (!string.IsNullOrEmpty(name))
            {
                names.Add(name);
            }
        }

        switch (resource)
        {
            case "serviceaccounts":
                Add(Json.Str(spec, "serviceAccountName") ?? "default");
                break;
            case "persistentvolumeclaims":
                foreach (var v in Json.Items(spec, "volumes"))
                {
                    Add(Json.Str(v, "persistentVolumeClaim", "claimName"));
                }

                break;
            default:
                bool secrets = resource == "secrets";
                string volume = secrets ? "secret" : "configMap", nameField = secrets ? "secretName" : "name";
                foreach (var v in Json.Items(spec, "volumes"))
                {
                    Add(Json.Str(v, volume, nameField));
                    foreach (var source in Json.Items(v, "projected", "sources"))
                    {
                        Add(Json.Str(source, volume, "name"));
                    }
                }

                foreach (var c in Json.Items(spec, "containers").Concat(Json.Items(spec, "initContainers")))
                {
                    foreach (var e in Json.Items(c, "env"))
                    {
                        Add(Json.Str(e, "valueFrom", secrets ? "secretKeyRef" : "configMapKeyRef", "name"));
                    }

                    foreach (var e in Json.Items(c, "envFrom"))
                    {
                        Add(Json.Str(e, secrets ? "secretRef" : "configMapRef", "name"));
                    }
                }

                if (secrets)
                {
                    foreach (var s in Json.Items(spec, "imagePullSecrets"))
                    {
                        Add(Json.Str(s, "name"));
                    }
                }

                break;
        }

        return names;
    }
}
