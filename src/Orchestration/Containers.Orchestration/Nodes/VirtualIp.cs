using System.Net;
using Containers.Networking;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>A virtual IP for the API, as kube-vip gives a control plane: held by one machine at a time, on its LAN interface.</summary>
/// <param name="Address">The address (on the machines' LAN, free).</param>
/// <param name="Interface">The LAN interface of each control-plane machine it is added to (eth0).</param>
/// <param name="PrefixLength">Its prefix length on that interface (32: only the address itself).</param>
public sealed record VirtualIpOptions(IPAddress Address, string Interface, int PrefixLength = 32);

/// <summary>
/// Holds addresses on a LAN interface while this machine leads (kube-vip's ARP mode): each is added with a kernel
/// lifetime a little longer than the lease and renewed every second, so the address of a holder that dies leaves its
/// interface by itself; it is announced by gratuitous ARP at once and every few seconds, so the LAN's neighbours send
/// to the new holder; it is removed when leadership ends.
/// </summary>
public static class AddressHolder
{
    /// <summary>Holds <paramref name="addresses"/> (each with its prefix length) on <paramref name="interfaceName"/> until <paramref name="cancellationToken"/> fires.</summary>
    public static async Task HoldAsync(string interfaceName, Func<IReadOnlyList<(IPAddress Address, int PrefixLength)>> addresses, TimeSpan lifetime, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(logger);
        var held = new HashSet<(IPAddress, int)>();
        var announced = new Dictionary<(IPAddress, int), (long At, int Times)>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var wanted = addresses().ToHashSet();
                foreach (var gone in held.Where(h => !wanted.Contains(h)).ToList())
                {
                    Remove(interfaceName, gone.Item1, gone.Item2, logger);
                    held.Remove(gone);
                    announced.Remove(gone);
                }

                foreach (var (address, prefix) in wanted)
                {
                    try
                    {
                        HostInterfaces.AddAddress(interfaceName, address, prefix, lifetime);
                        if (held.Add((address, prefix)))
                        {
                            logger.LogInformation("holding {Address}/{Prefix} on {Interface}", address, prefix, interfaceName);
                        }

                        // announce at once, twice more half a second apart (a neighbour may miss one), then every 3 s
                        long now = Environment.TickCount64;
                        var last = announced.GetValueOrDefault((address, prefix));
                        if (last.Times == 0 || now - last.At >= (last.Times < 3 ? 500 : 3000))
                        {
                            HostInterfaces.AnnounceAddress(interfaceName, address);
                            announced[(address, prefix)] = (now, last.Times + 1);
                        }
                    }
                    catch (ContainerException e)
                    {
                        logger.LogWarning("cannot hold {Address} on {Interface}: {Message}", address, interfaceName, e.Message);
                    }
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // leadership ended
        }
        finally
        {
            foreach (var (address, prefix) in held)
            {
                Remove(interfaceName, address, prefix, logger);
            }
        }
    }

    private static void Remove(string interfaceName, IPAddress address, int prefix, ILogger logger)
    {
        try
        {
            HostInterfaces.DeleteAddress(interfaceName, address, prefix);
            logger.LogInformation("released {Address}/{Prefix} on {Interface}", address, prefix, interfaceName);
        }
        catch (ContainerException)
        {
            // expired or removed already
        }
    }
}
