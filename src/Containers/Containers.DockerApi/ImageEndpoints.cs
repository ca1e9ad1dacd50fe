using Containers.DockerApi.Models;
using System.Text.Json;
using Containers.Build;
using Containers.Images;

namespace Containers.DockerApi;

/// <summary>
/// The image endpoints: create (pull, or import with fromSrc), list, inspect, history, tag, push, remove, save (get),
/// load, prune, and build (a tar context through our Dockerfile builder). Progress is Docker's JSON-lines stream, and a
/// failure after the stream has begun is its <c>errorDetail</c> line.
/// </summary>
internal sealed partial class ImageEndpoints(ContainerEngine engine, EventHub events)
{

    /// <summary>GET /images/json with filters reference, label, dangling, before, since.</summary>
    public Task ListAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        IEnumerable<LocalImage> images = engine.Images.List();
        foreach (var (key, values) in filters)
        {
            images = key switch
            {
                "reference" => images.Where(i => i.Names.Any(n => values.Any(v => Matches(n, v)))),
                "dangling" => images.Where(i => values.Contains(i.Names.IsEmpty ? "true" : "false")),
                "label" => images.Where(i => values.All(v => v.Split('=', 2) is var kv && (i.Config.Config?.Labels ?? ImmutableSortedDictionary<string, string>.Empty).TryGetValue(kv[0], out var val) && (kv.Length == 1 || val == kv[1]))),
                _ => images,
            };
        }

