using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Containers.Volumes.Backups;

/// <summary>Where backups are kept: a flat key-value space (keys with '/' separators), as S3 has it.</summary>
public interface IBackupTarget : IDisposable
{
    /// <summary>What it is, for messages (a directory, or s3://bucket/prefix at an endpoint).</summary>
    string Description { get; }

    /// <summary>True when <paramref name="key"/> exists.</summary>
    Task<bool> ExistsAsync(string key, CancellationToken ct);

    /// <summary>Stores <paramref name="data"/> at <paramref name="key"/> (whole, or not at all).</summary>
    Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken ct);

    /// <summary>The bytes at <paramref name="key"/>; throws <see cref="KeyNotFoundException"/> when absent.</summary>
    Task<byte[]> GetAsync(string key, CancellationToken ct);

    /// <summary>Every key starting with <paramref name="prefix"/>.</summary>
    Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct);

    /// <summary>Removes <paramref name="key"/> (nothing when absent).</summary>
    Task DeleteAsync(string key, CancellationToken ct);
}

/// <summary>Backup targets by URL: a directory (<c>/path</c> or <c>file:///path</c>) or an S3 bucket (<c>s3://bucket/prefix</c>).</summary>
public static class BackupTargets
{
    /// <summary>
    /// Opens the target at <paramref name="url"/>. For S3 the endpoint, region and credentials come from
    /// <paramref name="s3"/>, else from <c>AWS_ENDPOINT_URL</c>, <c>AWS_REGION</c>, <c>AWS_ACCESS_KEY_ID</c> and
    /// <c>AWS_SECRET_ACCESS_KEY</c>.
    /// </summary>
    public static IBackupTarget Open(string url, S3Settings? s3 = null)
    {
        if (url.StartsWith("s3://", StringComparison.Ordinal))
        {
            var rest = url["s3://".Length..];
            var slash = rest.IndexOf('/');
            var bucket = slash < 0 ? rest : rest[..slash];
            var prefix = slash < 0 ? "" : rest[(slash + 1)..].Trim('/');
            if (bucket.Length == 0)
            {
                throw new ArgumentException($"backup target '{url}': no bucket (s3://BUCKET/PREFIX)");
            }

            s3 ??= new S3Settings(
                Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL"),
                Environment.GetEnvironmentVariable("AWS_REGION") ?? "us-east-1",
                Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") ?? "",
                Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY") ?? "");
            return new S3BackupTarget(bucket, prefix, s3);
        }

        var path = url.StartsWith("file://", StringComparison.Ordinal) ? new Uri(url).LocalPath : url;
        if (!Path.IsPathFullyQualified(path))
        {
            throw new ArgumentException($"backup target '{url}': expected s3://BUCKET/PREFIX, file:///PATH or an absolute path");
        }

        return new DirectoryBackupTarget(path);
    }
}

/// <summary>How to reach an S3 service.</summary>
/// <param name="Endpoint">Its URL (null: AWS itself); an S3-compatible server is reached path-style.</param>
/// <param name="Region">The region to sign for.</param>
/// <param name="AccessKey">The access key id.</param>
/// <param name="SecretKey">The secret key.</param>
public sealed record S3Settings(string? Endpoint, string Region, string AccessKey, string SecretKey);

/// <summary>Backups in a directory: each key a file, written to a temporary name and renamed (whole or not at all).</summary>
/// <param name="root">The directory (made when missing).</param>
public sealed class DirectoryBackupTarget(string root) : IBackupTarget
{
    /// <inheritdoc/>
    public string Description => root;

    /// <inheritdoc/>
    public Task<bool> ExistsAsync(string key, CancellationToken ct) => Task.FromResult(File.Exists(PathOf(key)));

