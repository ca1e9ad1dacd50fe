namespace Containers.Networking;

/// <summary>
/// The default bridge: a Linux bridge with the gateway address, and per container a veth pair whose peer is
/// created directly inside the container's network namespace. All through rtnetlink; the bridge's NAT and forwarding
/// rules through <see cref="BridgeFirewall"/>.
/// </summary>
internal sealed class BridgeNetwork(ISyscalls sys, string bridgeName, Ipam ipam, BridgeFirewall firewall, bool isInternal = false)
{
    private const int CLONE_NEWNET = 0x40000000;

    public Ipam Ipam => ipam;

    public string BridgeName => bridgeName;

    /// <summary>The machine's bridge rules (shared by every bridge of the engine).</summary>
    public BridgeFirewall Firewall => firewall;

    /// <summary>The host-side veth of container <paramref name="id"/> on the default bridge (15 characters at most, as the kernel wants).</summary>
    public static string HostVeth(string id) => "vcd" + id[..11];

    /// <summary>
    /// The host-side veth of container <paramref name="id"/> on the network <paramref name="networkId"/>: "vcn" and 48
    /// bits of a 64-bit FNV-1a of both ids (they are random or hashes already; a SHA-256 here loaded OpenSSL, 2-3 ms of
    /// every start on a user network). Only new attachments are named so: a container records its veths' names.
    /// </summary>
    public static string HostVeth(string id, string networkId)
    {
        ulong hash = 14695981039346656037;
        foreach (char c in id)
        {
            hash = (hash ^ c) * 1099511628211;
        }

        hash = (hash ^ '/') * 1099511628211;
        foreach (char c in networkId)
        {
            hash = (hash ^ c) * 1099511628211;
        }

        return "vcn" + (hash >> 16).ToString("x12", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Creates the bridge and its gateway address when missing (safe against a concurrent creator).</summary>
    public int EnsureBridge()
    {
        using var nl = new Netlink(sys);
        int index;
        try
        {
            index = sys.NameToIndex(bridgeName);
        }
        catch (SyscallException)
        {
            try
            {
                nl.CreateBridge(bridgeName, [0x02, 0x42, .. ipam.Gateway.GetAddressBytes()]);
            }
            catch (SyscallException e) when (e.Errno == 17)
            {
            }

            index = sys.NameToIndex(bridgeName);
        }

        try
        {
            nl.AddAddress(index, ipam.Gateway, ipam.PrefixLength);
        }
        catch (SyscallException e) when (e.Errno == 17)
        {
        }

        nl.SetUp(index);
        // outbound NAT unless internal; never to another of our bridges; nothing unsolicited in
        firewall.Ensure(bridgeName, index, ipam.Subnet, isInternal);
        return index;
    }

    /// <summary>Connects the network namespace of <paramref name="pid"/> (container <paramref name="id"/>) to the bridge with <paramref name="address"/>.</summary>
    public void Attach(int pid, string id, IPAddress address) => Attach(pid, HostVeth(id), "eth0", address);

    /// <summary>
    /// Connects the network namespace of <paramref name="pid"/> to the bridge: <paramref name="hostVeth"/> on the host,
    /// <paramref name="ifName"/> with <paramref name="address"/> inside; the default route goes through the gateway
    /// when <paramref name="ifName"/> is eth0 and the network is not internal.
    /// </summary>
    public void Attach(int pid, string hostVeth, string ifName, IPAddress address)
    {
        var bridge = EnsureBridge();
        var nsfd = sys.Open($"/proc/{pid}/ns/net", 0x80000);
        try
        {
            using (var nl = new Netlink(sys))
            {
                nl.CreateVeth(hostVeth, ifName, nsfd, [0x02, 0x42, .. address.GetAddressBytes()]);
                var index = sys.NameToIndex(hostVeth);
                nl.SetMaster(index, bridge);
                nl.SetUp(index);
            }

            InNamespace(nsfd, () =>
            {
                using var nl = new Netlink(sys);
                nl.SetUp(1);
                var eth = sys.NameToIndex(ifName);
                nl.AddAddress(eth, address, ipam.PrefixLength);
                nl.SetUp(eth);
                if (ifName == "eth0" && !isInternal)
                {
                    nl.AddDefaultRoute(ipam.Gateway, eth);
                }
            });
        }
        finally
        {
            sys.Close(nsfd);
        }
    }

    /// <summary>Brings the loopback interface up in the network namespace of <paramref name="pid"/>.</summary>
    public static void LoopbackUp(ISyscalls sys, int pid)
    {
        var nsfd = sys.Open($"/proc/{pid}/ns/net", 0x80000);
        try
        {
            InNamespace(sys, nsfd, () =>
            {
                using var nl = new Netlink(sys);
                nl.SetUp(1);
            });
        }
        finally
        {
            sys.Close(nsfd);
        }
    }

    /// <summary>
    /// Disconnects container <paramref name="id"/>: deletes its host-side veth if it still exists (its namespace
    /// would take the pair down with it, but asynchronously) and releases its address. Idempotent.
    /// </summary>
    public void Detach(string id) => Detach(id, HostVeth(id));

    /// <summary>Deletes <paramref name="hostVeth"/> if it exists and releases the address of container <paramref name="id"/>. Idempotent.</summary>
    public void Detach(string id, string hostVeth)
    {
        DeleteLink(hostVeth);
        ipam.Release(id);
    }

    /// <summary>Deletes the bridge interface if it exists, and its NAT and forwarding rules.</summary>
    public void DeleteBridge()
    {
        DeleteLink(bridgeName);
        firewall.Remove(bridgeName);
    }

    /// <summary>
    /// Deletes the interface <paramref name="name"/> if it exists, and returns once it is gone (up to 2 s): a veth whose
    /// namespace is being torn down may be the kernel's to delete, asynchronously, and a caller that sees this return
    /// (a failed start's undo, a removal) must not find it.
    /// </summary>
    public void DeleteLink(string name)
    {
        try
        {
            var index = sys.NameToIndex(name);
            using var nl = new Netlink(sys);
            nl.DeleteLink(index);
        }
        catch (SyscallException)
        {
            // gone already, or going: the namespace's teardown got there first
        }

        for (int waited = 0; waited < 200 && Exists(name); waited++)
        {
            Thread.Sleep(10);
        }
    }

    private bool Exists(string name)
    {
        try
        {
            sys.NameToIndex(name);
            return true;
        }
        catch (SyscallException)
        {
            return false;
        }
    }

    private void InNamespace(int nsfd, Action action) => InNamespace(sys, nsfd, action);

    /// <summary>Runs <paramref name="action"/> on a fresh thread that has joined the network namespace; the thread then ends.</summary>
    private static void InNamespace(ISyscalls sys, int nsfd, Action action)
    {
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                sys.Setns(nsfd, CLONE_NEWNET);
                action();
            }
            catch (Exception e)
            {
                error = e;
            }
        }, 256 * 1024);
        t.Start();
        t.Join();
        if (error is not null)
        {
            throw error is ContainerException ? error : new ContainerException("network setup failed: " + error.Message, error);
        }
    }
}
