namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// What the four RBAC kinds share (rbac.authorization.k8s.io/v1): the validation of rules (verbs required; a rule names
/// resources or non-resource URLs, the latter only in a ClusterRole) and of bindings (a roleRef that never changes,
/// subjects of a known kind).
/// </summary>
internal static class Rbac
{
    /// <summary>The API group.</summary>
    public const string Group = "rbac.authorization.k8s.io";

    /// <summary>Adds the errors of <c>rules</c>; <paramref name="cluster"/> allows nonResourceURLs.</summary>
    public static void ValidateRules(JsonObject obj, bool cluster, List<(string Field, string Message)> errors)
    {
        int i = 0;
        foreach (var rule in Json.Items(obj, "rules"))
        {
            string at = $"rules[{i++}]";
            bool urls = Json.At(rule, "nonResourceURLs") is JsonArray { Count: > 0 };
            bool resources = Json.At(rule, "resources") is JsonArray { Count: > 0 };
            if (Json.At(rule, "verbs") is not JsonArray { Count: > 0 })
            {
                errors.Add(($"{at}.verbs", "Required value: verbs must contain at least one value"));
            }

            if (urls && !cluster)
            {
                errors.Add(($"{at}.nonResourceURLs", "Invalid value: namespaced rules cannot apply to non-resource URLs"));
            }

            if (urls && resources)
            {
                errors.Add(($"{at}.nonResourceURLs", "Invalid value: rules cannot apply to both regular resources and non-resource URLs"));
            }

            if (!urls && !resources)
            {
                errors.Add(($"{at}.resources", "Required value: resource rules must supply at least one resource"));
            }
            else if (resources && Json.At(rule, "apiGroups") is not JsonArray { Count: > 0 })
            {
                errors.Add(($"{at}.apiGroups", "Required value: resource rules must supply at least one api group"));
            }
        }
    }

    /// <summary>Adds the errors of a binding's roleRef and subjects; <paramref name="cluster"/> allows only ClusterRole refs.</summary>
    public static void ValidateBinding(JsonObject obj, JsonObject? old, bool cluster, List<(string Field, string Message)> errors)
    {
        string? kind = Json.Str(obj, "roleRef", "kind"), name = Json.Str(obj, "roleRef", "name"), group = Json.Str(obj, "roleRef", "apiGroup");
        if (group != Group)
        {
            errors.Add(("roleRef.apiGroup", $"Unsupported value: \"{group}\": supported values: \"{Group}\""));
        }

        if (cluster ? kind != "ClusterRole" : kind is not ("Role" or "ClusterRole"))
        {
            errors.Add(("roleRef.kind", $"Unsupported value: \"{kind}\": supported values: {(cluster ? "\"ClusterRole\"" : "\"Role\", \"ClusterRole\"")}"));
        }

        if (string.IsNullOrEmpty(name))
        {
            errors.Add(("roleRef.name", "Required value"));
        }

        if (old is not null && (Json.Str(old, "roleRef", "kind") != kind || Json.Str(old, "roleRef", "name") != name || Json.Str(old, "roleRef", "apiGroup") != group))
        {
            errors.Add(("roleRef", "Invalid value: cannot change roleRef"));
        }

        int i = 0;
        foreach (var subject in Json.Items(obj, "subjects"))
        {
            string at = $"subjects[{i++}]";
            string? subjectKind = Json.Str(subject, "kind");
            if (subjectKind is not ("User" or "Group" or "ServiceAccount"))
            {
                errors.Add(($"{at}.kind", $"Unsupported value: \"{subjectKind}\": supported values: \"ServiceAccount\", \"User\", \"Group\""));
            }

            if (string.IsNullOrEmpty(Json.Str(subject, "name")))
            {
                errors.Add(($"{at}.name", "Required value"));
            }

            if (subjectKind == "ServiceAccount" && cluster && string.IsNullOrEmpty(Json.Str(subject, "namespace")))
            {
                errors.Add(($"{at}.namespace", "Required value"));
            }
        }
    }

    /// <summary>The Role column of a binding (<c>ClusterRole/view</c>).</summary>
    public static TableColumn RoleColumn { get; } = new("Role", "string", 0, (o, _) => $"{Json.Str(o, "roleRef", "kind")}/{Json.Str(o, "roleRef", "name")}");

    /// <summary>The subjects' names of one kind (the Users, Groups, ServiceAccounts columns of <c>-o wide</c>).</summary>
    public static TableColumn Subjects(string header, string kind) => new(header, "string", 1, (o, _) =>
        string.Join(",", Json.Items(o, "subjects").Where(s => Json.Str(s, "kind") == kind)
            .Select(s => kind == "ServiceAccount" ? $"{Json.Str(s, "namespace")}/{Json.Str(s, "name")}" : Json.Str(s, "name"))));
}

/// <summary>Role: namespaced rules.</summary>
internal sealed class RoleStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new(Rbac.Group, "v1", "Role", "roles", true) { Strategy = new RoleStrategy() };

    /// <inheritdoc/>
    public override NameRule Names => NameRule.PathSegment;

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors) => Rbac.ValidateRules(obj, cluster: false, errors);

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
        [TableColumn.ObjectName, new("Created At", "string", 0, (o, _) => Json.Str(o, "metadata", "creationTimestamp"))];
}

/// <summary>ClusterRole: cluster-wide rules, or rules aggregated from the ClusterRoles its aggregationRule selects.</summary>
internal sealed class ClusterRoleStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new(Rbac.Group, "v1", "ClusterRole", "clusterroles", false) { Strategy = new ClusterRoleStrategy() };

    /// <inheritdoc/>
    public override NameRule Names => NameRule.PathSegment;

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors) => Rbac.ValidateRules(obj, cluster: true, errors);

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
        [TableColumn.ObjectName, new("Created At", "string", 0, (o, _) => Json.Str(o, "metadata", "creationTimestamp"))];
}

/// <summary>RoleBinding: grants a Role or ClusterRole's rules in its namespace to users, groups and service accounts.</summary>
internal sealed class RoleBindingStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new(Rbac.Group, "v1", "RoleBinding", "rolebindings", true) { Strategy = new RoleBindingStrategy() };

    /// <inheritdoc/>
    public override NameRule Names => NameRule.PathSegment;

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors) => Rbac.ValidateBinding(obj, old, cluster: false, errors);

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName, Rbac.RoleColumn, TableColumn.ObjectAge,
        Rbac.Subjects("Users", "User"), Rbac.Subjects("Groups", "Group"), Rbac.Subjects("ServiceAccounts", "ServiceAccount"),
    ];
}

/// <summary>ClusterRoleBinding: grants a ClusterRole's rules everywhere.</summary>
internal sealed class ClusterRoleBindingStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new(Rbac.Group, "v1", "ClusterRoleBinding", "clusterrolebindings", false) { Strategy = new ClusterRoleBindingStrategy() };

    /// <inheritdoc/>
    public override NameRule Names => NameRule.PathSegment;

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors) => Rbac.ValidateBinding(obj, old, cluster: true, errors);

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName, Rbac.RoleColumn, TableColumn.ObjectAge,
        Rbac.Subjects("Users", "User"), Rbac.Subjects("Groups", "Group"), Rbac.Subjects("ServiceAccounts", "ServiceAccount"),
    ];
}
