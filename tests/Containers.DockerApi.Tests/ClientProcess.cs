using System.Diagnostics;
using Containers.DockerApi;

namespace Containers.Tests.DockerApi;

/// <summary>A client program (docker-compose, a Python script) run against a server, with a time limit.</summary>
internal static class ClientProcess
{
    /// <summary>
    /// Runs <paramref name="psi"/> (its stdin closed, stdout and stderr read) for up to <paramref name="limit"/>. One
    /// that runs longer is killed with its children, and the TimeoutException says what it printed and what the
    /// server was still answering.
    /// </summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(ProcessStartInfo psi, TimeSpan limit, DockerApiServer server)
    {
        psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            var pending = string.Join("; ", server.PendingRequests);
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} hung: {await stdout} {await stderr}; pending requests: {pending}");
        }

        return (p.ExitCode, await stdout, await stderr);
    }
}
