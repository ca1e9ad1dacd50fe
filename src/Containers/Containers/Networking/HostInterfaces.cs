using System.Net.Sockets;
using Containers.Linux;

namespace Containers.Networking;

/// <summary>
/// Host-side network primitives for servers built on the engine (the Docker API, a cluster's service proxy), through
/// rtnetlink and ioctl from C#: no <c>ip</c> binary. Part of the deliberate low-level public surface of this package;
/// everything else that makes syscalls stays internal.
/// </summary>
public static class HostInterfaces
{
    /// <summary>
    /// Adds <paramref name="address"/>/<paramref name="prefixLength"/> to the host interface
    /// <paramref name="interfaceName"/> (a bridge, lo); an address it already has is left as it is. Throws
    /// <see cref="ContainerException"/> when the interface does not exist or the kernel refuses.
    /// </summary>
    public static void AddAddress(string interfaceName, IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var nl = new Netlink(LinuxSyscalls.Instance);
        nl.AddAddress(Index(interfaceName), address, prefixLength, ignoreExisting: true);
    }

    /// <summary>
    /// Adds (or renews) <paramref name="address"/>/<paramref name="prefixLength"/> on <paramref name="interfaceName"/>
    /// for <paramref name="lifetime"/>: the kernel removes it when that passes without a renewal, so an address held
    /// by a process that dies (a virtual IP's holder) goes away by itself.
    /// </summary>
    public static void AddAddress(string interfaceName, IPAddress address, int prefixLength, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var nl = new Netlink(LinuxSyscalls.Instance);
        nl.AddAddress(Index(interfaceName), address, prefixLength, ignoreExisting: true, lifetime);
    }

    /// <summary>
    /// Sends a gratuitous ARP for <paramref name="address"/> from <paramref name="interfaceName"/> (an ARP request
    /// and an ARP reply, both with the address as sender and target, broadcast): the LAN's neighbours update their
    /// caches to this interface's MAC address, as keepalived and kube-vip announce a virtual IP that moved.
    /// </summary>
    public static void AnnounceAddress(string interfaceName, IPAddress address)
    {
        var (index, mac, ip, fd) = ArpSocket(interfaceName, address, "announce");

        try
        {
            foreach (ushort op in new ushort[] { 1, 2 })
            {
                var frame = new byte[42];
                frame.AsSpan(0, 6).Fill(0xff); // to everyone
                mac.CopyTo(frame, 6);
                frame[12] = 0x08;
                frame[13] = 0x06;
                byte[] arp = [0, 1, 0x08, 0x00, 6, 4, 0, (byte)op];
                arp.CopyTo(frame, 14);
                mac.CopyTo(frame, 22); // sender: this interface, the address
                ip.CopyTo(frame, 28);
                if (op == 2)
                {
                    frame.AsSpan(32, 6).Fill(0xff);
                }

                ip.CopyTo(frame, 38); // target: the address itself (gratuitous)
                Send(fd, index, frame, interfaceName, address);
            }
        }
        finally
        {
            _ = Tmds.Linux.LibC.close(fd);
        }
    }

