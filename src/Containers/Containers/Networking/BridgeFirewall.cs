namespace Containers.Networking;

/// <summary>
/// Outbound access and isolation of the bridges, as docker does it: containers of a network that is not internal reach
/// the outside through masquerade NAT; packets between two of our bridges are dropped (docker's two isolation chains);
/// nothing from elsewhere reaches a bridge unless it answers a connection from inside; an internal network forwards
/// nothing. Every rule sits in a chain of ours (<see cref="ForwardChain"/>, <see cref="Isolation1"/>,
/// <see cref="Isolation2"/> in filter; <see cref="LocalPortForwarding.PostChain"/> in nat) and carries the comment
/// <c>containers-dotnet-net:BRIDGE</c>, so it goes when its bridge goes, and a bridge that vanished (a crash, an
/// <c>ip link del</c>) has its rules swept by the next engine. The rules of a bridge are written once per bridge
/// (a marker in the machine state directory records its interface index), so container starts pay a file read.
/// When this turns IPv4 forwarding on, it sets the FORWARD policy to DROP, as dockerd does, so the machine does not
/// become a router for anything else. Without the iptables command, bridges keep forwarding off: no route out.
/// </summary>
internal sealed class BridgeFirewall(ISyscalls sys, string stateDirectory, ILogger logger)
{
    /// <summary>Our chain in filter's FORWARD (its first rule jumps to it).</summary>
    public const string ForwardChain = "CONTAINERS-DOTNET-FORWARD";

    /// <summary>Docker's isolation stage 1: what leaves a bridge for another interface goes to stage 2.</summary>
    public const string Isolation1 = "CONTAINERS-DOTNET-ISOLATE-1";

    /// <summary>Docker's isolation stage 2: what enters another bridge of ours is dropped.</summary>
    public const string Isolation2 = "CONTAINERS-DOTNET-ISOLATE-2";

    private const string Tag = "containers-dotnet-net:";
    private const string LockPath = "/run/containers-dotnet-firewall.lock"; // the chains are machine-wide, so is their lock
    private static readonly (string Table, string Chain)[] Chains = [("filter", ForwardChain), ("filter", Isolation1), ("filter", Isolation2), ("nat", LocalPortForwarding.PostChain)];
    private readonly string dir = Path.Combine(stateDirectory, "firewall");
    private int warned;

    /// <summary>Whether bridges get outbound NAT (the iptables command is installed).</summary>
    public static bool Available => Iptables.Available;

    /// <summary>
    /// Makes sure <paramref name="bridge"/> (interface <paramref name="ifindex"/>, subnet <paramref name="subnet"/>)
    /// has its rules and the kernel forwards for it unless <paramref name="isInternal"/>. Cheap when they are in place.
    /// Throws <see cref="ContainerException"/> naming the rule iptables refused.
    /// </summary>
    public void Ensure(string bridge, int ifindex, string subnet, bool isInternal)
    {
        if (!Available)
        {
            SetForwarding(bridge, false);
            if (!isInternal && Interlocked.Exchange(ref warned, 1) == 0)
            {
                logger.LogWarning("iptables is not installed: containers on {Bridge} have no route off this machine (apt-get install iptables)", bridge);
            }

            return;
        }

        var want = $"{ifindex} {subnet} {(isInternal ? "internal" : "nat")}\n";
        var marker = Path.Combine(dir, bridge);
        if (ReadMarker(marker) != want)
        {
            Directory.CreateDirectory(dir);
            using var held = new FileLock(sys, LockPath);
            if (ReadMarker(marker) != want)
            {
                EnsureChains();
                var script = new StringBuilder();
                DeleteRules(script, b => b == bridge || !BridgeExists(b));
                AddRules(script, bridge, subnet, isInternal);
                Restore(script);
                if (!isInternal)
                {
                    EnableIpForwarding();
                }

                RawFile.Replace(sys, marker, Encoding.ASCII.GetBytes(want));
            }
        }

        SetForwarding(bridge, !isInternal);
    }

    /// <summary>Deletes the rules of <paramref name="bridge"/> (it is going away). Idempotent.</summary>
    public void Remove(string bridge)
    {
        var marker = Path.Combine(dir, bridge);
        if (!Available || !File.Exists(marker))
        {
            return;
        }

        using var held = new FileLock(sys, LockPath);
        var script = new StringBuilder();
        DeleteRules(script, b => b == bridge);
        Restore(script);
        File.Delete(marker);
    }

