namespace Containers.Images.Registry;

/// <summary>
/// The distribution API for artifacts that are not container images (Helm charts, signatures): blobs in and out,
/// manifests in and out, tags; with the engine's registry settings (credentials, insecure registries, certificates,
/// token auth, retries). Blobs read are checked against their digest.
/// </summary>
public sealed class RegistryArtifacts : IDisposable
{
    private readonly RegistryClient client;

    /// <summary>A client with <paramref name="options"/> (the defaults: Docker's credential file, loopback registries over HTTP).</summary>
    public RegistryArtifacts(RegistryOptions? options = null) => client = new RegistryClient(options ?? new RegistryOptions());

    /// <summary>Uploads <paramref name="content"/> as a blob of <paramref name="repository"/>'s repository unless it is there; returns its digest.</summary>
    /// <exception cref="RegistryException">The registry refused it.</exception>
    public async Task<Digest> PushBlobAsync(ImageReference repository, byte[] content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var digest = Digest.Of(content);
        if (!await client.BlobExistsAsync(repository, digest, cancellationToken).ConfigureAwait(false))
        {
            await client.UploadBlobAsync(repository, digest, () => new MemoryStream(content, writable: false), content.Length, 0, null, cancellationToken).ConfigureAwait(false);
        }

        return digest;
    }

    /// <summary>Uploads a manifest under <paramref name="reference"/> (a tag or digest); returns the manifest's digest.</summary>
    /// <exception cref="RegistryException">The registry refused it.</exception>
    public async Task<Digest> PutManifestAsync(ImageReference repository, string reference, byte[] manifest, string mediaType, CancellationToken cancellationToken = default)
    {
        await client.PutManifestAsync(repository, reference, manifest, mediaType, cancellationToken).ConfigureAwait(false);
        return Digest.Of(manifest);
    }

    /// <summary>A manifest and its media type.</summary>
    /// <exception cref="ImageNotFoundException">There is no such manifest (registry, repository and reference named).</exception>
    public Task<(byte[] Body, string MediaType)> GetManifestAsync(ImageReference repository, string reference, CancellationToken cancellationToken = default) =>
        client.GetManifestAsync(repository, reference, cancellationToken);

    /// <summary>A blob, checked against <paramref name="digest"/>.</summary>
    /// <exception cref="ImageException">The blob's content does not match its digest.</exception>
    public async Task<byte[]> GetBlobAsync(ImageReference repository, Digest digest, CancellationToken cancellationToken = default)
    {
        using var response = await client.GetBlobAsync(repository, digest, cancellationToken).ConfigureAwait(false);
        byte[] content = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return Digest.Of(content) == digest ? content : throw new ImageException($"{repository.Name}: blob {digest} does not match its digest");
    }

    /// <summary>The repository's tags.</summary>
    public Task<IReadOnlyList<string>> ListTagsAsync(ImageReference repository, CancellationToken cancellationToken = default) =>
        client.ListTagsAsync(repository, cancellationToken);

    /// <inheritdoc/>
    public void Dispose() => client.Dispose();
}
