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
    private readonly Lock gate = new();
    private bool chainsReady;

    public static bool Available => Iptables.Available;

    /// <summary>Adds the rules for <paramref name="bindings"/> of container <paramref name="id"/> at <paramref name="address"/> on <paramref name="bridge"/>; returns them for <see cref="Remove"/>.</summary>
    public IReadOnlyList<string[]> Add(string id, string bridge, System.Net.IPAddress address, IEnumerable<PortBinding> bindings)
    {
        if (!Iptables.Available)
        {
            return [];
        }

        var added = new List<string[]>();
        try
        {
            EnsureChains();
            var masquerade = new[] { PostChain, "-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE" };
            Iptables.Ensure("nat", masquerade);

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
                Iptables.Check("nat", ["-A", .. rule]);
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
            _ = Iptables.Run("nat", ["-D", .. rule]);
        }
    }

    /// <summary>Deletes every rule of container <paramref name="id"/> (the sweep after a crash).</summary>
    public void RemoveAll(string id)
    {
        if (!Iptables.Available)
        {
            return;
        }

        foreach (var rule in Iptables.Rules("nat", Chain).Where(r => r.Contains("containers-dotnet:" + id)))
        {
            _ = Iptables.Run("nat", ["-D", .. rule]);
        }
    }

    /// <summary>Deletes the masquerade rule of a bridge that is going away.</summary>
    public void RemoveBridge(string bridge)
    {
        if (Iptables.Available)
        {
            _ = Iptables.Run("nat", ["-D", PostChain, "-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE"]);
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
                Iptables.EnsureChain("nat", chain, [parent, .. match, "-j", chain]);
            }

            chainsReady = true;
        }
    }
}
