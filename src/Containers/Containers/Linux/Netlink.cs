using System.Buffers.Binary;

namespace Containers.Linux;

/// <summary>
/// A minimal rtnetlink client: links (bridge, veth), addresses and routes. A socket belongs to the network
/// namespace of the thread that opened it, so open one on a thread that has joined the target namespace.
/// </summary>
internal sealed class Netlink : IDisposable
{
    private const int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_ROUTE = 0, AF_INET = 2;
    private const ushort RTM_NEWLINK = 16, RTM_DELLINK = 17, RTM_NEWADDR = 20, RTM_DELADDR = 21, RTM_NEWROUTE = 24, RTM_DELROUTE = 25, NLMSG_ERROR = 2;
    private const ushort NLM_F_REQUEST = 1, NLM_F_ACK = 4, NLM_F_REPLACE = 0x100, NLM_F_EXCL = 0x200, NLM_F_CREATE = 0x400;
    private const ushort IFLA_ADDRESS = 1, IFLA_IFNAME = 3, IFLA_MTU = 4, IFLA_MASTER = 10, IFLA_LINKINFO = 18, IFLA_NET_NS_FD = 28;
    private const ushort IFLA_INFO_KIND = 1, IFLA_INFO_DATA = 2, VETH_INFO_PEER = 1;
    private const ushort IFA_ADDRESS = 1, IFA_LOCAL = 2, IFA_BROADCAST = 4, IFA_CACHEINFO = 6;
    private const ushort RTA_DST = 1, RTA_GATEWAY = 5, RTA_OIF = 4;
    private const uint IFF_UP = 1;

    private readonly ISyscalls sys;
    private readonly int fd;
    private uint seq;

    public Netlink(ISyscalls sys)
    {
        this.sys = sys;
        fd = sys.Socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        try
        {
            sys.BindNetlink(fd);
        }
        catch
        {
            sys.Close(fd);
            throw;
        }
    }

    /// <summary>
    /// Creates a bridge. With <paramref name="mac"/> its address is fixed: otherwise the kernel gives it the lowest
    /// address of its ports, which changes as containers come and go and leaves their ARP entries for the gateway
    /// (their DNS server) stale for seconds.
    /// </summary>
    public void CreateBridge(string name, byte[]? mac = null, int mtu = 1500)
    {
        var m = Begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.IfInfo(0, 0, 0);
        m.Attr(IFLA_IFNAME, name);
        m.Attr(IFLA_MTU, (uint)mtu);
        if (mac is not null)
        {
            m.Attr(IFLA_ADDRESS, mac);
        }

        var info = m.Nest(IFLA_LINKINFO);
        m.Attr(IFLA_INFO_KIND, "bridge");
        m.End(info);
        Execute(m, $"create bridge {name}");
    }

