using System.Diagnostics;
using System.Text.Json.Nodes;
using Containers.Orchestration;
using Containers.Orchestration.Api;
using Containers.Orchestration.Controllers;
using Containers.Orchestration.Storage;

namespace Containers.Tests.Orchestration;

/// <summary>Several control-plane members on one etcd, in one process: one CA, one leader per Lease, and a handover when the leader stops.</summary>
public sealed class HighAvailabilityTests : IAsyncLifetime
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "containers-tests-ha-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<Cluster> members = [];
    private EtcdServer etcd = null!;

    public async Task InitializeAsync() => etcd = await EtcdServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var m in members)
        {
            await m.DisposeAsync();
        }

        await etcd.DisposeAsync();
        Directory.Delete(root, recursive: true);
    }

    private async Task<Cluster> StartMemberAsync(int i)
    {
        var options = new ClusterOptions
        {
            Root = Path.Combine(root, $"m{i}"),
            Nodes = 0,
            Port = 0,
            LeaderElection = LeaderElectionOptions.Fast($"member-{i}"),
        }.OnEtcd([etcd.Url]);
        var member = await Cluster.StartAsync(options);
        members.Add(member);
        return member;
    }

    private static async Task<T> EventuallyAsync<T>(Func<T?> probe, string what, int seconds = 20)
        where T : class
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < until)
        {
            if (probe() is { } found)
            {
                return found;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException(what);
    }

    [Fact]
    public async Task Members_share_one_CA_elect_one_leader_per_lease_and_a_stopped_leader_hands_over()
    {
        await Task.WhenAll(Enumerable.Range(1, 3).Select(StartMemberAsync)); // all at once: the first-start races are part of the test
        Assert.Equal(3, members.Count);

        // one CA: the admin certificate of one member is accepted by another member's API
        var ca = members.Select(m => File.ReadAllText(Path.Combine(m.Options.Root, "cluster", "pki", "ca.crt"))).Distinct();
        Assert.Single(ca);
        using (var http = members[0].CreateAdminHttpClient())
        {
            using var answer = await http.GetAsync(new Uri(members[2].Url + "/api/v1/namespaces/kube-system"));
            Assert.True(answer.IsSuccessStatusCode, await answer.Content.ReadAsStringAsync());
        }

        // exactly one leader per lease, named in the Lease as kubectl get leases shows it
        var leader = await EventuallyAsync(() => members.SingleOrDefault(m => m.Elections.Single(e => e.LeaseName == "kube-controller-manager").IsLeader), "no controller-manager leader");
        await EventuallyAsync(() => members.SingleOrDefault(m => m.Elections.Single(e => e.LeaseName == "kube-scheduler").IsLeader), "no scheduler leader");
        string identity = leader.Elections.Single(e => e.LeaseName == "kube-controller-manager").Identity;
        var lease = members[1].Api.Get(ResourceType.Leases, "kube-system", "kube-controller-manager");
        Assert.Equal(identity, (string?)lease["spec"]!["holderIdentity"]);
        Assert.Equal(5, (int)lease["spec"]!["leaseDurationSeconds"]!);

        // the leader's controllers act on what any member's API accepts
        var other = members.First(m => m != leader);
        other.Api.Create(ResourceType.Deployments, "default", (JsonObject)JsonNode.Parse("""
            {"metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
             "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"web:v1"}]}}}}
            """)!);
        await EventuallyAsync(() => other.Api.List(ResourceType.Pods, "default").Items.Count == 2 ? "" : null, "the deployment's pods were not made");

        // the leader stops: it releases its leases and another member leads within a retry period or two
        var clock = Stopwatch.StartNew();
        members.Remove(leader);
        await leader.DisposeAsync();
        var next = await EventuallyAsync(() => members.SingleOrDefault(m => m.Elections.Single(e => e.LeaseName == "kube-controller-manager").IsLeader), "no new leader");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"handover took {clock.Elapsed}");
        var after = next.Api.Get(ResourceType.Leases, "kube-system", "kube-controller-manager");
        Assert.NotEqual(identity, (string?)after["spec"]!["holderIdentity"]);
        Assert.True((int)after["spec"]!["leaseTransitions"]! >= 1);
        next.Api.Mutate(ResourceType.Deployments, "default", "web", d =>
        {
            d["spec"]!["replicas"] = 3;
            return true;
        });
        await EventuallyAsync(() => next.Api.List(ResourceType.Pods, "default").Items.Count == 3 ? "" : null, "the new leader did not scale the deployment");
    }

    [Fact]
    public async Task Services_made_at_once_through_three_API_servers_never_share_a_cluster_IP_or_node_port()
    {
        await Task.WhenAll(Enumerable.Range(1, 3).Select(StartMemberAsync));
        // without the shared reservations, servers whose caches have not yet seen each other's Services give out the same ones
        var made = new System.Collections.Concurrent.ConcurrentBag<JsonObject>();
        // one thread per API server, each making 20 Services as fast as it can (threads of their own: the store's
        // writes block their caller, and 60 of them on the pool at once would starve the watches that complete them)
        var threads = Enumerable.Range(0, 3).Select(m => new Thread(() =>
        {
            for (int i = m; i < 60; i += 3)
            {
                made.Add(members[m].Api.Create(ResourceType.Services, "default", (JsonObject)JsonNode.Parse($$$"""
                    {"metadata":{"name":"s{{{i}}}"},"spec":{"type":"NodePort","selector":{"app":"a{{{i}}}"},"ports":[{"name":"http","port":80},{"name":"https","port":443}]}}
                    """)!));
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        var ips = made.Select(s => (string)s["spec"]!["clusterIP"]!).ToList();
        var ports = made.SelectMany(s => s["spec"]!["ports"]!.AsArray()).Select(p => (long)p!["nodePort"]!).ToList();
        Assert.Equal(60, ips.Distinct().Count());
        Assert.Equal(120, ports.Distinct().Count());
        // and as every server stores them (what the service proxies see)
        var stored = members[1].Api.List(ResourceType.Services, "default").Items.Where(s => ((string)s["metadata"]!["name"]!).StartsWith('s')).ToList();
        Assert.Equal(60, stored.Select(s => (string)s["spec"]!["clusterIP"]!).Distinct().Count());
    }
}
