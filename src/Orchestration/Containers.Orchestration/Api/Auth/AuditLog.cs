using System.Threading.Channels;
using Microsoft.AspNetCore.Http;

namespace Containers.Orchestration.Api;

/// <summary>
/// kube-apiserver's audit log at the Metadata level: one <c>audit.k8s.io/v1</c> Event per request, as a JSON line, when
/// its answer is complete: who (user, groups, source address, user agent), what (verb, URI, the object's resource,
/// namespace and name), the answer's code and the authorization decision. No request or response body is written, so
/// a Secret's values never reach it. The file is mode 0600 and is rotated once over 100 MB (one old file kept).
/// </summary>
public sealed class AuditLog : IAsyncDisposable
{
    private const long MaxBytes = 100L * 1024 * 1024;
    private readonly Channel<string> lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TimeProvider time;
    private readonly Task writer;

    /// <summary>Appends to <paramref name="path"/> (made mode 0600 when new).</summary>
    public AuditLog(string path, TimeProvider time)
    {
        Path = path;
        this.time = time;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        writer = Task.Run(WriteAsync);
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Records the request of <paramref name="http"/>, answered now, that arrived at <paramref name="received"/>.</summary>
    internal void Record(HttpContext http, DateTimeOffset received)
    {
        var a = Authentication.Attributes(http);
        var requester = Authentication.Requester(http);
        var user = requester ?? a?.User ?? Authentication.User(http) ?? KubeUser.Anonymous;
        int code = http.Response.StatusCode;
        var e = new JsonObject
        {
            ["kind"] = "Event",
            ["apiVersion"] = "audit.k8s.io/v1",
            ["level"] = "Metadata",
            ["auditID"] = Guid.NewGuid().ToString(),
            ["stage"] = "ResponseComplete",
            ["requestURI"] = http.Request.Path.Value + http.Request.QueryString.Value,
            ["verb"] = a?.Verb ?? http.Request.Method.ToLowerInvariant(),
            ["user"] = UserInfo(user),
            ["sourceIPs"] = new JsonArray(http.Connection.RemoteIpAddress?.ToString() ?? ""),
            ["userAgent"] = http.Request.Headers.UserAgent.ToString(),
        };
        if (requester is not null && Authentication.User(http) is { } impersonated)
        {
            e["impersonatedUser"] = UserInfo(impersonated);
        }

        if (a is { IsResourceRequest: true })
        {
            var objectRef = new JsonObject { ["resource"] = a.Resource };
            if (a.Namespace.Length > 0)
            {
                objectRef["namespace"] = a.Namespace;
            }

            if (a.Name.Length > 0)
            {
                objectRef["name"] = a.Name;
            }

            objectRef["apiGroup"] = a.ApiGroup;
            objectRef["apiVersion"] = a.ApiVersion;
            if (a.Subresource.Length > 0)
            {
                objectRef["subresource"] = a.Subresource;
            }

            e["objectRef"] = objectRef;
        }

        e["responseStatus"] = new JsonObject { ["metadata"] = new JsonObject(), ["code"] = code };
        e["requestReceivedTimestamp"] = Micro(received);
        e["stageTimestamp"] = Micro(time.GetUtcNow());
        if (code != 401)
        {
            e["annotations"] = new JsonObject { ["authorization.k8s.io/decision"] = code == 403 ? "forbid" : "allow" };
        }

        lines.Writer.TryWrite(e.ToJsonString());
    }

    /// <summary>The user as audit events show it.</summary>
    internal static JsonObject UserInfo(KubeUser user)
    {
        var o = new JsonObject { ["username"] = user.Name };
        if (user.Uid is { Length: > 0 } uid)
        {
            o["uid"] = uid;
        }

        o["groups"] = new JsonArray([.. user.Groups.Select(g => (JsonNode)g)]);
        return o;
    }

    private static string Micro(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private async Task WriteAsync()
    {
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        var file = new StreamWriter(new FileStream(Path, options));
        try
        {
            while (await lines.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (lines.Reader.TryRead(out var line))
                {
                    await file.WriteLineAsync(line).ConfigureAwait(false);
                }

                await file.FlushAsync().ConfigureAwait(false);
                if (file.BaseStream.Length > MaxBytes)
                {
                    await file.DisposeAsync().ConfigureAwait(false);
                    File.Move(Path, Path + ".1", overwrite: true);
                    file = new StreamWriter(new FileStream(Path, options));
                }
            }
        }
        finally
        {
            await file.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Writes what is queued and closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        lines.Writer.TryComplete();
        await writer.ConfigureAwait(false);
    }
}