    /// <summary>Deletes the rules of bridges of this machine state that no longer exist (the engine's start-up sweep). Cheap when there are none.</summary>
    public void Sweep()
    {
        if (!Available || !Directory.Exists(dir))
        {
            return;
        }

        var gone = Directory.EnumerateFiles(dir).Where(f => !BridgeExists(Path.GetFileName(f))).ToArray();
        if (gone.Length == 0)
        {
            return;
        }

        using var held = new FileLock(sys, LockPath);
        var script = new StringBuilder();
        DeleteRules(script, b => !BridgeExists(b));
        Restore(script);
        foreach (var f in gone.Where(f => !BridgeExists(Path.GetFileName(f))))
        {
            File.Delete(f);
        }

        logger.LogDebug("removed the firewall rules of {Count} vanished bridges", gone.Length);
    }

    /// <summary>The rules of a bridge, as <c>iptables-restore</c> lines by table (what <see cref="Ensure"/> adds).</summary>
    internal static IEnumerable<(string Table, string Rule)> RulesOf(string bridge, string subnet, bool isInternal)
    {
        var tag = $"-m comment --comment {Tag}{bridge}";
        yield return ("filter", $"-A {Isolation1} -i {bridge} ! -o {bridge} {tag} -j {Isolation2}");
        yield return ("filter", $"-A {Isolation2} -o {bridge} {tag} -j DROP");
        yield return ("filter", $"-A {ForwardChain} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED {tag} -j ACCEPT");
        yield return ("filter", $"-A {ForwardChain} -i {bridge} -o {bridge} {tag} -j ACCEPT");
        if (!isInternal)
        {
            yield return ("filter", $"-A {ForwardChain} -i {bridge} {tag} -j ACCEPT");
            yield return ("nat", $"-A {LocalPortForwarding.PostChain} -s {subnet} ! -o {bridge} {tag} -j MASQUERADE");
        }

        yield return ("filter", $"-A {ForwardChain} -i {bridge} {tag} -j DROP");
        yield return ("filter", $"-A {ForwardChain} -o {bridge} {tag} -j DROP");
    }

    private static bool BridgeExists(string name) => Directory.Exists("/sys/class/net/" + name);

    private static string? ReadMarker(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static void EnsureChains()
    {
        Iptables.EnsureChain("filter", ForwardChain, ["FORWARD", "-j", ForwardChain], insertFirst: true);
        _ = Iptables.Run("filter", ["-N", Isolation1]);
        _ = Iptables.Run("filter", ["-N", Isolation2]);
        Iptables.Ensure("filter", [ForwardChain, "-j", Isolation1], insertFirst: true);
        Iptables.EnsureChain("nat", LocalPortForwarding.PostChain, ["POSTROUTING", "-j", LocalPortForwarding.PostChain]);
    }

    private static void DeleteRules(StringBuilder script, Func<string, bool> which)
    {
        foreach (var (table, chain) in Chains)
        {
            foreach (var rule in Iptables.Rules(table, chain))
            {
                var i = Array.IndexOf(rule, "--comment");
                if (i >= 0 && i + 1 < rule.Length && rule[i + 1].StartsWith(Tag, StringComparison.Ordinal) && which(rule[i + 1][Tag.Length..]))
                {
                    Append(script, table, "-D " + string.Join(' ', rule));
                }
            }
        }
    }

    private static void AddRules(StringBuilder script, string bridge, string subnet, bool isInternal)
    {
        foreach (var (table, rule) in RulesOf(bridge, subnet, isInternal))
        {
            Append(script, table, rule);
        }
    }

    // iptables-restore takes one block per table; the script is kept as "TABLE\tRULE" lines until Restore groups them
    private static void Append(StringBuilder script, string table, string rule) => script.Append(table).Append('\t').Append(rule).Append('\n');

    private static void Restore(StringBuilder script)
    {
        if (script.Length == 0)
        {
            return;
        }

        var lines = script.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t', 2)).ToArray();
        var input = new StringBuilder();
        foreach (var table in lines.Select(l => l[0]).Distinct())
        {
            input.Append('*').Append(table).Append('\n');
            foreach (var l in lines.Where(l => l[0] == table))
            {
                input.Append(l[1]).Append('\n');
            }

            input.Append("COMMIT\n");
        }

        Iptables.Restore(input.ToString());
    }

    private void EnableIpForwarding()
    {
        const string path = "/proc/sys/net/ipv4/ip_forward";
        if (File.ReadAllText(path).Trim() == "1")
        {
            return;
        }

        // as dockerd: the machine forwards for our bridges only (their rules accept), nothing else
        Iptables.Check("filter", ["-P", "FORWARD", "DROP"]);
        File.WriteAllText(path, "1");
        logger.LogInformation("turned on IPv4 forwarding for the containers' outbound NAT (FORWARD policy DROP, as dockerd sets it)");
    }

    private static void SetForwarding(string bridge, bool on)
    {
        try
        {
            File.WriteAllText($"/proc/sys/net/ipv4/conf/{bridge}/forwarding", on ? "1" : "0");
        }
        catch (IOException)
        {
        }
    }
}
