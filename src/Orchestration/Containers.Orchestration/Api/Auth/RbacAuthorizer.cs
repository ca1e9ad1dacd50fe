using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Api;

/// <summary>One rule of a Role or ClusterRole, compiled (sets for the lists, "*" kept as a flag).</summary>
internal sealed record PolicyRule(
    IReadOnlySet<string> Verbs, IReadOnlySet<string> ApiGroups, IReadOnlySet<string> Resources,
    IReadOnlySet<string> ResourceNames, IReadOnlyList<string> NonResourceUrls)
{
    /// <summary>The rule of a rules[] entry.</summary>
    public static PolicyRule Of(JsonObject rule)
    {
        static HashSet<string> Set(JsonObject o, string field) =>
            [.. (Json.At(o, field) as JsonArray ?? []).Select(v => v?.GetValue<string>() ?? "")];
        return new PolicyRule(Set(rule, "verbs"), Set(rule, "apiGroups"), Set(rule, "resources"), Set(rule, "resourceNames"),
            [.. (Json.At(rule, "nonResourceURLs") as JsonArray ?? []).Select(v => v?.GetValue<string>() ?? "")]);
    }

    /// <summary>Whether the rule allows the request (Kubernetes' RuleAllows).</summary>
    public bool Allows(RequestAttributes a) => Allows(a, a.ResourceAndSubresource);

    /// <summary>As <see cref="Allows(RequestAttributes)"/>, with the request's resource/subresource made once for all the rules tried.</summary>
    public bool Allows(RequestAttributes a, string combined)
    {
        if (!Verbs.Contains("*") && !Verbs.Contains(a.Verb))
        {
            return false;
        }

        if (!a.IsResourceRequest)
        {
            return NonResourceUrls.Any(u => u == "*" || u == a.Path || (u.EndsWith('*') && a.Path.StartsWith(u[..^1], StringComparison.Ordinal)));
        }

        if (!ApiGroups.Contains("*") && !ApiGroups.Contains(a.ApiGroup))
        {
            return false;
        }

        bool resource = Resources.Contains("*") || Resources.Contains(combined)
            || (a.Subresource.Length > 0 && Resources.Contains("*/" + a.Subresource));
        return resource && (ResourceNames.Count == 0 || (a.Name.Length > 0 && ResourceNames.Contains(a.Name)));
    }

    /// <summary>The rule as a rules[] entry (for SelfSubjectRulesReview).</summary>
    public JsonObject ToJson()
    {
        static JsonArray Array(IEnumerable<string> values) => new([.. values.Order(StringComparer.Ordinal).Select(v => (JsonNode)v)]);
        var o = new JsonObject { ["verbs"] = Array(Verbs) };
        if (NonResourceUrls.Count > 0)
        {
            o["nonResourceURLs"] = Array(NonResourceUrls);
            return o;
        }

        o["apiGroups"] = Array(ApiGroups);
        o["resources"] = Array(Resources);
        if (ResourceNames.Count > 0)
        {
            o["resourceNames"] = Array(ResourceNames);
        }

        return o;
    }
}

/// <summary>
/// Kubernetes' RBAC authorizer: a request is allowed when a ClusterRoleBinding, or a RoleBinding of the request's
/// namespace, binds a subject that is the caller (its user name, one of its groups, or its service account) to a role
/// with a rule that allows it. Nothing is denied explicitly: no rule, no access. The roles and bindings are read from
/// the store into a snapshot that is made again only when one of them changed.
/// </summary>
internal sealed class RbacAuthorizer(ObjectApi api)
{
    private static readonly ResourceType[] Kinds = [RoleStrategy.Type, ClusterRoleStrategy.Type, RoleBindingStrategy.Type, ClusterRoleBindingStrategy.Type];
    private Snapshot snapshot = new([], new Dictionary<string, List<Grant>>(), -1);

    /// <summary>Whether some binding allows <paramref name="a"/>.</summary>
    /// <remarks>Every API request comes here: it goes over the bindings without allocating (no closures, no boxed enumerators).</remarks>
    public bool Allows(RequestAttributes a)
    {
        var s = Current();
        string combined = a.ResourceAndSubresource;
        return AnyAllows(s.Cluster, a, combined)
            || (a.Namespace.Length > 0 && s.Namespaced.TryGetValue(a.Namespace, out var grants) && AnyAllows(grants, a, combined));
    }

