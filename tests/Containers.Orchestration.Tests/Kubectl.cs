using System.Diagnostics;

namespace Containers.Tests.Orchestration;

/// <summary>The real kubectl against a test cluster's kubeconfig.</summary>
public sealed class Kubectl(string kubeconfig)
{
    public Task<(int Exit, string Out, string Err)> TryAsync(params string[] args) => TryWithInputAsync(null, args);

    /// <summary>kubectl with this cluster's kubeconfig, its output redirected (and its input when <paramref name="input"/>).</summary>
    private ProcessStartInfo StartInfo(bool input, string[] args)
    {
        var psi = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input, UseShellExecute = false };
        psi.Environment["KUBECONFIG"] = kubeconfig;
        psi.Environment["HOME"] = Path.GetDirectoryName(kubeconfig)!; // its discovery cache stays in the test's root
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }

    /// <summary>Starts kubectl without waiting for it (port-forward); the caller kills it. <paramref name="output"/> collects what it prints.</summary>
    public Process Start(System.Text.StringBuilder output, params string[] args)
    {
        var p = Process.Start(StartInfo(false, args))!;
        p.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        p.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>Runs kubectl with <paramref name="input"/> on its standard input (closed after it; none when null).</summary>
    public async Task<(int Exit, string Out, string Err)> TryWithInputAsync(string? input, params string[] args)
    {
        using var p = Process.Start(StartInfo(input is not null, args))!;
        if (input is not null)
        {
            await p.StandardInput.WriteAsync(input);
            p.StandardInput.Close();
        }

        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            await p.WaitForExitAsync();
            return (-1, await stdout, "kubectl did not finish within 120 s: " + await stderr);
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs kubectl and fails the test when it fails; returns its output.</summary>
    public async Task<string> RunAsync(params string[] args)
    {
        var (exit, output, error) = await TryAsync(args);
        Assert.True(exit == 0, $"kubectl {string.Join(' ', args)} exited {exit}: {error}{output}");
        return output;
    }

    /// <summary>Polls <c>kubectl get ... -o jsonpath=</c> until it prints <paramref name="expected"/>.</summary>
    public async Task WaitForAsync(string expected, TimeSpan timeout, params string[] args)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var (exit, output, error) = await TryAsync(args);
            last = exit == 0 ? output : error;
            if (exit == 0 && output.Trim() == expected)
            {
                return;
            }

            await Task.Delay(200);
        }

        var pods = await TryAsync("get", "pods", "-A", "-o", "wide");
        var events = await TryAsync("get", "events", "-A");
        Assert.Fail($"kubectl {string.Join(' ', args)}: waited {timeout.TotalSeconds}s for '{expected}', last saw '{last.Trim()}'\n{pods.Out}{pods.Err}\n{events.Out}{events.Err}");
    }
}
