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

    /// <summary>Removes an address that <see cref="AddAddress"/> added. Throws <see cref="ContainerException"/> when the interface or the address is not there.</summary>
    public static void DeleteAddress(string interfaceName, IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var nl = new Netlink(LinuxSyscalls.Instance);
        nl.DeleteAddress(Index(interfaceName), address, prefixLength);
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
