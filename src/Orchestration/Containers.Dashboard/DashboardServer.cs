using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Containers.Dashboard;

/// <summary>
/// The dashboard on a port of its own (what <c>containers dashboard</c> runs): 127.0.0.1:9000 by default, HTTPS when
/// a certificate is given.
/// </summary>
public sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication app;

    private DashboardServer(WebApplication app, Uri url, DashboardState state)
    {
        this.app = app;
        Url = url;
        State = state;
    }

    /// <summary>Where it answers (the port chosen when 0 was asked).</summary>
    public Uri Url { get; }

    /// <summary>What it serves.</summary>
    public DashboardState State { get; }

    /// <summary>Starts a dashboard as <paramref name="options"/> say.</summary>
    public static async Task<DashboardServer> StartAsync(DashboardOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if ((options.TlsCertificatePath is null) != (options.TlsKeyPath is null))
        {
            throw new ArgumentException("HTTPS needs both a certificate and its key");
        }

        X509Certificate2? certificate = null;
        if (options.TlsCertificatePath is { } certPath)
        {
            using var pem = X509Certificate2.CreateFromPemFile(certPath, options.TlsKeyPath);
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("CONTAINERS_DASHBOARD_TRACE") is { Length: > 0 } trace)
        {
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Debug);
        }
        builder.WebHost.ConfigureKestrel(k => k.Listen(options.Address, options.Port, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        builder.Services.AddContainersDashboard(options);
        var app = builder.Build();
        app.MapContainersDashboard();
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // a port in use, say: the private Docker API the state started goes with the app
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal) + "/");
        return new DashboardServer(app, url, app.Services.GetRequiredService<DashboardState>());
    }

    /// <summary>Stops serving, and the private Docker API with it.</summary>
    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
