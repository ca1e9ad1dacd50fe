using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>
/// What a request asks, as kube-apiserver's RequestInfoFactory reads it from the URL and method: a resource request
/// (verb, API group, resource, subresource, namespace, name) or a non-resource one (verb and path). This is what
/// authorizers decide on and what the audit log records.
/// </summary>
/// <param name="User">The caller.</param>
/// <param name="Verb">get, list, watch, create, update, patch, delete, deletecollection; for a non-resource request the method in lower case.</param>
/// <param name="IsResourceRequest">Whether the URL names a resource (else it is a path such as /version or /apis).</param>
/// <param name="Path">The request's path.</param>
/// <param name="ApiGroup">The API group ("" for the core group).</param>
/// <param name="ApiVersion">The API version.</param>
/// <param name="Resource">The resource (pods).</param>
/// <param name="Subresource">The subresource (status, exec), or "".</param>
/// <param name="Namespace">The namespace, or "" for cluster-scoped requests and lists across namespaces.</param>
/// <param name="Name">The object's name, or "" for a collection.</param>
public sealed record RequestAttributes(
    KubeUser User, string Verb, bool IsResourceRequest, string Path, string ApiGroup = "", string ApiVersion = "",
    string Resource = "", string Subresource = "", string Namespace = "", string Name = "")
{
    /// <summary>The resource with its subresource (pods/exec).</summary>
    public string ResourceAndSubresource => Subresource.Length == 0 ? Resource : $"{Resource}/{Subresource}";

    /// <summary>The attributes of a resource request made in process (a node agent reading a Secret).</summary>
    public static RequestAttributes ForResource(KubeUser user, string verb, ResourceType type, string? ns, string name = "", string subresource = "") =>
        new(user, verb, true, "", type.Group, type.Version, type.Plural, subresource, ns ?? "", name);

    /// <summary>Reads the attributes of <paramref name="http"/>'s request made by <paramref name="user"/>.</summary>
    public static RequestAttributes Of(HttpContext http, KubeUser user)
    {
        ArgumentNullException.ThrowIfNull(http);
        string path = http.Request.Path.Value ?? "/";
        string method = http.Request.Method;
        string[] parts = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        string group, version;
        int rest;
        if (parts.Length >= 2 && parts[0] == "api")
        {
            (group, version, rest) = ("", parts[1], 2);
        }
        else if (parts.Length >= 3 && parts[0] == "apis")
        {
            (group, version, rest) = (parts[1], parts[2], 3);
        }
        else
        {
            return NonResource(user, method, path);
        }

        var r = parts[rest..];
        if (r.Length == 0)
        {
            return NonResource(user, method, path); // a group version's discovery
        }

        bool watch = false;
        if (r[0] == "watch")
        {
            watch = true; // the deprecated /watch/ prefix
            r = r[1..];
        }

        string ns = "";
        if (r.Length >= 2 && r[0] == "namespaces")
        {
            ns = r[1];
            if (r.Length > 2 && r[2] is not ("status" or "finalize"))
            {
                r = r[2..];
            }
        }

        string resource = r.Length > 0 ? r[0] : "", name = r.Length > 1 ? r[1] : "", sub = r.Length > 2 ? r[2] : "";
        watch |= http.Request.Query["watch"].FirstOrDefault() is "1" or "true" or "True" or "t" or "T" or "TRUE";
        string verb = method switch
        {
            "POST" => "create",
            "GET" or "HEAD" when watch => "watch",
            "GET" or "HEAD" => name.Length > 0 ? "get" : "list",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => name.Length > 0 ? "delete" : "deletecollection",
            _ => method.ToLowerInvariant(),
        };

        // exec, attach and port-forward over a WebSocket are GETs that create a session: kube-apiserver asks for create
        if (resource == "pods" && sub is "exec" or "attach" or "portforward")
        {
            verb = "create";
        }

        return new RequestAttributes(user, verb, true, path, group, version, resource, sub, ns, name);
    }

    private static RequestAttributes NonResource(KubeUser user, string method, string path) =>
        new(user, method is "GET" or "HEAD" ? "get" : method.ToLowerInvariant(), false, path);
}
