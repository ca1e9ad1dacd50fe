using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>
/// A watch (<c>?watch=true</c>): the current objects as ADDED when no resourceVersion is given, then every change
/// after it as newline-delimited JSON events (or Table rows), filtered by the label and field selectors, until
/// timeoutSeconds or the client goes; an expired resourceVersion ends with an ERROR event (410).
/// </summary>
internal sealed class WatchEndpoint(ObjectApi api)
{
    /// <summary>Serves a watch of <paramref name="type"/> (in <paramref name="ns"/>, or everywhere).</summary>
    public async Task ServeAsync(HttpContext http, ResourceType type, string? ns, Func<JsonObject, JsonObject>? convert = null)
    {
        var q = http.Request.Query;
        var labels = LabelSelector.Parse(q["labelSelector"]);
        var fields = FieldSelector.Parse(q["fieldSelector"]);
        bool table = ApiHttp.WantsTable(http);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        if (int.TryParse(q["timeoutSeconds"], out int seconds) && seconds > 0)
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        long from;
        var initial = new List<JsonObject>();
        if (long.TryParse(q["resourceVersion"], out long rv) && rv > 0)
        {
            from = rv;
        }
        else
        {
            (initial, from) = api.List(type, ns, labels, fields);
        }

        var events = api.WatchAsync(type, ns, from, timeout.Token);
        http.Response.StatusCode = 200;
        http.Response.ContentType = "application/json";
        await http.Response.StartAsync(http.RequestAborted).ConfigureAwait(false);
        bool headers = true;
        var body = http.Response.Body;

        // the headers go now, as kube-apiserver sends them, not with the first event: client-go's reflector cannot
        // cancel a watch request still waiting for its response, so `kubectl rollout status` of a finished rollout
        // (nothing changes, so no event comes) hung until the watch's timeoutSeconds
        await body.FlushAsync(http.RequestAborted).ConfigureAwait(false);
        async Task SendAsync(string kind, JsonObject obj)
        {
            JsonNode payload = table ? Tables.Build(type, [obj], Json.Str(obj, "metadata", "resourceVersion"), api.Time.GetUtcNow(), q["includeObject"] == "Object", headers) : convert is null ? obj : convert(obj);
            headers = false;
            // written around the object, not by attaching it to a new parent: watched objects are shared
            var line = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new System.Text.Json.Utf8JsonWriter(line))
            {
                writer.WriteStartObject();
                writer.WriteString("type", kind);
                writer.WritePropertyName("object");
                payload.WriteTo(writer);
                writer.WriteEndObject();
            }

            await body.WriteAsync(line.WrittenMemory, timeout.Token).ConfigureAwait(false);
            await body.WriteAsync("\n"u8.ToArray(), timeout.Token).ConfigureAwait(false);
            await body.FlushAsync(timeout.Token).ConfigureAwait(false);
        }

        try
        {
            foreach (var obj in initial)
            {
                await SendAsync("ADDED", obj).ConfigureAwait(false);
            }

            await foreach (var (kind, obj) in events.ConfigureAwait(false))
            {
                bool match = labels.Matches(obj) && fields.Matches(obj);
                if (match)
                {
                    await SendAsync(kind switch { Storage.WatchEventType.Added => "ADDED", Storage.WatchEventType.Modified => "MODIFIED", _ => "DELETED" }, obj).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ApiException e)
        {
            await SendAsync("ERROR", e.ToStatus()).ConfigureAwait(false);
        }
    }
}