        var version = DockerApiServer.RequestVersion(ctx);
        return DockerApiServer.Json(ctx, [.. images.Select(i => Summary(i, version))], j => j.ListImageSummary);
    }

    /// <summary>
    /// An image as <c>GET /images/json</c> lists it for API <paramref name="version"/>, as dockerd: an untagged image's
    /// tags and digests are <c>&lt;none&gt;:&lt;none&gt;</c> and <c>&lt;none&gt;@&lt;none&gt;</c> before 1.43, VirtualSize
    /// is there before 1.44, Containers is -1 (not counted) before 1.51 unless <paramref name="containers"/> is given (df).
    /// </summary>
    internal static ImageSummary Summary(LocalImage i, Version version, int containers = -1)
    {
        bool none = version < new Version(1, 43) && i.Names.IsEmpty && i.RepoDigests.IsEmpty;
        return new ImageSummary
        {
            Id = i.Id.ToString(),
            RepoTags = none ? ["<none>:<none>"] : [.. i.Names.Select(DockerApiServer.Short)],
            RepoDigests = none ? ["<none>@<none>"] : [.. i.RepoDigests.Select(DockerApiServer.Short)],
            Created = i.Created?.ToUnixTimeSeconds() ?? 0,
            Size = i.Size,
            SharedSize = -1,
            VirtualSize = version < new Version(1, 44) ? i.Size : null,
            Labels = new(i.Config.Config?.Labels ?? ImmutableSortedDictionary<string, string>.Empty),
            Containers = containers,
        };
    }

    /// <summary>docker images' reference filter: <c>busybox</c>, <c>busybox:*</c>, <c>*/app:1</c>.</summary>
    private static bool Matches(string name, string pattern)
    {
        var familiar = DockerApiServer.Short(name);
        var p = pattern.Contains(':', StringComparison.Ordinal) && !pattern.EndsWith(':') ? pattern : pattern + ":*";
        var regex = "^" + System.Text.RegularExpressions.Regex.Escape(p).Replace("\\*", "[^/]*", StringComparison.Ordinal) + "$";
        return System.Text.RegularExpressions.Regex.IsMatch(familiar, regex) || System.Text.RegularExpressions.Regex.IsMatch(name, regex);
    }

    /// <summary>GET|POST|DELETE /images/{name}[/json|/history|/get|/tag|/push]: the name may hold slashes.</summary>
    public async Task DispatchAsync(HttpContext ctx, string rest)
    {
        var method = ctx.Request.Method;
        if (method == "DELETE")
        {
            await RemoveAsync(ctx, rest).ConfigureAwait(false);
            return;
        }

        var slash = rest.LastIndexOf('/');
        var (name, verb) = slash < 0 ? (rest, "") : (rest[..slash], rest[(slash + 1)..]);
        switch (method, verb)
        {
            case ("GET", "json"):
                await InspectAsync(ctx, name).ConfigureAwait(false);
                break;
            case ("GET", "history"):
                await HistoryAsync(ctx, name).ConfigureAwait(false);
                break;
            case ("GET", "get"):
                await SaveAsync(ctx, [name]).ConfigureAwait(false);
                break;
            case ("POST", "tag"):
                await TagAsync(ctx, name).ConfigureAwait(false);
                break;
            case ("POST", "push"):
                await PushAsync(ctx, name).ConfigureAwait(false);
                break;
            default:
                await DockerApiServer.Error(ctx, 404, $"{method} /images/{rest} is not served by containers-dotnet").ConfigureAwait(false);
                break;
        }
    }

    private LocalImage? Find(string name) => engine.Images.Find(name);

    private static Task NoSuchImage(HttpContext ctx, string name) => DockerApiServer.Error(ctx, 404, $"No such image: {name}");

    private async Task InspectAsync(HttpContext ctx, string name)
    {
        if (Find(name) is not { } i)
        {
            await NoSuchImage(ctx, name).ConfigureAwait(false);
            return;
        }

        await DockerApiServer.Json(ctx, DockerInspect.Image(i, DockerApiServer.RequestVersion(ctx)), j => j.ImageInspect).ConfigureAwait(false);
    }

    private async Task HistoryAsync(HttpContext ctx, string name)
    {
        if (Find(name) is not { } i)
        {
            await NoSuchImage(ctx, name).ConfigureAwait(false);
            return;
        }

        var history = engine.Images.History(name);
        var layers = i.Manifest.Layers.Reverse().ToList();
        var layer = 0;
        var rows = new List<ImageHistoryResponseItem>();
        foreach (var (h, index) in history.Select((h, n) => (h, n)))
        {
            var size = h.EmptyLayer || layer >= layers.Count ? 0 : layers[layer++].Size;
            rows.Add(new ImageHistoryResponseItem
            {
                Id = index == 0 ? i.Id.ToString() : "<missing>",
                Created = h.Created?.ToUnixTimeSeconds() ?? 0,
                CreatedBy = h.CreatedBy ?? "",
                Tags = index == 0 ? [.. i.Names.Select(DockerApiServer.Short)] : null,
                Size = size,
                Comment = h.Comment ?? "",
            });
        }

        await DockerApiServer.Json(ctx, rows, j => j.ListImageHistoryResponseItem).ConfigureAwait(false);
    }

    private async Task TagAsync(HttpContext ctx, string name)
    {
        var repo = ctx.Request.Query["repo"].ToString();
        var tag = ctx.Request.Query["tag"].ToString();
        if (repo.Length == 0)
        {
            await DockerApiServer.Error(ctx, 400, "repo: a repository name is required").ConfigureAwait(false);
            return;
        }

        try
        {
            var target = tag.Length > 0 ? repo + ":" + tag : repo;
            engine.Images.Tag(name, target);
            events.Publish("image", "tag", Find(target)?.Id.ToString() ?? name, target);
            ctx.Response.StatusCode = 201;
        }
        catch (ImageNotFoundException)
        {
            await NoSuchImage(ctx, name).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ImageException or FormatException or ArgumentException)
        {
            await DockerApiServer.Error(ctx, 400, e.Message).ConfigureAwait(false);
        }
    }

    private async Task RemoveAsync(HttpContext ctx, string name)
    {
        try
        {
            var force = DockerApiServer.Flag(ctx.Request.Query, "force");
            var lines = engine.Images.Remove(name, force);
            var result = new List<ImageDeleteResponseItem>();
            foreach (var line in lines)
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var (kind, what) = (line[..colon], line[(colon + 1)..].Trim());
                var untagged = kind == "Untagged";
                result.Add(untagged ? new ImageDeleteResponseItem { Untagged = what } : new ImageDeleteResponseItem { Deleted = what });
                events.Publish("image", untagged ? "untag" : "delete", what, what);
            }

            await DockerApiServer.Json(ctx, result, j => j.ListImageDeleteResponseItem).ConfigureAwait(false);
        }
        catch (ImageNotFoundException)
        {
            await NoSuchImage(ctx, name).ConfigureAwait(false);
        }
    }

    /// <summary>POST /images/prune (filters: dangling=false prunes every unused image).</summary>
    public async Task PruneAsync(HttpContext ctx)
    {
        var filters = DockerApiServer.Filters(ctx.Request.Query["filters"]);
        var all = filters.TryGetValue("dangling", out var d) && d.Contains("false");
        var (deleted, reclaimed) = engine.Images.Prune(all);
        await DockerApiServer.Json(ctx, new ImagePruneResponse { ImagesDeleted = [.. deleted.Select(x => new ImageDeleteResponseItem { Deleted = x })], SpaceReclaimed = reclaimed }, j => j.ImagePruneResponse).ConfigureAwait(false);
    }

    /// <summary>GET /images/get?names=A&amp;names=B: docker save of several images.</summary>
    public Task SaveManyAsync(HttpContext ctx) => SaveAsync(ctx, [.. ctx.Request.Query["names"].OfType<string>()]);

    private async Task SaveAsync(HttpContext ctx, IReadOnlyList<string> names)
    {
        if (names.FirstOrDefault(n => Find(n) is null) is { } missing)
        {
            await NoSuchImage(ctx, missing).ConfigureAwait(false);
            return;
        }

        ctx.Response.ContentType = "application/x-tar";
        // the archive is written to a temporary file first: a failure then is still a proper error, not a cut tar
        var temp = Path.GetTempFileName();
        try
        {
            await using (var file = File.Create(temp))
            {
                await engine.Images.SaveAsync(names, file, ctx.RequestAborted).ConfigureAwait(false);
            }

            await using var read = File.OpenRead(temp);
            ctx.Response.ContentLength = read.Length;
            await read.CopyToAsync(ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>POST /images/load: a docker-save or OCI archive in the body.</summary>
    public async Task LoadAsync(HttpContext ctx)
    {
        IReadOnlyList<LocalImage> loaded; // quiet or not, docker prints what it loaded: no progress is streamed here anyway
        var temp = Path.GetTempFileName();
        try
        {
            await using (var file = File.Create(temp))
            {
                await ctx.Request.Body.CopyToAsync(file, ctx.RequestAborted).ConfigureAwait(false);
            }

            await using var read = File.OpenRead(temp);
            loaded = await engine.Images.LoadAsync(read, ctx.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ImageException or InvalidDataException or JsonException or FormatException or IOException)
        {
            await DockerApiServer.Error(ctx, 400, "loading the image archive failed: " + e.Message).ConfigureAwait(false);
            return;
        }
        finally
        {
            File.Delete(temp);
        }

        ctx.Response.ContentType = "application/json";
        foreach (var image in loaded)
        {
            events.Publish("image", "load", image.Id.ToString(), image.Names.FirstOrDefault() ?? image.Id.ToString());
            foreach (var line in image.Names.IsEmpty ? [$"Loaded image ID: {image.Id}"] : image.Names.Select(n => $"Loaded image: {DockerApiServer.Short(n)}"))
            {
                await Line(ctx, new ProgressMessage { Stream = line + "\n" }).ConfigureAwait(false);
            }
        }
    }

    /// <summary>POST /images/create: fromImage (+tag) pulls; fromSrc=- imports the body as a root filesystem.</summary>
    public async Task CreateAsync(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        var fromImage = q["fromImage"].ToString();
        var fromSrc = q["fromSrc"].ToString();
        var tag = q["tag"].ToString();
        if (fromSrc.Length > 0)
        {
            await ImportAsync(ctx, fromSrc, q["repo"].ToString(), tag).ConfigureAwait(false);
            return;
        }

        if (fromImage.Length == 0)
        {
            await DockerApiServer.Error(ctx, 400, "fromImage or fromSrc: one is required").ConfigureAwait(false);
            return;
        }

        var reference = tag.Length == 0 ? fromImage : tag.StartsWith("sha256:", StringComparison.Ordinal) ? fromImage + "@" + tag : fromImage + ":" + tag;
        ImageReference parsed;
        try
        {
            parsed = ImageReference.Parse(reference);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or ImageException)
        {
            await DockerApiServer.Error(ctx, 400, $"invalid reference format: {reference}: {e.Message}").ConfigureAwait(false);
            return;
        }

        ctx.Response.ContentType = "application/json";
        var gate = new SemaphoreSlim(1, 1);
        var started = false;
        var shown = new HashSet<Digest>();
        async Task Send(ProgressMessage line)
        {
            await gate.WaitAsync().ConfigureAwait(false);
            try
            {
                started = true;
                await Line(ctx, line).ConfigureAwait(false);
            }
            finally
            {
                gate.Release();
            }
        }

        try
        {
            var progress = new Inline<LayerProgress>(p =>
            {
                var id = p.Digest.ToString()[7..19];
                ProgressMessage? line = p.Phase switch
                {
                    LayerPhase.Waiting => new ProgressMessage { Status = "Waiting", Id = id },
                    LayerPhase.AlreadyExists => new ProgressMessage { Status = "Already exists", Id = id },
                    LayerPhase.Transferring when shown.Add(p.Digest) => new ProgressMessage { Status = "Downloading", Id = id, ProgressDetail = new ProgressDetail { Current = p.Current, Total = p.Total } },
                    LayerPhase.Complete => new ProgressMessage { Status = "Pull complete", Id = id },
                    _ => null,
                };
                if (line is not null)
                {
                    Send(line).GetAwaiter().GetResult();
                }
            });
            await Send(new ProgressMessage { Status = $"Pulling from {(parsed.Registry == ImageReference.DockerHub ? parsed.Repository : parsed.Name)}", Id = parsed.Tag ?? parsed.Digest?.ToString() ?? "latest" }).ConfigureAwait(false);
            var image = await engine.Images.PullAsync(reference, null, progress, ctx.RequestAborted).ConfigureAwait(false);
            await Send(new ProgressMessage { Status = $"Digest: {image.ManifestDigest}" }).ConfigureAwait(false);
            await Send(new ProgressMessage { Status = $"Status: Downloaded newer image for {parsed.ToFamiliarString()}" }).ConfigureAwait(false);
            events.Publish("image", "pull", parsed.ToString(), parsed.ToString());
        }
        catch (Exception e) when (e is ImageException or ContainerException or HttpRequestException or IOException)
        {
            var status = e is ImageNotFoundException ? 404 : 500;
            if (!started)
            {
                await DockerApiServer.Error(ctx, status, e.Message).ConfigureAwait(false);
                return;
            }

            await Line(ctx, new ProgressMessage { Error = e.Message, ErrorDetail = new ErrorDetail { Message = e.Message } }).ConfigureAwait(false);
        }
    }

    private async Task ImportAsync(HttpContext ctx, string fromSrc, string repo, string tag)
    {
        if (fromSrc != "-")
        {
            await DockerApiServer.Error(ctx, 400, $"fromSrc: only '-' (the request body) is served, not {fromSrc}").ConfigureAwait(false);
            return;
        }

        var temp = Path.GetTempFileName();
        try
        {
            await using (var file = File.Create(temp))
            {
                await ctx.Request.Body.CopyToAsync(file, ctx.RequestAborted).ConfigureAwait(false);
            }

            await using var read = File.OpenRead(temp);
            var image = await engine.Images.ImportAsync(read, repo.Length == 0 ? null : tag.Length == 0 ? repo : repo + ":" + tag, null, ctx.RequestAborted).ConfigureAwait(false);
            events.Publish("image", "import", image.Id.ToString(), image.Names.FirstOrDefault() ?? image.Id.ToString());
            ctx.Response.ContentType = "application/json";
            await Line(ctx, new ProgressMessage { Status = image.Id.ToString() }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ImageException or InvalidDataException or FormatException)
        {
            await DockerApiServer.Error(ctx, 400, "import failed: " + e.Message).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>POST /images/{name}/push?tag=: pushes to the name's registry.</summary>
    private async Task PushAsync(HttpContext ctx, string name)
    {
        var tag = ctx.Request.Query["tag"].ToString();
        var reference = tag.Length > 0 ? name + ":" + tag : name;
        if (Find(reference) is null)
        {
            await DockerApiServer.Error(ctx, 404, $"An image does not exist locally with the tag: {reference}").ConfigureAwait(false);
            return;
        }

        ctx.Response.ContentType = "application/json";
        try
        {
            await Line(ctx, new ProgressMessage { Status = $"The push refers to repository [{ImageReference.Parse(reference).Name}]" }).ConfigureAwait(false);
            var digest = await engine.Images.PushAsync(reference, null, null, ctx.RequestAborted).ConfigureAwait(false);
            var image = Find(reference)!;
            await Line(ctx, new ProgressMessage { Status = $"{ImageReference.Parse(reference).Tag ?? "latest"}: digest: {digest} size: {image.ManifestDescriptor.Size}" }).ConfigureAwait(false);
            await Line(ctx, new ProgressMessage { ProgressDetail = new ProgressDetail(), Aux = new ProgressAux { Tag = ImageReference.Parse(reference).Tag ?? "latest", Digest = digest.ToString(), Size = image.ManifestDescriptor.Size } }).ConfigureAwait(false);
            events.Publish("image", "push", reference, reference);
        }
        catch (Exception e) when (e is ImageException or ContainerException or HttpRequestException or IOException)
        {
            await Line(ctx, new ProgressMessage { Error = e.Message, ErrorDetail = new ErrorDetail { Message = e.Message } }).ConfigureAwait(false);
        }
    }

    private static async Task Line(HttpContext ctx, ProgressMessage line)
    {
        await ctx.Response.WriteAsync(DockerJsonContext.Serialize(line, j => j.ProgressMessage) + "\r\n").ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Reports synchronously, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>Two streams one after the other (the peeked bytes, then the rest).</summary>
    private sealed class ConcatStream(Stream first, Stream second) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = first.Read(buffer, offset, count);
            return n > 0 ? n : second.Read(buffer, offset, count);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await first.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return n > 0 ? n : await second.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
