using System.Diagnostics;

namespace Containers.Tests.Orchestration;

/// <summary>Commands the network tests run on the host (ip, iptables, curl in a namespace).</summary>
internal static class TestShell
{
    /// <summary>Runs a shell command line; fails the test with its error output when it fails.</summary>
    public static void Sh(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardError = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{command}: {err}");
    }

    /// <summary>Runs a program; returns its exit code, output and error output (killed after 30 s).</summary>
    public static (int Code, string Out, string Err) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string text = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(30_000))
        {
            p.Kill();
        }

        return (p.ExitCode, text, err.Result);
    }
}