    /// <inheritdoc/>
    public async Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var path = PathOf(key);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = $"{path}.{Guid.NewGuid():N}.tmp";
            try
            {
                await using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                {
                    await f.WriteAsync(data, ct).ConfigureAwait(false);
                    f.Flush(flushToDisk: true);
                }

                File.Move(temp, path, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BackupException($"backup target {root}: cannot write {key}: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    public async Task<byte[]> GetAsync(string key, CancellationToken ct)
    {
        try
        {
            return await File.ReadAllBytesAsync(PathOf(key), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KeyNotFoundException($"backup target {root}: no {key}");
        }
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListAsync(string prefix, CancellationToken ct)
    {
        if (!Directory.Exists(root))
        {
            return Task.FromResult<IReadOnlyList<string>>([]);
        }

        IReadOnlyList<string> keys = [.. Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
        return Task.FromResult(keys);
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string key, CancellationToken ct)
    {
        File.Delete(PathOf(key));
        return Task.CompletedTask;
    }

    private string PathOf(string key) =>
        key.Split('/').Any(p => p is "" or "." or "..") ? throw new ArgumentException($"bad key '{key}'") : Path.Combine(root, key);

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}

/// <summary>Backups in an S3 bucket (AWSSDK.S3), under a key prefix.</summary>
public sealed class S3BackupTarget : IBackupTarget
{
    private readonly AmazonS3Client client;
    private readonly string bucket;
    private readonly string prefix;

    /// <summary>A target in <paramref name="bucket"/> under <paramref name="prefix"/>.</summary>
    public S3BackupTarget(string bucket, string prefix, S3Settings settings)
    {
        this.bucket = bucket;
        this.prefix = prefix.Length == 0 ? "" : prefix + "/";
        var config = new AmazonS3Config
        {
            AuthenticationRegion = settings.Region,
            MaxErrorRetry = 2,

            // plain bodies: S3-compatible servers that do not speak aws-chunked trailers (s3rver, older MinIO) would store the framing
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (settings.Endpoint is { Length: > 0 } endpoint)
        {
            config.ServiceURL = endpoint;
            config.ForcePathStyle = true;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(settings.Region);
        }

        client = new AmazonS3Client(new BasicAWSCredentials(settings.AccessKey, settings.SecretKey), config);
        Description = $"s3://{bucket}/{prefix}" + (settings.Endpoint is { Length: > 0 } e ? $" at {e}" : "");
    }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public async Task<bool> ExistsAsync(string key, CancellationToken ct)
    {
        try
        {
            await client.GetObjectMetadataAsync(bucket, prefix + key, ct).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
        {
            throw Failed("read", key, e);
        }
    }

    /// <inheritdoc/>
    public async Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        try
        {
            using var body = new MemoryStream(data.ToArray(), writable: false);
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = prefix + key, InputStream = body, AutoCloseStream = false, UseChunkEncoding = false }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
        {
            throw Failed("write", key, e);
        }
    }

    /// <inheritdoc/>
    public async Task<byte[]> GetAsync(string key, CancellationToken ct)
    {
        try
        {
            using var response = await client.GetObjectAsync(bucket, prefix + key, ct).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            await response.ResponseStream.CopyToAsync(buffer, ct).ConfigureAwait(false);
            return buffer.ToArray();
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new KeyNotFoundException($"backup target {Description}: no {key}");
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
        {
            throw Failed("read", key, e);
        }
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ListAsync(string keyPrefix, CancellationToken ct)
    {
        var keys = new List<string>();
        try
        {
            var request = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix + keyPrefix };
            ListObjectsV2Response response;
            do
            {
                response = await client.ListObjectsV2Async(request, ct).ConfigureAwait(false);
                keys.AddRange((response.S3Objects ?? []).Select(o => o.Key[prefix.Length..]));
                request.ContinuationToken = response.NextContinuationToken;
            }
            while (response.IsTruncated == true);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
        {
            throw Failed("list", keyPrefix, e);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    /// <inheritdoc/>
    public async Task DeleteAsync(string key, CancellationToken ct)
    {
        try
        {
            await client.DeleteObjectAsync(bucket, prefix + key, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
        {
            throw Failed("delete", key, e);
        }
    }

    private BackupException Failed(string what, string key, Exception e) =>
        new($"backup target {Description}: cannot {what} {key}: {(e is AmazonServiceException { InnerException: { } inner } ? inner.Message : e.Message)}", e);

    /// <inheritdoc/>
    public void Dispose() => client.Dispose();
}

/// <summary>A backup or restore failed (its target could not be reached, or held something wrong).</summary>
/// <param name="message">What happened, naming the target.</param>
/// <param name="inner">The cause.</param>
public sealed class BackupException(string message, Exception? inner = null) : IOException(message, inner);
