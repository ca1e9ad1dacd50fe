using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>
/// The routes of a kind served in a version other than the one it is stored in (autoscaling/v1
/// HorizontalPodAutoscaler over the stored autoscaling/v2), as kube-apiserver serves every version of a kind: a
/// request body is converted to the stored version (with what it cannot say kept from the stored object), the
/// operation runs on the stored kind, and what comes back (an object, a list, each watch event) is converted to the
/// version asked for. A patch applies to the object in the version asked for.
/// </summary>
internal static class ConvertedEndpoints
{
    public static async Task ServeAsync(HttpContext http, ObjectApi api, ResourceRoute route, WatchEndpoint watch)
    {
        var (served, ns, name, sub) = route;
        var stored = served.Stored!;
        var conversion = served.Conversion!;
        var q = http.Request.Query;
        bool dryRun = q["dryRun"].Count > 0;
        string? space = served.Namespaced ? ns ?? "default" : null;
        if (sub is not (null or "status"))
        {
            throw ApiHttp.NotServed();
        }

        switch (http.Request.Method, name)
        {
            case ("GET", null) when ApiHttp.Flag(http, "watch"):
                await watch.ServeAsync(http, stored, ns, conversion.FromStored).ConfigureAwait(false);
                return;
            case ("GET", null):
            {
                var (items, revision) = api.List(stored, ns, LabelSelector.Parse(q["labelSelector"]), FieldSelector.Parse(q["fieldSelector"]));
                string rv = revision.ToString(CultureInfo.InvariantCulture);
                await ApiHttp.WriteAsync(http, 200, ApiHttp.WantsTable(http)
                    ? Tables.Build(stored, items, rv, api.Time.GetUtcNow(), q["includeObject"] == "Object")
                    : new JsonObject
                    {
                        ["kind"] = served.Kind + "List",
                        ["apiVersion"] = served.ApiVersion,
                        ["metadata"] = new JsonObject { ["resourceVersion"] = rv },
                        ["items"] = new JsonArray([.. items.Select(i => (JsonNode)conversion.FromStored(i))]),
                    }).ConfigureAwait(false);
                return;
            }

            case ("POST", null):
            {
                var body = await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false);
                ApiHttp.CheckKind(served, body);
                ApiHttp.Warn(http, FieldSchema.Enforce(served, body, FieldSchema.ParseMode(q["fieldValidation"])));
                var created = api.Create(stored, space, conversion.ToStored(body, null), dryRun);
                await ApiHttp.WriteAsync(http, 201, conversion.FromStored(created)).ConfigureAwait(false);
                return;
            }

            case ("GET", { } n):
                await Write(http, api, stored, conversion, api.Get(stored, space, n)).ConfigureAwait(false);
                return;
            case ("PUT", { } n):
            {
                var body = await ApiHttp.ReadObjectAsync(http).ConfigureAwait(false);
                ApiHttp.CheckKind(served, body);
                var converted = conversion.ToStored(body, api.Get(stored, space, n));
                await Write(http, api, stored, conversion, api.Update(stored, space, n, converted, sub, dryRun)).ConfigureAwait(false);
                return;
            }

            case ("PATCH", { } n):
            {
                var patch = await ApiHttp.ReadBytesAsync(http).ConfigureAwait(false);
                string contentType = http.Request.ContentType ?? "";
                for (int attempt = 0; ; attempt++)
                {
                    var current = api.Get(stored, space, n);
                    var patched = Patches.Apply(conversion.FromStored(current), contentType, patch);
                    var converted = conversion.ToStored(patched, current);
                    Json.Obj(converted, "metadata")["resourceVersion"] = Json.Str(current, "metadata", "resourceVersion"); // over the version patched
                    try
                    {
                        await Write(http, api, stored, conversion, api.Update(stored, space, n, converted, sub, dryRun)).ConfigureAwait(false);
                        return;
                    }
                    catch (ApiException e) when (e.Reason == "Conflict" && attempt < 10)
                    {
                    }
                }
            }

            case ("DELETE", { } n):
            {
                var (obj, _) = api.Delete(stored, space, n, await ApiHttp.DeleteOptionsAsync(http).ConfigureAwait(false));
                await Write(http, api, stored, conversion, obj).ConfigureAwait(false);
                return;
            }
        }

        throw new ApiException(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
    }

    private static Task Write(HttpContext http, ObjectApi api, ResourceType stored, IVersionConversion conversion, JsonObject obj) =>
        ApiHttp.WantsTable(http)
            ? ApiHttp.WriteObjectAsync(http, api, stored, obj)
            : ApiHttp.WriteAsync(http, 200, conversion.FromStored(obj));
}
