using System.Diagnostics;

namespace Containers.Tests.Cli;

/// <summary>Runs the <c>containers</c> command over a test engine's root, as a separate process.</summary>
public static class CliRunner
{
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(TestEngine t, params string[] args)
    {
        using var p = Start(t, args);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the command with its stdin, stdout and stderr redirected.</summary>
    public static Process Start(TestEngine t, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "containers-cli"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        psi.Environment["CONTAINERS_ROOT"] = t.Root;
        psi.Environment["CONTAINERS_BRIDGE"] = t.Options.BridgeName;
        psi.Environment["CONTAINERS_BRIDGE_SUBNET"] = t.Options.BridgeSubnet;
        psi.Environment["CONTAINERS_MACHINE_STATE"] = t.Options.MachineStateDirectory;
        psi.Environment["CONTAINERS_DNS_UPSTREAM"] = string.Join(',', t.Options.DnsUpstreams);
        psi.ArgumentList.Add("--root");
        psi.ArgumentList.Add(t.Root);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }
}
