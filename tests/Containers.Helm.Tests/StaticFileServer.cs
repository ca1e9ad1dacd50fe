using System.Net;

namespace Containers.Tests;

/// <summary>Serves a directory over HTTP on 127.0.0.1 until disposed (a chart repository for the Helm tests).</summary>
public sealed class StaticFileServer : IDisposable
{
    private readonly HttpListener listener;
    private readonly Task loop;

    public StaticFileServer(string dir)
    {
        for (int attempt = 0; ; attempt++)
        {
            Port = Random.Shared.Next(20000, 60000);
            var candidate = new HttpListener(); // a listener whose Start failed is disposed: each attempt needs its own
            candidate.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                candidate.Start();
                listener = candidate;
                break;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
            }
        }

        loop = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                string path = Path.Combine(dir, context.Request.Url!.AbsolutePath.TrimStart('/'));
                if (File.Exists(path))
                {
                    byte[] body = await File.ReadAllBytesAsync(path);
                    context.Response.ContentLength64 = body.Length;
                    await context.Response.OutputStream.WriteAsync(body);
                }
                else
                {
                    context.Response.StatusCode = 404;
                }

                context.Response.Close();
            }
        });
    }

    public int Port { get; private set; }

    public void Dispose()
    {
        // Close alone: Stop then Close removes the prefixes twice, and the second removal can find the port taken
        listener.Close();
        loop.Wait(TimeSpan.FromSeconds(5));
    }
}
