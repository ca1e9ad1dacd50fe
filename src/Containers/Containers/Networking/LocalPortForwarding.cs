using System.Diagnostics;
using Containers.Runtime;
using Microsoft.Extensions.Logging;

namespace Containers.Networking;

/// <summary>
/// Kernel forwarding of published ports for connections made on this machine: a DNAT rule per port in the nat
/// table's OUTPUT path (our own chain, <c>CONTAINERS-DOTNET</c>) sends them straight to the container, at the speed
/// of a direct connection; connections from elsewhere still reach the userspace proxy that holds the port, so no
/// IP forwarding is needed. Loopback clients are masqueraded onto the bridge (with <c>route_localnet</c> on it),
/// as docker does. Without the iptables command this is skipped and the proxy serves every client.
/// </summary>
internal sealed class LocalPortForwarding(ILogger logger)
{
    public const string Chain = "CONTAINERS-DOTNET", PostChain = "CONTAINERS-DOTNET-POST";
    private static readonly string? Iptables = new[] { "/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables" }.FirstOrDefault(File.Exists);
    private readonly Lock gate = new();
    private bool chainsReady;

    public static bool Available => Iptables is not null;

    /// <summary>Adds the rules for <paramref name="bindings"/> of container <paramref name="id"/> at <paramref name="address"/> on <paramref name="bridge"/>; returns them for <see cref="Remove"/>.</summary>
    public IReadOnlyList<string[]> Add(string id, string bridge, System.Net.IPAddress address, IEnumerable<PortBinding> bindings)
    {
        if (Iptables is null)
        {
            return [];
        }

        var added = new List<string[]>();
        try
        {
            EnsureChains();
            var masquerade = new[] { PostChain, "-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE" };
            if (Run(["-C", .. masquerade]) != 0)
            {
                Check(Run(["-A", .. masquerade]), masquerade);
            }

            try
            {
                File.WriteAllText($"/proc/sys/net/ipv4/conf/{bridge}/route_localnet", "1");
            }
            catch (IOException)
            {
            }

            foreach (var b in bindings)
            {
                string[] rule = [Chain, "-p", b.Protocol, .. b.HostIp is "0.0.0.0" or "::" ? Array.Empty<string>() : ["-d", b.HostIp], "--dport", b.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "-m", "comment", "--comment", "containers-dotnet:" + id, "-j", "DNAT", "--to-destination", $"{address}:{b.ContainerPort}"];
                Check(Run(["-A", .. rule]), rule);
                added.Add(rule);
            }

            return added;
        }
        catch (ContainerException e)
        {
            // the proxy still serves every client: slower, not broken
            logger.LogWarning("local port forwarding for {Id} is off: {Message}", id, e.Message);
            Remove(added);
            return [];
        }
    }

    /// <summary>Deletes rules made by <see cref="Add"/> (missing ones are fine).</summary>
    public void Remove(IReadOnlyList<string[]> rules)
    {
        foreach (var rule in rules)
        {
            _ = Run(["-D", .. rule]);
        }
    }

    /// <summary>Deletes every rule of container <paramref name="id"/> (the sweep after a crash).</summary>
    public void RemoveAll(string id)
    {
        if (Iptables is null || Output(["-S", Chain]) is not { } rules)
        {
            return;
        }

        foreach (var line in rules.Split('\n').Where(l => l.StartsWith("-A ", StringComparison.Ordinal) && l.Contains("containers-dotnet:" + id, StringComparison.Ordinal)))
        {
            // iptables -S prints a rule as it was added: -A CHAIN args; replay with -D, quotes removed
            var args = line[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a => a.Trim('"')).ToArray();
            _ = Run(["-D", .. args]);
        }
    }

    /// <summary>Deletes the masquerade rule of a bridge that is going away.</summary>
    public void RemoveBridge(string bridge)
    {
        if (Iptables is not null)
        {
            _ = Run(["-D", PostChain, "-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE"]);
        }
    }

    private void EnsureChains()
    {
        lock (gate)
        {
            if (chainsReady)
            {
                return;
            }

            foreach (var (chain, parent, match) in new[] { (Chain, "OUTPUT", new[] { "-m", "addrtype", "--dst-type", "LOCAL" }), (PostChain, "POSTROUTING", Array.Empty<string>()) })
            {
                _ = Run(["-N", chain]); // exists already: fine
                string[] jump = [parent, .. match, "-j", chain];
                if (Run(["-C", .. jump]) != 0)
                {
                    Check(Run(["-A", .. jump]), jump);
                }
            }

            chainsReady = true;
        }
    }

    private static void Check(int code, string[] rule)
    {
        if (code != 0)
        {
            throw new ContainerException($"iptables -t nat {string.Join(' ', rule)} failed ({code})");
        }
    }

    private static int Run(string[] args) => Exec(args, out _);

    private static string? Output(string[] args) => Exec(args, out var o) == 0 ? o : null;

    private static int Exec(string[] args, out string output)
    {
        var psi = new ProcessStartInfo(Iptables!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-w", "-t", "nat", .. args])
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        _ = p.StandardError.ReadToEnd();
        p.WaitForExit();
        output = stdout.Result;
        return p.ExitCode;
    }
}
