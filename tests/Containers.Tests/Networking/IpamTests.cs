using System.Net;
using Containers.Linux;
using Containers.Networking;

namespace Containers.Tests.Networking;

/// <summary>
/// Address management when processes die without releasing: a container's monitor does not sweep the root, so a full
/// network gives back what dead owners hold before it says no address is left.
/// </summary>
public sealed class IpamTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("containers-tests-ipam-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_full_network_takes_back_the_addresses_of_dead_owners_and_no_others()
    {
        string file = Path.Combine(dir, "ipam.json");
        var ipam = new Ipam(file, IPAddress.Parse("10.9.9.0"), 29, LinuxSyscalls.Instance); // .2-.6 free (.1 gateway, .7 broadcast)
        var mine = Enumerable.Range(0, 3).Select(i => ipam.Allocate("live" + i)).ToList();

        // two addresses held by a process that is gone (pid 1's start time is not 1; a huge pid does not run)
        var json = File.ReadAllText(file).TrimEnd().TrimEnd('}').TrimEnd();
        File.WriteAllText(file, json + ",\n  \"10.9.9.5\": \"dead1 4194000 12345\",\n  \"10.9.9.6\": \"dead2 1 1\"\n}\n");

        var reused = ipam.Allocate("new1");
        Assert.Contains(reused.ToString(), new[] { "10.9.9.5", "10.9.9.6" });
        var second = ipam.Allocate("new2");
        Assert.NotEqual(reused, second);
        Assert.Contains(second.ToString(), new[] { "10.9.9.5", "10.9.9.6" });

        // every address held by a live owner now: a clear error, and the live ones are untouched
        var e = Assert.Throws<ContainerException>(() => ipam.Allocate("new3"));
        Assert.Contains("no free address left", e.Message, StringComparison.Ordinal);
        Assert.Equal(mine, Enumerable.Range(0, 3).Select(i => ipam.Allocate("live" + i)).ToList()); // the same ones again
    }

    [Fact]
    public void A_requested_address_held_by_a_dead_owner_is_taken_and_one_held_by_a_live_owner_is_refused()
    {
        string file = Path.Combine(dir, "ipam.json");
        var ipam = new Ipam(file, IPAddress.Parse("10.9.8.0"), 24, LinuxSyscalls.Instance);
        ipam.Allocate("live", IPAddress.Parse("10.9.8.10"));
        var json = File.ReadAllText(file).TrimEnd().TrimEnd('}').TrimEnd();
        File.WriteAllText(file, json + ",\n  \"10.9.8.11\": \"dead 4194000 12345\"\n}\n");

        Assert.Equal(IPAddress.Parse("10.9.8.11"), ipam.Allocate("other", IPAddress.Parse("10.9.8.11")));
        Assert.Throws<ContainerConflictException>(() => ipam.Allocate("other2", IPAddress.Parse("10.9.8.10")));
    }
}
