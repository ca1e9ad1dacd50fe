using System.Net;
using Containers.Linux;

namespace Containers.Networking;

/// <summary>
/// The default bridge: a Linux bridge with the gateway address, and per container a veth pair whose peer is
/// created directly inside the container's network namespace. All through rtnetlink.
/// </summary>
internal sealed class BridgeNetwork(ISyscalls sys, string bridgeName, Ipam ipam)
{
    private const int CLONE_NEWNET = 0x40000000;

    public Ipam Ipam => ipam;

    public string BridgeName => bridgeName;

    /// <summary>The host-side veth of container <paramref name="id"/> (15 characters at most, as the kernel wants).</summary>
    public static string HostVeth(string id) => "vcd" + id[..11];

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
                nl.CreateBridge(bridgeName);
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
        return index;
    }

    /// <summary>Connects the network namespace of <paramref name="pid"/> (container <paramref name="id"/>) to the bridge with <paramref name="address"/>.</summary>
    public void Attach(int pid, string id, IPAddress address)
    {
        var hostVeth = HostVeth(id);
        var bridge = EnsureBridge();
        var nsfd = sys.Open($"/proc/{pid}/ns/net", 0x80000);
        try
        {
            using (var nl = new Netlink(sys))
            {
                nl.CreateVeth(hostVeth, "eth0", nsfd);
                var index = sys.NameToIndex(hostVeth);
                nl.SetMaster(index, bridge);
                nl.SetUp(index);
            }

            InNamespace(nsfd, () =>
            {
                using var nl = new Netlink(sys);
                nl.SetUp(1);
                var eth0 = sys.NameToIndex("eth0");
                nl.AddAddress(eth0, address, ipam.PrefixLength);
                nl.SetUp(eth0);
                nl.AddDefaultRoute(ipam.Gateway, eth0);
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
    public void Detach(string id)
    {
        try
        {
            var index = sys.NameToIndex(HostVeth(id));
            using var nl = new Netlink(sys);
            nl.DeleteLink(index);
        }
        catch (SyscallException)
        {
        }

        ipam.Release(id);
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