    /// <summary>
    /// Creates a veth pair; the peer is created directly in the namespace <paramref name="peerNetnsFd"/>, with the MAC
    /// address <paramref name="peerMac"/> when given (docker derives it from the IP, so a container recreated on the
    /// same address is not hidden behind its predecessor's entry in its neighbours' ARP caches).
    /// </summary>
    public void CreateVeth(string hostName, string peerName, int peerNetnsFd, byte[]? peerMac = null, int mtu = 1500)
    {
        var m = Begin(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.IfInfo(0, 0, 0);
        m.Attr(IFLA_IFNAME, hostName);
        m.Attr(IFLA_MTU, (uint)mtu);
        var info = m.Nest(IFLA_LINKINFO);
        m.Attr(IFLA_INFO_KIND, "veth");
        var data = m.Nest(IFLA_INFO_DATA);
        var peer = m.Nest(VETH_INFO_PEER);
        m.IfInfo(0, 0, 0);
        m.Attr(IFLA_IFNAME, peerName);
        m.Attr(IFLA_MTU, (uint)mtu);
        if (peerMac is not null)
        {
            m.Attr(IFLA_ADDRESS, peerMac);
        }

        m.Attr(IFLA_NET_NS_FD, (uint)peerNetnsFd);
        m.End(peer);
        m.End(data);
        m.End(info);
        Execute(m, $"create veth {hostName}");
    }

    public void SetMaster(int index, int masterIndex)
    {
        var m = Begin(RTM_NEWLINK, 0);
        m.IfInfo(index, 0, 0);
        m.Attr(IFLA_MASTER, (uint)masterIndex);
        Execute(m, $"attach link {index} to bridge");
    }

    public void SetUp(int index)
    {
        var m = Begin(RTM_NEWLINK, 0);
        m.IfInfo(index, IFF_UP, IFF_UP);
        Execute(m, $"set link {index} up");
    }

    public void DeleteLink(int index)
    {
        var m = Begin(RTM_DELLINK, 0);
        m.IfInfo(index, 0, 0);
        Execute(m, $"delete link {index}");
    }

    /// <summary>
    /// Adds an IPv4 address to a link. With <paramref name="ignoreExisting"/> an address already there is taken over
    /// (NLM_F_REPLACE: IPv4 refuses a second add with EEXIST unless it replaces), as after a crash of the process that
    /// added it; otherwise EEXIST is an error. With <paramref name="lifetime"/> the kernel removes the address by itself
    /// once that time passes without another add (valid and preferred lifetimes, IFA_CACHEINFO); adding it again renews it.
    /// </summary>
    public void AddAddress(int index, IPAddress address, int prefixLength, bool ignoreExisting = false, TimeSpan? lifetime = null)
    {
        var m = Begin(RTM_NEWADDR, (ushort)(NLM_F_CREATE | (ignoreExisting ? NLM_F_REPLACE : NLM_F_EXCL)));
        m.Bytes([AF_INET, (byte)prefixLength, 0, 0]);
        m.U32((uint)index);
        var bytes = address.GetAddressBytes();
        m.Attr(IFA_LOCAL, bytes);
        m.Attr(IFA_ADDRESS, bytes);
        var bcast = BinaryPrimitives.ReadUInt32BigEndian(bytes) | (prefixLength >= 32 ? 0 : uint.MaxValue >> prefixLength);
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, bcast);
        m.Attr(IFA_BROADCAST, b);
        if (lifetime is { } life)
        {
            var info = new byte[16]; // struct ifa_cacheinfo: preferred, valid (seconds), then two stamps the kernel fills
            uint seconds = (uint)Math.Max(1, Math.Ceiling(life.TotalSeconds));
            BinaryPrimitives.WriteUInt32LittleEndian(info, seconds);
            BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(4), seconds);
            m.Attr(IFA_CACHEINFO, info);
        }

