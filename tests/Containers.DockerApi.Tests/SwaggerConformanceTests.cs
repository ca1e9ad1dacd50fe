using System.Text;
using System.Text.Json.Nodes;
using Containers.DockerApi;
using YamlDotNet.RepresentationModel;

namespace Containers.Tests.DockerApi;

/// <summary>
/// Every operation of the Engine API's swagger (moby's api/swagger.yaml, copied into Specs/) walked against our server:
/// each answers with a status the swagger documents for it and, for an error, docker's error object; or it is one of
/// those we do not serve, listed here, and says so. A new endpoint in the swagger, or one we start serving, fails
/// this test until the list says so.
/// </summary>
public sealed class SwaggerConformanceTests
{
    /// <summary>
    /// The operations not served: swarm mode, plugins, secrets and configs, cluster volumes, BuildKit's session,
    /// and docker login (/auth: pulls and pushes use the engine's credentials), commit, diff, export, search.
    /// </summary>
    private static readonly string[] NotServed =
    [
        "DELETE /configs/{id}", "DELETE /nodes/{id}", "DELETE /plugins/{name}", "DELETE /secrets/{id}", "DELETE /services/{id}",
        "GET /configs", "GET /configs/{id}", "GET /containers/{id}/attach/ws", "GET /containers/{id}/changes", "GET /containers/{id}/export",
        "GET /distribution/{name}/json", "GET /images/search", "GET /images/{name}/attestations", "GET /nodes", "GET /nodes/{id}", "GET /plugins", "GET /plugins/privileges",
        "GET /plugins/{name}/json", "GET /secrets", "GET /secrets/{id}", "GET /services", "GET /services/{id}", "GET /services/{id}/logs",
        "GET /swarm", "GET /swarm/unlockkey", "GET /tasks", "GET /tasks/{id}", "GET /tasks/{id}/logs",
        "POST /auth", "POST /build/prune", "POST /commit", "POST /configs/create", "POST /configs/{id}/update", "POST /nodes/{id}/update", "POST /plugins/create", "POST /plugins/pull",
        "POST /plugins/{name}/disable", "POST /plugins/{name}/enable", "POST /plugins/{name}/push", "POST /plugins/{name}/set", "POST /plugins/{name}/upgrade",
        "POST /secrets/create", "POST /secrets/{id}/update", "POST /services/create", "POST /services/{id}/update", "POST /session",
        "POST /swarm/init", "POST /swarm/join", "POST /swarm/leave", "POST /swarm/unlock", "POST /swarm/update", "PUT /volumes/{name}",
    ];

    /// <summary>Statuses dockerd answers that the swagger does not list for the operation.</summary>
    private static readonly Dictionary<string, int> Undocumented = new()
    {
        ["GET /images/{name}/get"] = 404, // the image's errdefs.NotFound, before anything is written
    };

    [Fact]
    public async Task Every_operation_of_the_swagger_answers_a_documented_status_or_says_it_is_not_served()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        using var http = DockerHttp.Client(server);
        var operations = Operations();
        Assert.True(operations.Count > 100, $"only {operations.Count} operations read from the swagger");

        var failures = new List<string>();
        var notServed = new List<string>();
        foreach (var (method, path, documented) in operations)
        {
            var key = $"{method} {path}";
            // every name in the path names nothing that exists: the answers are the operation's own errors. The client
            // keeps its connections alive: attach and exec start are also asked on a connection used before
            var url = path.Replace("{id}", "no-such-0123456789", StringComparison.Ordinal).Replace("{name}", "no-such-0123456789", StringComparison.Ordinal);
            url += path switch
            {
                "/events" => "?until=" + DateTimeOffset.UtcNow.ToUnixTimeSeconds(), // not a stream without end
                "/commit" => "?container=no-such-0123456789",
                _ => "",
            };
            var (status, body) = await SendAsync(http, method, url.TrimStart('/'));
            if (status == 404 && body.Contains("is not served", StringComparison.Ordinal))
            {
                notServed.Add(key);
                continue;
            }

            // served for the oldest version we take as for the one clients ask today
            var (oldStatus, oldBody) = await SendAsync(http, method, "/v1.24" + url);
            if (oldStatus != status)
            {
                failures.Add($"{key}: {oldStatus} at API 1.24, {status} at 1.44: {oldBody}");
            }

            // dockerd answers 400 to an invalid parameter on any route (errdefs.InvalidParameter), documented or not
            if (status != 400 && !documented.Contains(status) && !(Undocumented.TryGetValue(key, out var also) && also == status))
            {
                failures.Add($"{key}: {status}, the swagger documents {string.Join(", ", documented)}: {body}");
            }
            else if (body.Length > 0 && !IsDockerError(body))
            {
                failures.Add($"{key}: {status} without docker's error object: {body}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(NotServed.Order(StringComparer.Ordinal).SequenceEqual(notServed.Order(StringComparer.Ordinal)),
            "the operations that say they are not served: " + string.Join(", ", notServed.Order(StringComparer.Ordinal).Select(o => '"' + o + '"')));
    }

    private static async Task<(int Status, string Body)> SendAsync(HttpClient http, string method, string url)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (method is "POST" or "PUT")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        var status = (int)response.StatusCode;
        return (status, status >= 400 && method != "HEAD" ? await response.Content.ReadAsStringAsync(timeout.Token) : "");
    }

    private static bool IsDockerError(string body)
    {
        try
        {
            return JsonNode.Parse(body) is JsonObject o && o["message"] is JsonValue m && m.GetValue<string>().Length > 0;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>Each operation of the swagger: its method, path and the statuses its responses document.</summary>
    private static List<(string Method, string Path, HashSet<int> Statuses)> Operations()
    {
        var paths = Swagger.Section("paths");
        var operations = new List<(string, string, HashSet<int>)>();
        foreach (var (pathNode, methods) in paths.Children)
        {
            foreach (var (methodNode, op) in ((YamlMappingNode)methods).Children)
            {
                var method = ((YamlScalarNode)methodNode).Value!;
                if (method is not ("get" or "post" or "put" or "delete" or "head"))
                {
                    continue; // path-level parameters
                }

                var responses = (YamlMappingNode)((YamlMappingNode)op).Children[new YamlScalarNode("responses")];
                var statuses = responses.Children.Keys.Select(k => int.TryParse(((YamlScalarNode)k).Value, out var s) ? s : 0).Where(s => s > 0).ToHashSet();
                operations.Add((method.ToUpperInvariant(), ((YamlScalarNode)pathNode).Value!, statuses));
            }
        }

        return operations;
    }
}
