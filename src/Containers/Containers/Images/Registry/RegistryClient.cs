using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Polly;
using Polly.Retry;

namespace Containers.Images.Registry;

/// <summary>
/// The OCI distribution API client: manifests, blobs, uploads and tags, with anonymous, basic and Bearer-token
/// auth (tokens cached per scope), HTTPS with the system CAs (plus certs.d), plain HTTP for insecure registries,
/// and retries of transient failures.
/// </summary>
internal sealed partial class RegistryClient : IDisposable
{
    private readonly RegistryOptions options;
    private readonly ConcurrentDictionary<string, HttpClient> clients = new();
    private readonly ConcurrentDictionary<string, string> schemes = new();
    private readonly ConcurrentDictionary<string, string> authorizations = new();
    private readonly ResiliencePipeline<HttpResponseMessage> retry;

    public RegistryClient(RegistryOptions options)
    {
        this.options = options;
        retry = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(200),
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutException>()
                    .HandleResult(r => (int)r.StatusCode >= 500 || r.StatusCode == HttpStatusCode.TooManyRequests),
                OnRetry = a =>
                {
                    a.Outcome.Result?.Dispose();
                    return default;
                },
            })
            .Build();
    }

    /// <summary>A pipeline for whole operations (a layer download) that failed on the network mid-way.</summary>
    public ResiliencePipeline OperationRetry => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = Math.Max(1, options.MaxRetries),
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(200),
            ShouldHandle = new PredicateBuilder().Handle<HttpRequestException>().Handle<HttpIOException>(), // not disk errors
        })
        .Build();

    /// <summary>Fetches a manifest (or index). Throws <see cref="ImageNotFoundException"/> naming registry, repository and reference.</summary>
    public async Task<(byte[] Body, string MediaType)> GetManifestAsync(ImageReference image, string reference, CancellationToken ct)
    {
        using var response = await SendAsync(image, "pull", () =>
        {
            var r = new HttpRequestMessage(HttpMethod.Get, $"/v2/{image.Repository}/manifests/{reference}");
            r.Headers.TryAddWithoutValidation("Accept", Oci.MediaTypes.ManifestAccept + ", " + Oci.MediaTypes.DockerSchema1Signed + ";q=0.1");
            return r;
        }, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ImageNotFoundException($"manifest for {image.Name}:{reference} not found: {image.Registry} has no such image or tag in repository {image.Repository}");
        }

        await EnsureSuccessAsync(response, image, $"manifest {reference}").ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        return (body, mediaType);
    }

    /// <summary>Opens a blob for reading (the caller verifies its digest). Throws <see cref="ImageNotFoundException"/>.</summary>
    public async Task<HttpResponseMessage> GetBlobAsync(ImageReference image, Digest digest, CancellationToken ct)
    {
        var response = await SendAsync(image, "pull", () => new HttpRequestMessage(HttpMethod.Get, $"/v2/{image.Repository}/blobs/{digest}"), ct, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            response.Dispose();
            throw new ImageNotFoundException($"blob {digest} not found in {image.Registry}/{image.Repository}");
        }

        await EnsureSuccessAsync(response, image, $"blob {digest}").ConfigureAwait(false);
        return response;
    }

    /// <summary>True when the repository already has the blob (HEAD).</summary>
    public async Task<bool> BlobExistsAsync(ImageReference image, Digest digest, CancellationToken ct)
    {
        using var response = await SendAsync(image, "pull,push", () => new HttpRequestMessage(HttpMethod.Head, $"/v2/{image.Repository}/blobs/{digest}"), ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, image, $"blob {digest}").ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Tries a cross-repository mount from <paramref name="fromRepository"/>; returns true when mounted, false when
    /// the registry started an ordinary upload instead (which is abandoned).
    /// </summary>
    public async Task<bool> MountBlobAsync(ImageReference image, Digest digest, string fromRepository, CancellationToken ct)
    {
        using var response = await SendAsync(image, "pull,push", () => new HttpRequestMessage(HttpMethod.Post, $"/v2/{image.Repository}/blobs/uploads/?mount={digest}&from={Uri.EscapeDataString(fromRepository)}"), ct, extraScope: $"repository:{fromRepository}:pull").ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Created)
        {
            return true;
        }

        if (response.StatusCode == HttpStatusCode.Accepted && response.Headers.Location is { } location)
        {
            using var cancel = await SendAsync(image, "pull,push", () => new HttpRequestMessage(HttpMethod.Delete, Resolve(response, location)), ct).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>Uploads a blob: one PUT, or PATCH chunks of <paramref name="chunkSize"/> then a closing PUT.</summary>
    public async Task UploadBlobAsync(ImageReference image, Digest digest, Func<Stream> open, long size, long chunkSize, IProgress<long>? progress, CancellationToken ct)
    {
        using var start = await SendAsync(image, "pull,push", () => new HttpRequestMessage(HttpMethod.Post, $"/v2/{image.Repository}/blobs/uploads/"), ct).ConfigureAwait(false);
        await EnsureSuccessAsync(start, image, "upload start").ConfigureAwait(false);
        var location = Resolve(start, start.Headers.Location ?? throw new RegistryException($"{image.Registry}: upload of {digest} to {image.Repository}: no Location header", (int)start.StatusCode));
        await using var stream = open();
        if (chunkSize > 0 && size > chunkSize)
        {
            var buffer = new byte[chunkSize];
            long offset = 0;
            while (offset < size)
            {
                var n = await stream.ReadAtLeastAsync(buffer, (int)Math.Min(chunkSize, size - offset), throwOnEndOfStream: true, ct).ConfigureAwait(false);
                var from = offset;
                var chunk = buffer.AsMemory(0, n);
                using var patch = await SendAsync(image, "pull,push", () =>
                {
                    var r = new HttpRequestMessage(HttpMethod.Patch, location) { Content = new ReadOnlyMemoryContent(chunk) };
                    r.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                    r.Content.Headers.TryAddWithoutValidation("Content-Range", $"{from}-{from + n - 1}");
                    return r;
                }, ct).ConfigureAwait(false);
                await EnsureSuccessAsync(patch, image, $"upload chunk of {digest}").ConfigureAwait(false);
                location = patch.Headers.Location is { } next ? Resolve(patch, next) : location;
                offset += n;
                progress?.Report(offset);
            }

            using var close = await SendAsync(image, "pull,push", () => new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)), ct).ConfigureAwait(false);
            await EnsureSuccessAsync(close, image, $"upload of {digest}").ConfigureAwait(false);
            return;
        }

        // monolithic: the body is re-read from the start if auth makes us resend
        using var put = await SendAsync(image, "pull,push", () =>
        {
            var body = open();
            var r = new HttpRequestMessage(HttpMethod.Put, WithDigest(location, digest)) { Content = new StreamContent(body, 1 << 17) };
            r.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            r.Content.Headers.ContentLength = size;
            return r;
        }, ct).ConfigureAwait(false);
        await EnsureSuccessAsync(put, image, $"upload of {digest}").ConfigureAwait(false);
        progress?.Report(size);
    }

    /// <summary>Uploads a manifest under a tag or digest.</summary>
    public async Task PutManifestAsync(ImageReference image, string reference, byte[] body, string mediaType, CancellationToken ct)
    {
        using var response = await SendAsync(image, "pull,push", () =>
        {
            var r = new HttpRequestMessage(HttpMethod.Put, $"/v2/{image.Repository}/manifests/{reference}") { Content = new ByteArrayContent(body) };
            r.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
            return r;
        }, ct).ConfigureAwait(false);
        await EnsureSuccessAsync(response, image, $"manifest {reference}").ConfigureAwait(false);
    }

    /// <summary>The repository's tags (following Link pagination).</summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(ImageReference image, CancellationToken ct)
    {
        var tags = new List<string>();
        string? next = $"/v2/{image.Repository}/tags/list";
        while (next is not null)
        {
            var url = next;
            using var response = await SendAsync(image, "pull", () => new HttpRequestMessage(HttpMethod.Get, url), ct).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                throw new ImageNotFoundException($"repository {image.Repository} not found in {image.Registry}");
            }

            await EnsureSuccessAsync(response, image, "tags").ConfigureAwait(false);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false));
            if (doc.RootElement.TryGetProperty("tags", out var t) && t.ValueKind == JsonValueKind.Array)
            {
                tags.AddRange(t.EnumerateArray().Select(e => e.GetString()).OfType<string>());
            }

            next = response.Headers.TryGetValues("Link", out var links) ? ParseNextLink(links.First()) : null;
        }

        return tags;
    }

    public void Dispose()
    {
        foreach (var c in clients.Values)
        {
            c.Dispose();
        }
    }

    /// <summary>Sends with the cached authorization, answering a 401 challenge once (Basic or Bearer); retries transient failures.</summary>
    private async Task<HttpResponseMessage> SendAsync(ImageReference image, string actions, Func<HttpRequestMessage> make, CancellationToken ct, HttpCompletionOption completion = HttpCompletionOption.ResponseContentRead, string? extraScope = null)
    {
        var registry = image.Registry;
        var scope = $"repository:{image.Repository}:{actions}" + (extraScope is null ? "" : " " + extraScope);
        var key = registry + " " + scope;
        var response = await SendRawAsync(registry, make, authorizations.GetValueOrDefault(key) ?? authorizations.GetValueOrDefault(registry + " *"), completion, ct).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized)
        {
            return response;
        }

        var challenge = response.Headers.WwwAuthenticate.FirstOrDefault();
        response.Dispose();
        if (challenge is null)
        {
            throw new RegistryException($"{registry}: 401 Unauthorized for {image.Repository} without a WWW-Authenticate challenge", 401);
        }

        var credentials = FindCredentials(registry);
        string authorization;
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (credentials is null)
            {
                throw new RegistryException($"{registry}: authentication required for {image.Repository} (Basic) and no credentials are configured for it (docker login, or RegistryOptions.Credentials)", 401);
            }

            authorization = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Username}:{credentials.Password}"));
            authorizations[registry + " *"] = authorization;
        }
        else if (challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            authorization = "Bearer " + await FetchTokenAsync(registry, challenge.Parameter ?? "", scope, credentials, ct).ConfigureAwait(false);
            authorizations[key] = authorization;
        }
        else
        {
            throw new RegistryException($"{registry}: unsupported authentication scheme '{challenge.Scheme}'", 401);
        }

        response = await SendRawAsync(registry, make, authorization, completion, ct).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            response.Dispose();
            throw new RegistryException($"{registry}: authentication failed for {image.Repository}" + (credentials is null ? " (no credentials configured)" : $" as user '{credentials.Username}'"), 401);
        }

        if (response.StatusCode == HttpStatusCode.Forbidden)
        {
            response.Dispose();
            throw new RegistryException($"{registry}: access to {image.Repository} denied ({actions})", 403);
        }

        return response;
    }

    private static HttpRequestMessage Clone(HttpRequestMessage r)
    {
        var copy = new HttpRequestMessage(r.Method, r.RequestUri);
        foreach (var h in r.Headers)
        {
            copy.Headers.TryAddWithoutValidation(h.Key, h.Value);
        }

        return copy;
    }

    private async Task<HttpResponseMessage> SendRawAsync(string registry, Func<HttpRequestMessage> make, string? authorization, HttpCompletionOption completion, CancellationToken ct)
    {
        return await retry.ExecuteAsync(async t =>
        {
            var known = schemes.GetValueOrDefault(registry);
            var tryHttpFirst = known == "http";
            try
            {
                return await SendOnceAsync(registry, tryHttpFirst ? "http" : "https", make, authorization, completion, t).ConfigureAwait(false);
            }
            catch (HttpRequestException) when (known is null && IsInsecure(registry))
            {
                // docker's rule for insecure registries: HTTPS first, then plain HTTP
                var response = await SendOnceAsync(registry, "http", make, authorization, completion, t).ConfigureAwait(false);
                schemes[registry] = "http";
                return response;
            }
        }, ct).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendOnceAsync(string registry, string scheme, Func<HttpRequestMessage> make, string? authorization, HttpCompletionOption completion, CancellationToken ct)
    {
        var request = make();
        if (!request.RequestUri!.IsAbsoluteUri)
        {
            request.RequestUri = new Uri($"{scheme}://{ApiHost(registry)}{request.RequestUri.OriginalString}");
        }

        if (authorization is not null && string.Equals(request.RequestUri.Authority, ApiHost(registry), StringComparison.OrdinalIgnoreCase))
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        request.Headers.UserAgent.ParseAdd("containers-dotnet/0.1");
        try
        {
            var response = await Client(registry).SendAsync(request, completion, ct).ConfigureAwait(false);
            schemes.TryAdd(registry, scheme);
            return response;
        }
        catch (HttpRequestException e) when (!IsInsecure(registry) || scheme == "http")
        {
            throw new HttpRequestException($"{registry}: {request.Method} {request.RequestUri.AbsolutePath}: {e.Message}", e, e.StatusCode);
        }
    }

    private static string ApiHost(string registry) => registry == ImageReference.DockerHub ? "registry-1.docker.io" : registry;

    private HttpClient Client(string registry) => clients.GetOrAdd(registry, r =>
    {
        var insecure = IsInsecure(r);
        var cas = LoadCertificates(r);
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = true,
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, chain, errors) =>
                {
                    if (errors == SslPolicyErrors.None || insecure)
                    {
                        return true;
                    }

                    if (cas.Count == 0 || cert is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                    {
                        return false;
                    }

                    using var custom = new X509Chain();
                    custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    custom.ChainPolicy.CustomTrustStore.AddRange(cas);
                    custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return custom.Build(new X509Certificate2(cert));
                },
            },
        };
        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    });

    private X509Certificate2Collection LoadCertificates(string registry)
    {
        var collection = new X509Certificate2Collection();
        var dir = Path.Combine(options.CertificatesDirectory, registry);
        if (Directory.Exists(dir))
        {
            foreach (var file in Directory.EnumerateFiles(dir, "*.crt"))
            {
                collection.ImportFromPemFile(file);
            }
        }

        return collection;
    }

    private bool IsInsecure(string registry)
    {
        if (options.InsecureRegistries.Contains(registry))
        {
            return true;
        }

        var host = registry.StartsWith('[') ? registry[1..registry.IndexOf(']', StringComparison.Ordinal)] : registry.Split(':')[0];
        return options.LoopbackIsInsecure && (host == "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip)));
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, ImageReference image, string what)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = "";
        try
        {
            body = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
        }

        var detail = body.Length > 300 ? body[..300] : body;
        throw new RegistryException($"{image.Registry}: {what} of {image.Repository}: {(int)response.StatusCode} {response.ReasonPhrase} {detail}".TrimEnd(), (int)response.StatusCode);
    }

    private static string Resolve(HttpResponseMessage response, Uri location) =>
        location.IsAbsoluteUri ? location.ToString() : new Uri(response.RequestMessage!.RequestUri!, location).ToString();

    private static string WithDigest(string location, Digest digest) =>
        location + (location.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "digest=" + Uri.EscapeDataString(digest.ToString());

    private static string? ParseNextLink(string link)
    {
        // Link: </v2/repo/tags/list?last=x&n=y>; rel="next"
        var start = link.IndexOf('<', StringComparison.Ordinal);
        var end = link.IndexOf('>', StringComparison.Ordinal);
        return start >= 0 && end > start && link.Contains("rel=\"next\"", StringComparison.Ordinal) ? link[(start + 1)..end] : null;
    }
}