        Execute(m, $"add address {address}/{prefixLength}");
    }

    public void DeleteAddress(int index, IPAddress address, int prefixLength)
    {
        var m = Begin(RTM_DELADDR, 0);
        m.Bytes([AF_INET, (byte)prefixLength, 0, 0]);
        m.U32((uint)index);
        var bytes = address.GetAddressBytes();
        m.Attr(IFA_LOCAL, bytes);
        m.Attr(IFA_ADDRESS, bytes);
        Execute(m, $"delete address {address}/{prefixLength}");
    }

    public void AddDefaultRoute(IPAddress gateway, int index)
    {
        var m = Begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        m.Bytes([AF_INET, 0, 0, 0, 254, 3, 0, 1]); // family, dst_len, src_len, tos, table main, proto boot, scope universe, unicast
        m.U32(0);
        m.Attr(RTA_GATEWAY, gateway.GetAddressBytes());
        m.Attr(RTA_OIF, (uint)index);
        Execute(m, $"add default route via {gateway}");
    }

    /// <summary>Adds or replaces the route to <paramref name="destination"/>/<paramref name="prefixLength"/> via <paramref name="gateway"/> (main table, static).</summary>
    public void ReplaceRoute(IPAddress destination, int prefixLength, IPAddress gateway)
    {
        var m = Begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        m.Bytes([AF_INET, (byte)prefixLength, 0, 0, 254, 4, 0, 1]); // family, dst_len, src_len, tos, table main, proto static, scope universe, unicast
        m.U32(0);
        m.Attr(RTA_DST, destination.GetAddressBytes());
        m.Attr(RTA_GATEWAY, gateway.GetAddressBytes());
        Execute(m, $"route {destination}/{prefixLength} via {gateway}");
    }

    /// <summary>Removes the route to <paramref name="destination"/>/<paramref name="prefixLength"/> (main table).</summary>
    public void DeleteRoute(IPAddress destination, int prefixLength)
    {
        var m = Begin(RTM_DELROUTE, 0);
        m.Bytes([AF_INET, (byte)prefixLength, 0, 0, 254, 0, 0, 1]);
        m.U32(0);
        m.Attr(RTA_DST, destination.GetAddressBytes());
        Execute(m, $"delete route {destination}/{prefixLength}");
    }

    public void Dispose() => sys.Close(fd);

    private Message Begin(ushort type, ushort flags) => new(type, (ushort)(NLM_F_REQUEST | NLM_F_ACK | flags), ++seq);

    private void Execute(Message m, string what)
    {
        sys.Send(fd, m.Finish());
        var buf = new byte[8192];
        while (true)
        {
            var n = sys.Receive(fd, buf);
            var off = 0;
            while (off + 16 <= n)
            {
                var len = (int)BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(off));
                var type = BinaryPrimitives.ReadUInt16LittleEndian(buf.AsSpan(off + 4));
                var s = BinaryPrimitives.ReadUInt32LittleEndian(buf.AsSpan(off + 8));
                if (type == NLMSG_ERROR && s == seq)
                {
                    var error = BinaryPrimitives.ReadInt32LittleEndian(buf.AsSpan(off + 16));
                    if (error != 0)
                    {
                        throw new SyscallException("netlink " + what, -error);
                    }

                    return;
                }

                off += Math.Max(16, (len + 3) & ~3);
            }
        }
    }

    private sealed class Message
    {
        private readonly List<byte> b = new(256);

        public Message(ushort type, ushort flags, uint seq)
        {
            U32(0);
            U16(type);
            U16(flags);
            U32(seq);
            U32(0);
        }

        public void IfInfo(int index, uint flags, uint change)
        {
            Bytes([0, 0]); // family AF_UNSPEC, pad
            U16(0); // type
            U32((uint)index);
            U32(flags);
            U32(change);
        }

        public void U16(ushort v)
        {
            Span<byte> t = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(t, v);
            b.AddRange(t);
        }

        public void U32(uint v)
        {
            Span<byte> t = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(t, v);
            b.AddRange(t);
        }

        public void Bytes(ReadOnlySpan<byte> v) => b.AddRange(v);

        public void Attr(ushort type, ReadOnlySpan<byte> value)
        {
            U16((ushort)(4 + value.Length));
            U16(type);
            b.AddRange(value);
            Pad();
        }

        public void Attr(ushort type, uint value)
        {
            Span<byte> t = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(t, value);
            Attr(type, t);
        }

        public void Attr(ushort type, string value) => Attr(type, System.Text.Encoding.ASCII.GetBytes(value + "\0"));

        public int Nest(ushort type)
        {
            var start = b.Count;
            U16(0);
            U16(type);
            return start;
        }

        public void End(int start)
        {
            var len = (ushort)(b.Count - start);
            b[start] = (byte)len;
            b[start + 1] = (byte)(len >> 8);
        }

        public byte[] Finish()
        {
            var a = b.ToArray();
            BinaryPrimitives.WriteUInt32LittleEndian(a, (uint)a.Length);
            return a;
        }

        private void Pad()
        {
            while (b.Count % 4 != 0)
            {
                b.Add(0);
            }
        }
    }
}
