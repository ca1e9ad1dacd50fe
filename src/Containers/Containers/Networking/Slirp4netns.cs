using System.Diagnostics;

namespace Containers.Networking;

/// <summary>
/// A container's way out without a bridge (<c>--network slirp4netns</c>, the default rootless): slirp4netns (the
/// Debian package) makes tap0 in the container's network namespace, 10.0.2.100/24 with its gateway at 10.0.2.2 and a
/// DNS forwarder at 10.0.2.3, and carries its traffic through ordinary sockets of this process's namespace. The
/// host's loopback is not reachable through it. It ends when its stdin closes: with the run, or with this process.
/// </summary>
internal sealed class Slirp4netns : IAsyncDisposable
{
    /// <summary>The container's address on tap0.</summary>
    public const string Address = "10.0.2.100";

    /// <summary>slirp4netns's DNS forwarder, the container's nameserver.</summary>
    public const string Dns = "10.0.2.3";

    private readonly Process process;

    private Slirp4netns(Process process) => this.process = process;

    /// <summary>Starts slirp4netns for the network namespace of <paramref name="pid"/> and waits until tap0 is configured. Throws <see cref="ContainerException"/> naming what failed.</summary>
    public static async Task<Slirp4netns> StartAsync(int pid, CancellationToken cancellationToken = default)
    {
        var psi = new ProcessStartInfo("slirp4netns") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd=1", "--exit-fd=0", pid.ToString(CultureInfo.InvariantCulture), "tap0" })
        {
            psi.ArgumentList.Add(a);
        }

        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new ContainerException("failed to start slirp4netns");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ContainerException($"--network slirp4netns needs slirp4netns (apt-get install slirp4netns): {e.Message}", e);
        }

        var slirp = new Slirp4netns(process);
        try
        {
            var ready = new byte[1];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            if (await process.StandardOutput.BaseStream.ReadAsync(ready, timeout.Token).ConfigureAwait(false) != 1)
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                var error = await process.StandardError.ReadToEndAsync(timeout.Token).ConfigureAwait(false);
                throw new ContainerException($"slirp4netns failed (exit {process.ExitCode}): {error.Trim()}");
            }

            _ = process.StandardError.ReadToEndAsync(CancellationToken.None); // drained, so it never blocks on a full pipe
            return slirp;
        }
        catch
        {
            await slirp.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Ends it: stdin closed (its exit fd), killed if it does not go at once.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            process.StandardInput.Close();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            process.Dispose();
        }
    }
}
