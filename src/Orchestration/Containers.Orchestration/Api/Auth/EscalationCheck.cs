using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Api;

/// <summary>
/// RBAC's guard against privilege escalation, as kube-apiserver's rbac registry: a user may write a Role or ClusterRole
/// only with rules they hold themselves (or with the verb <c>escalate</c> on that kind), and a RoleBinding or
/// ClusterRoleBinding only to a role whose rules they hold (or with the verb <c>bind</c> on that role), where they
/// write it (a namespace, or the cluster). Otherwise 403 Forbidden, naming the first rule they lack.
/// </summary>
internal static class EscalationCheck
{
    /// <summary>Throws 403 when <paramref name="user"/> may not write <paramref name="obj"/> of <paramref name="type"/> in <paramref name="ns"/>.</summary>
    public static void Require(ObjectApi api, Authorizer authorizer, KubeUser user, ResourceType type, string? ns, JsonObject obj)
    {
        if (type.Group != Rbac.Group || user.Groups.Contains(Authorizer.SuperuserGroup))
        {
            return;
        }

        string scope = type.Namespaced ? ns ?? "" : "";
        string name = Json.Name(obj);
        IEnumerable<JsonObject> rules;
        if (type.Kind is "Role" or "ClusterRole")
        {
            if (Holds(authorizer, RequestAttributes.ForResource(user, "escalate", type, type.Namespaced ? ns : null, name)))
            {
                return;
            }

            rules = Json.Items(obj, "rules");
        }
        else
        {
            string kind = Json.Str(obj, "roleRef", "kind") ?? "", role = Json.Str(obj, "roleRef", "name") ?? "";
            var roleType = kind == "Role" ? RoleStrategy.Type : ClusterRoleStrategy.Type;
            if (Holds(authorizer, RequestAttributes.ForResource(user, "bind", roleType, kind == "Role" ? ns : null, role)))
            {
                return;
            }

            var referenced = api.TryGet(roleType, kind == "Role" ? ns : null, role);
            rules = referenced is null ? [] : Json.Items(referenced, "rules");
        }

        foreach (var rule in rules)
        {
            if (Missing(authorizer, user, scope, rule) is { } lacking)
            {
                string qualified = $"{type.Plural}.{type.Group}";
                throw new ApiException(403, "Forbidden",
                    $"{qualified} \"{name}\" is forbidden: user \"{user.Name}\" (groups=[{string.Join(" ", user.Groups.Select(g => $"\"{g}\""))}]) is attempting to grant RBAC permissions not currently held:\n{lacking}",
                    details: new JsonObject { ["name"] = name, ["group"] = type.Group, ["kind"] = type.Plural });
            }
        }
    }

    private static bool Holds(Authorizer authorizer, RequestAttributes a) => authorizer.Authorize(a).Allowed;

    /// <summary>The first part of <paramref name="rule"/> the user does not hold in <paramref name="ns"/>, as kube-apiserver prints it; null when they hold it all.</summary>
    private static string? Missing(Authorizer authorizer, KubeUser user, string ns, JsonObject rule)
    {
        static string[] List(JsonObject o, string field) => [.. (Json.At(o, field) as JsonArray ?? []).Select(v => v?.GetValue<string>() ?? "")];
        string[] verbs = List(rule, "verbs"), urls = List(rule, "nonResourceURLs");
        foreach (string url in urls)
        {
            foreach (string verb in verbs)
            {
                if (!Holds(authorizer, new RequestAttributes(user, verb, false, url)))
                {
                    return $"{{NonResourceURLs:[\"{url}\"], Verbs:[\"{verb}\"]}}";
                }
            }
        }

        string[] groups = List(rule, "apiGroups"), resources = List(rule, "resources"), names = List(rule, "resourceNames");
        foreach (string group in groups)
        {
            foreach (string resource in resources)
            {
                string main = resource.Split('/')[0], sub = resource.Contains('/', StringComparison.Ordinal) ? resource[(resource.IndexOf('/', StringComparison.Ordinal) + 1)..] : "";
                foreach (string name in names.Length == 0 ? [""] : names)
                {
                    foreach (string verb in verbs)
                    {
                        var a = new RequestAttributes(user, verb, true, "", group, "", main, sub, ns, name);
                        if (!Holds(authorizer, a))
                        {
                            string named = name.Length > 0 ? $", ResourceNames:[\"{name}\"]" : "";
                            return $"{{APIGroups:[\"{group}\"], Resources:[\"{resource}\"]{named}, Verbs:[\"{verb}\"]}}";
                        }
                    }
                }
            }
        }

        return null;
    }
}
