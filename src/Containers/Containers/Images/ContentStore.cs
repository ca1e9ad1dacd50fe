using System.Security.Cryptography;

namespace Containers.Images;

/// <summary>
/// The blobs of an OCI image layout (<c>blobs/sha256/&lt;hex&gt;</c>) and its <c>index.json</c>. A blob is written to
/// <c>ingest/</c>, its size and digest verified, fsynced, then renamed into place: it is never visible under a
/// wrong digest. <c>index.json</c> changes under an exclusive lock and are replaced atomically.
/// </summary>
internal sealed class ContentStore
{
    /// <summary>The annotation holding an image's name in <c>index.json</c> (OCI image layout).</summary>
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>containerd's annotation for the full image name, also written for tools that read it.</summary>
    public const string ImageNameAnnotation = "io.containerd.image.name";

    private readonly ISyscalls sys;

    public ContentStore(string dir, ISyscalls sys)
    {
        this.sys = sys;
        Dir = dir;
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        Directory.CreateDirectory(IngestDir);
        var layout = Path.Combine(dir, "oci-layout");
        if (!File.Exists(layout))
        {
            RawFile.Replace(sys, layout, JsonSerializer.SerializeToUtf8Bytes(new OciLayoutFile(), OciJsonContext.Default.OciLayoutFile));
        }

        if (!File.Exists(IndexPath))
        {
            using var l = Lock(exclusive: true);
            if (!File.Exists(IndexPath))
            {
                WriteIndex(new ImageIndex { MediaType = MediaTypes.OciIndex });
            }
        }
    }

    /// <summary>The layout directory.</summary>
    public string Dir { get; }

    public string IngestDir => Path.Combine(Dir, "ingest");

    private string IndexPath => Path.Combine(Dir, "index.json");

    public string BlobPath(Digest digest) => Path.Combine(Dir, "blobs", digest.Algorithm, digest.Hex);

    public bool Exists(Digest digest) => File.Exists(BlobPath(digest));

    /// <summary>Opens a blob. Throws <see cref="ImageNotFoundException"/> when it is not in the store.</summary>
    public FileStream OpenRead(Digest digest)
    {
        try
        {
            return new FileStream(BlobPath(digest), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (FileNotFoundException)
        {
            throw new ImageNotFoundException($"blob {digest} is not in the store {Dir}");
        }
    }

    /// <summary>A whole (small) blob. Throws <see cref="ImageNotFoundException"/>.</summary>
    public byte[] ReadAll(Digest digest) =>
        RawFile.Read(sys, BlobPath(digest)) ?? throw new ImageNotFoundException($"blob {digest} is not in the store {Dir}");

    public long Size(Digest digest) => new FileInfo(BlobPath(digest)).Length;

    /// <summary>Stores <paramref name="data"/> (a manifest or config made here) and returns its descriptor.</summary>
    public Descriptor Write(string mediaType, ReadOnlySpan<byte> data)
    {
        var digest = Digest.Of(data);
        if (!Exists(digest))
        {
            using var ingest = BeginIngest(digest, data.Length);
            ingest.Write(data);
            ingest.Commit();
        }

        return new Descriptor { MediaType = mediaType, Digest = digest.ToString(), Size = data.Length };
    }

    /// <summary>Starts writing a blob that must come out as <paramref name="expected"/> (size -1 when unknown).</summary>
    public Ingest BeginIngest(Digest expected, long expectedSize) => new(this, expected, expectedSize);

    /// <summary>Copies <paramref name="source"/> in as a verified blob.</summary>
    public async Task IngestAsync(Stream source, Digest expected, long expectedSize, CancellationToken cancellationToken)
    {
        if (Exists(expected))
        {
            return;
        }

        using var ingest = BeginIngest(expected, expectedSize);
        var buffer = new byte[1 << 17];
        int n;
        while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            ingest.Write(buffer.AsSpan(0, n));
        }

        ingest.Commit();
    }

    /// <summary>Stores a stream of unknown digest (an archive member), returning its digest and size.</summary>
    public async Task<(Digest Digest, long Size)> IngestUnknownAsync(Stream source, CancellationToken cancellationToken)
    {
        var temp = Path.Combine(IngestDir, "u-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                var buffer = new byte[1 << 17];
                int n;
                while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    size += n;
                }

                file.Flush(flushToDisk: true);
            }

            var digest = Digest.FromHash(hash.GetHashAndReset());
            File.Move(temp, BlobPath(digest), overwrite: true);
            return (digest, size);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public void Delete(Digest digest) => File.Delete(BlobPath(digest));

    /// <summary>Every blob in the store.</summary>
    public IEnumerable<Digest> ListBlobs() =>
        Directory.EnumerateFiles(Path.Combine(Dir, "blobs", "sha256"))
            .Select(f => Digest.TryParse("sha256:" + Path.GetFileName(f), out var d) ? d : (Digest?)null)
            .OfType<Digest>();

    /// <summary>Removes ingest files no process is writing (their writer died).</summary>
    public void SweepIngest()
    {
        foreach (var file in Directory.EnumerateFiles(IngestDir))
        {
            try
            {
                using var fs = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                File.Delete(file);
            }
            catch (IOException)
            {
                // being written by another process (it holds the lock)
            }
        }
    }

    /// <summary>Takes the store lock (exclusive for index changes and garbage collection, shared while pulling).</summary>
    public IDisposable Lock(bool exclusive) => new FileLock(sys, Path.Combine(Dir, "index.lock"), exclusive);

    /// <summary>The garbage-collection lock: pulls and loads hold it shared until their image is named, prune exclusive.</summary>
    public IDisposable GcLock(bool exclusive) => new FileLock(sys, Path.Combine(Dir, "gc.lock"), exclusive);

    /// <summary>Reads <c>index.json</c>.</summary>
    public ImageIndex ReadIndex()
    {
        var bytes = RawFile.Read(sys, IndexPath) ?? throw new ImageException($"{IndexPath} is missing");
        try
        {
            return JsonSerializer.Deserialize(bytes, OciJsonContext.Default.ImageIndex) ?? new ImageIndex();
        }
        catch (JsonException e)
        {
            throw new ImageException($"{IndexPath} is not a valid OCI index: {e.Message}", e);
        }
    }

    /// <summary>Changes <c>index.json</c> under the exclusive lock; <paramref name="change"/> returns the new manifest list.</summary>
    public T UpdateIndex<T>(Func<ImmutableArray<Descriptor>, (ImmutableArray<Descriptor> Manifests, T Result)> change)
    {
        using var l = Lock(exclusive: true);
        var index = ReadIndex();
        var (manifests, result) = change(index.Manifests);
        if (manifests != index.Manifests)
        {
            WriteIndex(index with { Manifests = manifests, MediaType = MediaTypes.OciIndex });
        }

        return result;
    }

    private void WriteIndex(ImageIndex index) =>
        RawFile.Replace(sys, IndexPath, JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Default.ImageIndex));

