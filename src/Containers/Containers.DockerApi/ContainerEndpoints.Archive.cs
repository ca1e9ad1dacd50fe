using System.Text;

namespace Containers.DockerApi;

/// <summary>The container endpoints of docker cp: GET, HEAD and PUT of /containers/{id}/archive.</summary>
internal sealed partial class ContainerEndpoints
{
    /// <summary>HEAD and GET /containers/{id}/archive?path=: the stat header, and for GET a tar of the path.</summary>
    public async Task ArchiveGetAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var path = ctx.Request.Query["path"].ToString();
        if (path.Length == 0)
        {
            await DockerApiServer.Error(ctx, 400, "path: a path is required").ConfigureAwait(false);
            return;
        }

        ContainerPathStat stat;
        try
        {
            stat = c.StatPath(path);
        }
        catch (FileNotFoundException e)
        {
            await DockerApiServer.Error(ctx, 404, e.Message).ConfigureAwait(false);
            return;
        }
        catch (Exception e) when (e is IOException or ContainerException or UnauthorizedAccessException)
        {
            await DockerApiServer.Error(ctx, 500, e.Message).ConfigureAwait(false);
            return;
        }

        ctx.Response.Headers["X-Docker-Container-Path-Stat"] = PathStatHeader(stat);
        if (HttpMethods.IsHead(ctx.Request.Method))
        {
            return;
        }

        ctx.Response.ContentType = "application/x-tar";
        await c.CopyFromAsync(path, ctx.Response.Body, ctx.RequestAborted).ConfigureAwait(false);
    }

    private static string PathStatHeader(ContainerPathStat s)
    {
        // Go's os.FileMode: permission bits plus type flags in the high bits
        var mode = (uint)(s.Mode & 0x1FF);
        if (s.IsDirectory)
        {
            mode |= 1u << 31;
        }

        if (s.IsSymlink)
        {
            mode |= 1u << 27;
        }

        var json = new JsonObject { ["name"] = s.Name, ["size"] = s.Size, ["mode"] = mode, ["mtime"] = Time(s.Modified), ["linkTarget"] = s.LinkTarget }.ToJsonString();
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>PUT /containers/{id}/archive?path=DIR: extracts the request's tar into DIR.</summary>
    public async Task ArchivePutAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var path = ctx.Request.Query["path"].ToString();
        try
        {
            var spooled = new MemoryStream(); // TarReader needs a seekable or fully sequential stream; request bodies are the latter but slow to peek
            await ctx.Request.Body.CopyToAsync(spooled, ctx.RequestAborted).ConfigureAwait(false);
            spooled.Position = 0;
            await c.CopyToAsync(path, spooled, ctx.RequestAborted).ConfigureAwait(false);
            ctx.Response.StatusCode = 200;
        }
        catch (FileNotFoundException e)
        {
            await DockerApiServer.Error(ctx, 404, e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException)
        {
            await DockerApiServer.Error(ctx, 400, "the request body is not a tar archive: " + e.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ContainerException or UnauthorizedAccessException)
        {
            await DockerApiServer.Error(ctx, 500, e.Message).ConfigureAwait(false);
        }
    }
}
