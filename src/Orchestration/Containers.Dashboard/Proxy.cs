using Microsoft.AspNetCore.Http;

namespace Containers.Dashboard;

/// <summary>Forwards a logged-in page's request to the Docker API or the cluster's API, streaming both ways (logs, stats, events, watches, pulls).</summary>
internal static class Proxy
{
    private static readonly string[] RequestHeaders = ["Content-Type", "Accept"];

    public static async Task<IResult> ForwardAsync(HttpContext http, HttpClient client, string path)
    {
        var request = http.Request;
        string target = string.Join('/', path.Split('/').Select(Uri.EscapeDataString)) + request.QueryString.Value;
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(target, UriKind.Relative));
        if (request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            message.Content = new StreamContent(request.Body);
        }

        foreach (var name in RequestHeaders)
        {
            if (request.Headers.TryGetValue(name, out var value))
            {
                if (!message.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)value))
                {
                    message.Content ??= new ByteArrayContent([]);
                    message.Content.Headers.TryAddWithoutValidation(name, (IEnumerable<string?>)value);
                }
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, http.RequestAborted).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            return DashboardEndpoints.Error($"the endpoint did not answer: {e.Message}", 502);
        }

        using (response)
        {
            var answer = http.Response;
            answer.StatusCode = (int)response.StatusCode;
            if (response.Content.Headers.ContentType is { } type)
            {
                answer.ContentType = type.ToString();
            }

            answer.Headers.CacheControl = "no-store";
            var buffer = new byte[16384];
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(http.RequestAborted).ConfigureAwait(false);
                int n;
                while ((n = await body.ReadAsync(buffer, http.RequestAborted).ConfigureAwait(false)) > 0)
                {
                    await answer.Body.WriteAsync(buffer.AsMemory(0, n), http.RequestAborted).ConfigureAwait(false);
                    await answer.Body.FlushAsync(http.RequestAborted).ConfigureAwait(false); // a log line or an event now, not when a buffer fills
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                // the page went away, or the stream ended under it
            }

            return Results.Empty;
        }
    }
}
