using Containers.DockerApi.Models;
using System.Text.Json;
using Containers.Build;
using Containers.Images;

namespace Containers.DockerApi;

/// <summary>POST /build: a build context in the body, built by our Dockerfile builder, with docker's progress stream.</summary>
internal sealed partial class ImageEndpoints
{
    /// <summary>POST /build: the body is the context as a tar (optionally gzip), built by our Dockerfile builder.</summary>
    public async Task BuildAsync(HttpContext ctx)
    {
        var q = ctx.Request.Query;
        var context = Path.Combine(Path.GetTempPath(), "containers-build-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(context);
        try
        {
            try
            {
                await ExtractContextAsync(ctx.Request.Body, context, ctx.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or FormatException or UnauthorizedAccessException)
            {
                await DockerApiServer.Error(ctx, 400, "the build context is not a valid tar archive: " + e.Message).ConfigureAwait(false);
                return;
            }

            ImmutableDictionary<string, string> buildArgs;
            try
            {
                buildArgs = q["buildargs"].ToString() is { Length: > 0 } ba
                    ? (JsonNode.Parse(ba) as JsonObject ?? []).Where(kv => kv.Value is not null).ToImmutableDictionary(kv => kv.Key, kv => (string)kv.Value!)
                    : ImmutableDictionary<string, string>.Empty;
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                await DockerApiServer.Error(ctx, 400, "buildargs: expected a JSON object of strings: " + e.Message).ConfigureAwait(false);
                return;
            }

            var dockerfile = q["dockerfile"].ToString() is { Length: > 0 } df ? df : "Dockerfile";
            var options = new BuildOptions
            {
                ContextDirectory = context,
                DockerfilePath = Path.Combine(context, dockerfile),
                Tags = [.. q["t"].OfType<string>().Where(t => t.Length > 0)],
                BuildArgs = buildArgs,
                Target = q["target"].ToString() is { Length: > 0 } target ? target : null,
                NoCache = DockerApiServer.Flag(q, "nocache"),
                Network = q["networkmode"].ToString() is { Length: > 0 } nm && nm != "default" ? nm : "default",
            };
            ctx.Response.ContentType = "application/json";
            var quiet = DockerApiServer.Flag(q, "q");
            var lines = System.Threading.Channels.Channel.CreateUnbounded<ProgressMessage>();
            var seen = new HashSet<int>();
            var progress = new Inline<BuildEvent>(ev => lines.Writer.TryWrite(new ProgressMessage
            {
                // the classic builder's look: "Step N : INSTRUCTION", then the step's output and " ---> " results
                Stream = seen.Add(ev.Step) ? $"Step {ev.Step} : {StagePrefix().Replace(ev.Text, "")}\n"
                    : ev.Text.StartsWith("DONE", StringComparison.Ordinal) || ev.Text == "CACHED" ? $" ---> {(ev.Text == "CACHED" ? "Using cache" : ev.Text.ToLowerInvariant())}\n"
                    : ev.Text.EndsWith('\n') ? ev.Text : ev.Text + "\n",
            }));
            var build = Task.Run(() => engine.BuildAsync(options, progress, ctx.RequestAborted));
            _ = build.ContinueWith(_ => lines.Writer.TryComplete(), TaskScheduler.Default);
            await foreach (var line in lines.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (!quiet)
                {
                    await Line(ctx, line).ConfigureAwait(false);
                }
            }

            try
            {
                var result = await build.ConfigureAwait(false);
                foreach (var w in result.Warnings)
                {
                    await Line(ctx, new ProgressMessage { Stream = "WARNING: " + w + "\n" }).ConfigureAwait(false);
                }

                await Line(ctx, new ProgressMessage { Aux = new ProgressAux { ID = result.Image.Id.ToString() } }).ConfigureAwait(false);
                await Line(ctx, new ProgressMessage { Stream = quiet ? result.Image.Id + "\n" : $"Successfully built {result.Image.Id.ToString()[7..19]}\n" }).ConfigureAwait(false);
                foreach (var t in options.Tags)
                {
                    await Line(ctx, new ProgressMessage { Stream = $"Successfully tagged {DockerApiServer.Short(ImageReference.Parse(t).ToString())}\n" }).ConfigureAwait(false);
                    events.Publish("image", "tag", result.Image.Id.ToString(), t);
                }
            }
            catch (Exception e) when (e is DockerfileException or ImageException or ContainerException or IOException or FormatException)
            {
                await Line(ctx, new ProgressMessage { Error = e.Message, ErrorDetail = new ErrorDetail { Message = e.Message } }).ConfigureAwait(false);
            }
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }

    /// <summary>
    /// Unpacks a build context into <paramref name="dir"/>: gzip is detected, names are confined (absolute paths and
    /// ".." stay inside, symlinks resolve inside, nothing is written through one), devices are skipped.
    /// </summary>
    internal static async Task ExtractContextAsync(Stream body, string dir, CancellationToken ct)
    {
        var buffered = new BufferedStream(body, 64 * 1024);
        var head = new byte[2];
        var peek = new MemoryStream();
        var n = await buffered.ReadAsync(head, ct).ConfigureAwait(false);
        peek.Write(head, 0, n);
        peek.Position = 0;
        Stream input = new ConcatStream(peek, buffered);
        if (n == 2 && head[0] == 0x1f && head[1] == 0x8b)
        {
            input = new System.IO.Compression.GZipStream(input, System.IO.Compression.CompressionMode.Decompress);
        }

        // the container's docker cp extraction: names and symlinks confined to the context directory. The docker CLI
        // sends a context whose Dockerfile lies outside it (-f elsewhere) without the last entry's padding and the
        // end-of-archive blocks; Go's tar reader, and so dockerd, take an end there as the archive's end, and so do we
        await Container.ExtractArchiveConfinedAsync(dir, new TarEndStream(input), ct).ConfigureAwait(false);
    }

    /// <summary>A tar stream that, where its source ends, goes on with the zeros of a block's padding and of the
    /// two end-of-archive blocks (never read when the source has them).</summary>
    private sealed class TarEndStream(Stream source) : Stream
    {
        private long read;
        private long zeros = -1;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Next(buffer.AsSpan(offset, count), source.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return Next(buffer.Span, n);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Next(Span<byte> buffer, int n)
        {
            if (n > 0 || buffer.IsEmpty)
            {
                read += n;
                return n;
            }

            if (zeros < 0)
            {
                zeros = ((512 - (read % 512)) % 512) + 1024;
            }

            var z = (int)Math.Min(zeros, buffer.Length);
            buffer[..z].Clear();
            zeros -= z;
            return z;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\[stage-[^\]]*\] ")]
    private static partial System.Text.RegularExpressions.Regex StagePrefix();
}