    private static bool AnyAllows(List<Grant> grants, RequestAttributes a, string combined)
    {
        foreach (var g in grants)
        {
            if (g.Applies(a.User))
            {
                foreach (var r in g.Rules)
                {
                    if (r.Allows(a, combined))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    /// <summary>The rules that apply to <paramref name="user"/> in <paramref name="ns"/> (its cluster-wide ones included), for SelfSubjectRulesReview.</summary>
    public IReadOnlyList<PolicyRule> RulesFor(KubeUser user, string ns)
    {
        var s = Current();
        var rules = s.Cluster.Where(g => g.Applies(user)).SelectMany(g => g.Rules).ToList();
        if (s.Namespaced.TryGetValue(ns, out var grants))
        {
            rules.AddRange(grants.Where(g => g.Applies(user)).SelectMany(g => g.Rules));
        }

        return rules;
    }

    private Snapshot Current()
    {
        var s = Volatile.Read(ref snapshot);
        long revision = 0;
        foreach (var kind in Kinds)
        {
            revision = Math.Max(revision, api.ResourceRevision(kind)); // each store revision is written once: the largest moves whenever one does
        }

        if (s.Revision == revision)
        {
            return s;
        }

        var made = Build(revision);
        Volatile.Write(ref snapshot, made);
        return made;
    }

    private Snapshot Build(long revision)
    {
        var clusterRoles = api.List(ClusterRoleStrategy.Type).Items.ToDictionary(Json.Name, Rules, StringComparer.Ordinal);
        var roles = api.List(RoleStrategy.Type).Items.ToDictionary(r => (Json.Namespace(r) ?? "", Json.Name(r)), Rules);
        var cluster = new List<Grant>();
        foreach (var b in api.List(ClusterRoleBindingStrategy.Type).Items)
        {
            cluster.Add(new Grant(Subjects(b, null), clusterRoles.GetValueOrDefault(Json.Str(b, "roleRef", "name") ?? "") ?? []));
        }

        var namespaced = new Dictionary<string, List<Grant>>(StringComparer.Ordinal);
        foreach (var b in api.List(RoleBindingStrategy.Type).Items)
        {
            string ns = Json.Namespace(b) ?? "", role = Json.Str(b, "roleRef", "name") ?? "";
            var rules = Json.Str(b, "roleRef", "kind") == "ClusterRole" ? clusterRoles.GetValueOrDefault(role) : roles.GetValueOrDefault((ns, role));
            if (!namespaced.TryGetValue(ns, out var list))
            {
                namespaced[ns] = list = [];
            }

            list.Add(new Grant(Subjects(b, ns), rules ?? []));
        }

        return new Snapshot(cluster, namespaced, revision);
    }

    private static PolicyRule[] Rules(JsonObject role) => [.. Json.Items(role, "rules").Select(PolicyRule.Of)];

    /// <summary>
    /// A binding's subjects as the user names and groups they match: a ServiceAccount is its user name
    /// (system:serviceaccount:NS:NAME; without a namespace, the RoleBinding's, <paramref name="bindingNamespace"/>).
    /// Subjects of other kinds match no one.
    /// </summary>
    private static Subject[] Subjects(JsonObject binding, string? bindingNamespace) =>
        [.. Json.Items(binding, "subjects").Select(s => (Json.Str(s, "kind") ?? "", Json.Str(s, "name") ?? "", Json.Str(s, "namespace")) switch
        {
            ("User", var name, _) => new Subject(false, name),
            ("Group", var name, _) => new Subject(true, name),
            ("ServiceAccount", var name, var ns) => new Subject(false, ServiceAccounts.UserName(ns is { Length: > 0 } ? ns : bindingNamespace ?? "", name)),
            _ => (Subject?)null,
        }).OfType<Subject>()];

    private sealed record Snapshot(List<Grant> Cluster, Dictionary<string, List<Grant>> Namespaced, long Revision);

    /// <summary>A user name (a User, or a ServiceAccount's user name) or a group a binding names.</summary>
    private sealed record Subject(bool IsGroup, string Name);

    /// <summary>A binding: who it names, and the rules of its role.</summary>
    private sealed record Grant(Subject[] Subjects, PolicyRule[] Rules)
    {
        /// <summary>Whether a subject is <paramref name="user"/> or one of its groups.</summary>
        public bool Applies(KubeUser user)
        {
            foreach (var s in Subjects)
            {
                if (s.IsGroup ? InGroup(user.Groups, s.Name) : s.Name == user.Name)
                {
                    return true;
                }
            }

            return false;
        }

        private static bool InGroup(IReadOnlyList<string> groups, string group)
        {
            for (int i = 0; i < groups.Count; i++)
            {
                if (groups[i] == group)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