    /// <summary>
    /// Asks the LAN behind <paramref name="interfaceName"/> whether another host has <paramref name="address"/>: ARP
    /// probes (RFC 5227: sender address 0.0.0.0, so nobody's cache learns anything) sent three times within
    /// <paramref name="timeout"/>. Returns the MAC address (aa:bb:cc:dd:ee:ff) of the first host that answers for it,
    /// or null when none does. Answers from this interface itself are ignored.
    /// </summary>
    public static unsafe string? ProbeAddress(string interfaceName, IPAddress address, TimeSpan timeout)
    {
        const ushort EthPArp = 0x0806;
        var (index, mac, ip, fd) = ArpSocket(interfaceName, address, "probe");

        try
        {
            var bind = default(Tmds.Linux.sockaddr_ll);
            bind.sll_family = (ushort)Tmds.Linux.LibC.AF_PACKET;
            bind.sll_protocol = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(EthPArp);
            bind.sll_ifindex = index;
            if (Tmds.Linux.LibC.bind(fd, (Tmds.Linux.sockaddr*)&bind, (uint)sizeof(Tmds.Linux.sockaddr_ll)) < 0)
            {
                throw new ContainerException($"cannot listen for ARP on {interfaceName}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
            }

            var probe = new byte[42];
            probe.AsSpan(0, 6).Fill(0xff);
            mac.CopyTo(probe, 6);
            probe[12] = 0x08;
            probe[13] = 0x06;
            byte[] arp = [0, 1, 0x08, 0x00, 6, 4, 0, 1];
            arp.CopyTo(probe, 14);
            mac.CopyTo(probe, 22); // sender: this interface, address 0.0.0.0 (a probe)
            ip.CopyTo(probe, 38); // target: the address asked about
            var frame = new byte[1514];
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            long nextProbe = 0;
            for (int sent = 0; ;)
            {
                long now = Environment.TickCount64;
                if (now >= deadline)
                {
                    return null;
                }

                if (sent < 3 && now >= nextProbe)
                {
                    Send(fd, index, probe, interfaceName, address);
                    sent++;
                    nextProbe = now + Math.Max(1, (long)timeout.TotalMilliseconds / 3);
                }

                var poll = new Tmds.Linux.pollfd { fd = fd, events = Tmds.Linux.LibC.POLLIN };
                int wait = (int)Math.Max(1, Math.Min(deadline, sent < 3 ? nextProbe : deadline) - now);
                if (Tmds.Linux.LibC.poll(&poll, 1, wait) <= 0)
                {
                    continue;
                }

                long n;
                fixed (byte* f = frame)
                {
                    n = Tmds.Linux.LibC.recv(fd, f, frame.Length, 0);
                }

                // an ARP reply or request whose sender is the address, from another interface than this one
                if (n >= 42 && frame[12] == 0x08 && frame[13] == 0x06 && frame[21] is 1 or 2
                    && frame.AsSpan(28, 4).SequenceEqual(ip) && !frame.AsSpan(22, 6).SequenceEqual(mac))
                {
                    return string.Join(':', frame.AsSpan(22, 6).ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
                }
            }
        }
        finally
        {
            _ = Tmds.Linux.LibC.close(fd);
        }
    }

    /// <summary>The interface's index and MAC address, the IPv4 address's bytes, and a packet socket for ARP (close-on-exec).</summary>
    private static (int Index, byte[] Mac, byte[] Ip, int Fd) ArpSocket(string interfaceName, IPAddress address, string what)
    {
        ArgumentNullException.ThrowIfNull(address);
        int index = Index(interfaceName);
        var mac = File.ReadAllText($"/sys/class/net/{interfaceName}/address").Trim().Split(':').Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        if (mac.Length != 6)
        {
            throw new ContainerException($"network interface {interfaceName} has no Ethernet address");
        }

        const ushort EthPArp = 0x0806;
        int fd = Tmds.Linux.LibC.socket(Tmds.Linux.LibC.AF_PACKET, Tmds.Linux.LibC.SOCK_RAW | Tmds.Linux.LibC.SOCK_CLOEXEC, System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(EthPArp));
        if (fd < 0)
        {
            throw new ContainerException($"cannot open a packet socket to {what} {address} on {interfaceName}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }

        return (index, mac, address.MapToIPv4().GetAddressBytes(), fd);
    }

    private static unsafe void Send(int fd, int index, byte[] frame, string interfaceName, IPAddress address)
    {
        var to = default(Tmds.Linux.sockaddr_ll);
        to.sll_family = (ushort)Tmds.Linux.LibC.AF_PACKET;
        to.sll_protocol = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness((ushort)0x0806);
        to.sll_ifindex = index;
        to.sll_halen = 6;
        for (int i = 0; i < 6; i++)
        {
            to.sll_addr[i] = 0xff;
        }

        fixed (byte* p = frame)
        {
            long sent = Tmds.Linux.LibC.sendto(fd, p, frame.Length, 0, (Tmds.Linux.sockaddr*)&to, (uint)sizeof(Tmds.Linux.sockaddr_ll));
            if (sent < 0)
            {
                throw new ContainerException($"cannot announce {address} on {interfaceName}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
            }
        }
    }

    /// <summary>Removes an address that <see cref="AddAddress(string, IPAddress, int)"/> added. Throws <see cref="ContainerException"/> when the interface or the address is not there.</summary>
    public static void DeleteAddress(string interfaceName, IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var nl = new Netlink(LinuxSyscalls.Instance);
        nl.DeleteAddress(Index(interfaceName), address, prefixLength);
    }

    /// <summary>
    /// Routes <paramref name="destination"/>/<paramref name="prefixLength"/> via <paramref name="gateway"/> (a neighbour
    /// on a directly connected network), replacing a route to the same destination: another machine's pod subnet
    /// through that machine, as flannel's host-gw backend does.
    /// </summary>
    public static void ReplaceRoute(IPAddress destination, int prefixLength, IPAddress gateway)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(gateway);
        using var nl = new Netlink(LinuxSyscalls.Instance);
        nl.ReplaceRoute(destination, prefixLength, gateway);
    }

    /// <summary>Removes the route <see cref="ReplaceRoute"/> made to <paramref name="destination"/>/<paramref name="prefixLength"/>.</summary>
    public static void DeleteRoute(IPAddress destination, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var nl = new Netlink(LinuxSyscalls.Instance);
        nl.DeleteRoute(destination, prefixLength);
    }

    /// <summary>
    /// The bytes written to a connected TCP socket that the peer has not acknowledged yet (SIOCOUTQ): 0 once the peer's
    /// kernel has everything that was sent. Throws <see cref="SyscallException"/> for a descriptor that does not tell.
    /// </summary>
    public static int UnsentBytes(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return LinuxSyscalls.Instance.UnreadOutput((int)socket.Handle);
    }

    private static int Index(string interfaceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        var path = $"/sys/class/net/{interfaceName}/ifindex";
        if (interfaceName.Contains('/', StringComparison.Ordinal) || !File.Exists(path))
        {
            throw new ContainerNotFoundException($"network interface {interfaceName} not found");
        }

        return int.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);
    }
}
