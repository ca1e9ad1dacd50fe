using Containers.DockerApi.Models;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http.Features;

namespace Containers.DockerApi;

/// <summary>
/// The container lifecycle of the Docker API: create, attach (a hijacked connection carrying the multiplexed
/// stdout/stderr stream), wait, start, stop, kill, inspect, remove. Containers started here are supervised by this
/// process, as a daemon's are by the daemon.
/// </summary>
internal sealed partial class ContainerEndpoints(ContainerEngine engine, StreamEndpoints streams, EventHub events)
{
    public async Task CreateAsync(HttpContext ctx)
    {
        ContainerCreateRequest body;
        try
        {
            body = await DockerApiServer.ReadBodyAsync(ctx.Request.Body, j => j.ContainerCreateRequest).ConfigureAwait(false) ?? throw new JsonException("expected an object");
        }
        catch (JsonException e)
        {
            await DockerApiServer.Error(ctx, 400, "invalid container config: " + e.Message).ConfigureAwait(false);
            return;
        }
        catch (FormatException e)
        {
            await DockerApiServer.Error(ctx, 400, e.Message).ConfigureAwait(false);
            return;
        }

        var image = body.Image;
        if (string.IsNullOrEmpty(image))
        {
            await DockerApiServer.Error(ctx, 400, "Image: an image is required").ConfigureAwait(false);
            return;
        }

        if (engine.Images.Find(image) is null)
        {
            await DockerApiServer.Error(ctx, 404, $"No such image: {image}").ConfigureAwait(false);
            return;
        }

        ContainerSpec spec;
        try
        {
            spec = Spec(body, body.HostConfig ?? new(), image, ctx.Request.Query["name"] is { Count: > 0 } n ? n.ToString() : null);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException or ContainerException)
        {
            await DockerApiServer.Error(ctx, 400, e.Message).ConfigureAwait(false);
            return;
        }

        var c = engine.Create(await engine.ResolveAsync(spec).ConfigureAwait(false)); // errors: DockerApiServer's one map, by kind
        events.Publish("container", "create", c.Id, c.Name, ("image", image));
        ctx.Response.StatusCode = 201;
        await DockerApiServer.Json(ctx, new ContainerCreateResponse { Id = c.Id }, j => j.ContainerCreateResponse).ConfigureAwait(false);
    }

    public async Task StartAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        if (c.State.IsActive)
        {
            ctx.Response.StatusCode = 304;
            return;
        }

        await streams.StartAsync(c).ConfigureAwait(false);
        ctx.Response.StatusCode = 204;
    }

    public async Task WaitAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var condition = ctx.Request.Query["condition"].ToString() is { Length: > 0 } cond ? cond : "not-running";
        var sawRun = false;
        var lastExit = 0;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync().ConfigureAwait(false);
        await ctx.Response.Body.FlushAsync().ConfigureAwait(false); // headers on the wire now: docker run starts the container only after them
        int code;
        while (true)
        {
            ContainerState? s;
            try
            {
                s = c.State;
            }
            catch (ContainerNotFoundException)
            {
                s = null;
            }

            if (s is null)
            {
                // removed (--rm): the code its run ended with, recorded when its supervisor finished
                for (var i = 0; i < 100 && !streams.HasExit(c.Id); i++)
                {
                    await Task.Delay(10, ctx.RequestAborted).ConfigureAwait(false);
                }

                code = streams.TryTakeExit(c.Id, out var recorded) ? recorded : lastExit;
                break;
            }

            lastExit = s.ExitCode;
            sawRun |= s.IsActive;
            var done = condition switch
            {
                "next-exit" => sawRun && !s.IsActive,
                "removed" => false,
                _ => !s.IsActive && s.Status != ContainerStatus.Created,
            };
            if (done)
            {
                code = s.ExitCode;
                break;
            }

            await Task.Delay(20, ctx.RequestAborted).ConfigureAwait(false);
        }

        await ctx.Response.WriteAsync(DockerJsonContext.Serialize(new ContainerWaitResponse { StatusCode = code }, j => j.ContainerWaitResponse) + "\n").ConfigureAwait(false);
    }

    public async Task StopAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var t = ctx.Request.Query["t"].ToString() is { Length: > 0 } ts && int.TryParse(ts, CultureInfo.InvariantCulture, out var secs) ? TimeSpan.FromSeconds(secs) : (TimeSpan?)null;
        if (!c.State.IsActive)
        {
            ctx.Response.StatusCode = 304;
            return;
        }

        await c.StopAsync(t).ConfigureAwait(false);
        events.Publish("container", "stop", c.Id, c.Name);
        ctx.Response.StatusCode = 204;
    }

    public async Task KillAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        var signal = ctx.Request.Query["signal"].ToString() is { Length: > 0 } sig ? sig : "SIGKILL";
        if (!c.State.IsActive)
        {
            throw new ContainerConflictException($"Cannot kill container: {id}: container {c.Id} is not running");
        }

        await c.KillAsync(signal).ConfigureAwait(false); // a bad signal is InvalidArgument (400), as dockerd's
        events.Publish("container", "kill", c.Id, c.Name, ("signal", signal));
        ctx.Response.StatusCode = 204;
    }

    public async Task RemoveAsync(HttpContext ctx, string id)
    {
        var c = Get(id);

        await c.RemoveAsync(force: DockerApiServer.Flag(ctx.Request.Query, "force")).ConfigureAwait(false);
        events.Publish("container", "destroy", c.Id, c.Name);
        streams.ForgetExecs(c.Id);
        ctx.Response.StatusCode = 204;
    }

    /// <summary>The container <paramref name="id"/> names, else <see cref="ContainerNotFoundException"/> in dockerd's words (404 by the one map).</summary>
    private Container Get(string id) => Find(id) ?? throw new ContainerNotFoundException($"No such container: {id}");

    private Container? Find(string id)
    {
        try
        {
            return engine.Get(id);
        }
        catch (ContainerNotFoundException)
        {
            return null;
        }
    }


}
