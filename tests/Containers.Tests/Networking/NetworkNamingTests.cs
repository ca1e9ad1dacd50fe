using System.Security.Cryptography;
using System.Text;
using Containers.Networking;

namespace Containers.Tests.Networking;

/// <summary>Names and ids the engine derives without hashing through OpenSSL at every start.</summary>
public sealed class NetworkNamingTests
{
    [Fact]
    public void The_default_bridges_written_out_id_is_the_sha256_it_stands_for()
    {
        Assert.Equal(NetworkStore.DefaultBridgeId, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("bridge/cdnet0"))));
    }

    [Fact]
    public void A_user_network_veth_name_fits_the_kernel_and_differs_per_container_and_network()
    {
        string a = new('a', 64), b = new('b', 64), n1 = new('1', 64), n2 = new('2', 64);
        var names = new[] { BridgeNetwork.HostVeth(a, n1), BridgeNetwork.HostVeth(a, n2), BridgeNetwork.HostVeth(b, n1), BridgeNetwork.HostVeth(b, n2) };
        Assert.All(names, n => Assert.Matches("^vcn[0-9a-f]{12}$", n)); // 15 characters: IFNAMSIZ - 1
        Assert.Equal(4, names.Distinct().Count());
        Assert.Equal(BridgeNetwork.HostVeth(a, n1), BridgeNetwork.HostVeth(a, n1));

        // random container ids on one network: no two of 20,000 share a name
        var seen = new HashSet<string>();
        for (int i = 0; i < 20_000; i++)
        {
            Assert.True(seen.Add(BridgeNetwork.HostVeth(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), n1)));
        }
    }
}