    /// <summary>A blob being written: verified and renamed into place by <see cref="Commit"/>, deleted otherwise.</summary>
    internal sealed class Ingest : IDisposable
    {
        private readonly ContentStore store;
        private readonly Digest expected;
        private readonly long expectedSize;
        private readonly IncrementalHash hash;
        private readonly FileStream file;
        private readonly string temp;
        private long written;
        private bool committed;

        public Ingest(ContentStore store, Digest expected, long expectedSize)
        {
            this.store = store;
            this.expected = expected;
            this.expectedSize = expectedSize;
            hash = expected.CreateHash();
            temp = Path.Combine(store.IngestDir, expected.Hex + "-" + Guid.NewGuid().ToString("N")[..8]);
            file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        }

        public long Written => written;

        public void Write(ReadOnlySpan<byte> data)
        {
            written += data.Length;
            if (expectedSize >= 0 && written > expectedSize)
            {
                throw new DigestMismatchException($"blob {expected}: more than the {expectedSize} bytes its descriptor says");
            }

            hash.AppendData(data);
            file.Write(data);
        }

        /// <summary>Verifies size and digest, fsyncs and renames. Throws <see cref="DigestMismatchException"/>.</summary>
        public void Commit()
        {
            if (expectedSize >= 0 && written != expectedSize)
            {
                throw new DigestMismatchException($"blob {expected}: got {written} bytes, its descriptor says {expectedSize} (truncated download?)");
            }

            var actual = expected.WithHash(hash.GetHashAndReset());
            if (actual != expected)
            {
                throw new DigestMismatchException($"blob {expected}: content has digest {actual}; discarded");
            }

            file.Flush(flushToDisk: true);
            file.Dispose();
            Directory.CreateDirectory(Path.GetDirectoryName(store.BlobPath(expected))!);
            File.Move(temp, store.BlobPath(expected), overwrite: true);
            committed = true;
        }

        public void Dispose()
        {
            file.Dispose();
            hash.Dispose();
            if (!committed)
            {
                File.Delete(temp);
            }
        }
    }
}
