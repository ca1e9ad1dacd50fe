using System.Net.Http.Headers;

namespace Containers.Images.Registry;

/// <summary>The registry client's authorization: the token service of a Bearer challenge, credentials by registry, the WWW-Authenticate parser.</summary>
internal sealed partial class RegistryClient
{
    private async Task<string> FetchTokenAsync(string registry, string parameters, string scope, RegistryCredentials? credentials, CancellationToken ct)
    {
        var p = ParseChallenge(parameters);
        if (!p.TryGetValue("realm", out var realm) || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri))
        {
            throw new RegistryException($"{registry}: Bearer challenge without a usable realm: {parameters}", 401);
        }

        var query = new StringBuilder();
        if (p.TryGetValue("service", out var service))
        {
            query.Append("service=").Append(Uri.EscapeDataString(service));
        }

        foreach (var s in scope.Split(' '))
        {
            query.Append(query.Length > 0 ? "&" : "").Append("scope=").Append(Uri.EscapeDataString(s));
        }

        var url = new UriBuilder(realmUri) { Query = query.ToString() }.Uri;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (credentials is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}")));
        }

        using var response = await retry.ExecuteAsync(async t => await Client(url.Authority).SendAsync(Clone(request), t).ConfigureAwait(false), ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new RegistryException($"{registry}: token request to {realmUri.GetLeftPart(UriPartial.Path)} failed: {(int)response.StatusCode} {response.ReasonPhrase}" + (credentials is null ? "" : $" (user '{credentials.Username}')"), (int)response.StatusCode);
        }

        using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false));
        foreach (var name in (string[])["token", "access_token"])
        {
            if (doc.RootElement.TryGetProperty(name, out var t) && t.GetString() is { Length: > 0 } token)
            {
                return token;
            }
        }

        throw new RegistryException($"{registry}: token response from {realmUri.GetLeftPart(UriPartial.Path)} has no token", (int)response.StatusCode);
    }

    private RegistryCredentials? FindCredentials(string registry) =>
        options.Credentials.GetValueOrDefault(registry) ?? DockerConfig.Find(options.DockerConfigPath, registry);

    private static Dictionary<string, string> ParseChallenge(string parameters)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < parameters.Length)
        {
            while (i < parameters.Length && parameters[i] is ' ' or ',')
            {
                i++;
            }

            var eq = parameters.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            var name = parameters[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < parameters.Length && parameters[i] == '"')
            {
                var end = parameters.IndexOf('"', i + 1);
                end = end < 0 ? parameters.Length : end;
                value = parameters[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var end = parameters.IndexOf(',', i);
                end = end < 0 ? parameters.Length : end;
                value = parameters[i..end].Trim();
                i = end;
            }

            result[name] = value;
        }

        return result;
    }
}
