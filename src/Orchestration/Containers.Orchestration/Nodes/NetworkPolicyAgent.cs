using System.Diagnostics;
using System.Globalization;
using System.Text;
using Containers.Orchestration.Api.Kinds;
using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging;

namespace Containers.Orchestration.Nodes;

/// <summary>
/// Enforces NetworkPolicies on the pods of one node, in each pod's own network namespace (iptables, written whole
/// with iptables-restore through nsenter, so nothing is left when the pod goes): a pod selected by a policy of type
/// Ingress accepts only what one of those policies' rules allows (peers by pod and namespace selectors, or an ipBlock
/// with its exceptions; ports by number, name or range, per protocol), and one selected for Egress sends only what
/// their egress rules allow. Replies to allowed connections pass (conntrack), and so does loopback and traffic with
/// the node itself (its probes and its service proxy, as Kubernetes always allows traffic with the pod's node; so a
/// Service's cluster IP, proxied by the node, is not restricted by a policy here). Rules follow policies, pods and
/// namespaces as they change.
/// </summary>
internal sealed class NetworkPolicyAgent(IPodRuntime runtime, InformerSet informers, string gateway, ILogger logger)
{
    private const string In = "NETPOL-IN", Out = "NETPOL-OUT";
    private readonly Informer policies = informers.For(NetworkPolicyStrategy.Type);
    private readonly Informer pods = informers.For(ResourceType.Pods);
    private readonly Informer namespaces = informers.For(ResourceType.Namespaces);
    private readonly Dictionary<string, string> applied = new(StringComparer.Ordinal); // sandbox id → the rules written into its namespace
    private readonly SemaphoreSlim changed = new(0);
    private static readonly string? Restore = new[] { "/usr/sbin/iptables-restore", "/sbin/iptables-restore", "/usr/bin/iptables-restore" }.FirstOrDefault(File.Exists);

    /// <summary>Keeps the rules of the node's pods (<paramref name="local"/>) in step with the policies until cancelled.</summary>
    public async Task RunAsync(Func<IEnumerable<(string Namespace, string Name, PodRecord Record)>> local, CancellationToken cancellationToken)
    {
        void Signal(JsonObject? a, JsonObject? b)
        {
            if (changed.CurrentCount == 0)
            {
                changed.Release();
            }
        }

        try
        {
            // a runtime with no network namespaces (a test double) never has anything to enforce: nothing is watched
            while (!local().Any(p => p.Record.SandboxId is { } id && runtime.NetworkNamespacePath(id) is not null))
            {
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
            }

            policies.OnChange(Signal);
            pods.OnChange(Signal);
            namespaces.OnChange(Signal);
            while (!cancellationToken.IsCancellationRequested)
            {
                await changed.WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false); // also a sandbox that came up since
                try
                {
                    await SyncAsync(local(), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning(e, "enforcing network policies failed");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SyncAsync(IEnumerable<(string Namespace, string Name, PodRecord Record)> local, CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (ns, name, rec) in local)
        {
            if (rec.SandboxId is not { } sandbox || pods.Get(ns, name) is not { } pod || Json.Uid(pod) != rec.Uid
                || runtime.NetworkNamespacePath(sandbox) is not { } netns)
            {
                continue;
            }

            seen.Add(sandbox);
            string rules = Rules(pod);
            if (applied.GetValueOrDefault(sandbox) == rules)
            {
                continue;
            }

            if (Restore is null)
            {
                logger.LogWarning("iptables-restore is not installed: NetworkPolicies are not enforced (apt-get install iptables)");
                return;
            }

            await WriteAsync(netns, rules, cancellationToken).ConfigureAwait(false);
            applied[sandbox] = rules;
        }

        foreach (string gone in applied.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            applied.Remove(gone); // its namespace went with its rules
        }
    }

    private static async Task WriteAsync(string netns, string rules, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("nsenter") { RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in (string[])[$"--net={netns}", Restore!])
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new ContainerException("cannot start nsenter");
        await p.StandardInput.WriteAsync(rules).ConfigureAwait(false);
        p.StandardInput.Close();
        string error = await p.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (p.ExitCode != 0)
        {
            throw new ContainerException($"iptables-restore in {netns} failed ({p.ExitCode}): {error.Trim()}");
        }
    }

    /// <summary>The filter table of <paramref name="pod"/>'s namespace, as iptables-restore input.</summary>
    internal string Rules(JsonObject pod)
    {
        string ns = Json.Namespace(pod) ?? "default";
        var labels = Json.Labels(pod);
        var selecting = policies.List(ns).Where(p => LabelSelector.FromObject(Json.At(p, "spec", "podSelector") ?? new JsonObject()).Matches(labels)).ToList();
        var text = new StringBuilder("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
        var chains = new StringBuilder();
        var body = new StringBuilder();
        int next = 0;
        foreach (var (type, chain, list, peers, address, hook, iface) in new[]
        {
            ("Ingress", In, "ingress", "from", "-s", "INPUT", "-i"),
            ("Egress", Out, "egress", "to", "-d", "OUTPUT", "-o"),
        })
        {
            var isolating = selecting.Where(p => (Json.At(p, "spec", "policyTypes") as JsonArray ?? []).Any(t => t?.ToString() == type)).ToList();
            if (isolating.Count == 0)
            {
                continue;
            }

            chains.Append(CultureInfo.InvariantCulture, $":{chain} - [0:0]\n");
            body.Append(CultureInfo.InvariantCulture, $"-A {hook} -j {chain}\n");
            body.Append(CultureInfo.InvariantCulture, $"-A {chain} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n");
            body.Append(CultureInfo.InvariantCulture, $"-A {chain} {iface} lo -j ACCEPT\n");
            body.Append(CultureInfo.InvariantCulture, $"-A {chain} {address} {gateway}/32 -j ACCEPT\n");
            foreach (var policy in isolating)
            {
                foreach (var rule in Json.Items(policy, "spec", list))
                {
                    string sub = $"{chain}-{next++}";
                    chains.Append(CultureInfo.InvariantCulture, $":{sub} - [0:0]\n");
                    body.Append(CultureInfo.InvariantCulture, $"-A {chain} -j {sub}\n");
                    var ports = Ports(rule, type == "Ingress" ? pod : null);
                    foreach (var (cidr, except) in Peers(ns, Json.At(rule, peers) as JsonArray))
                    {
                        foreach (string x in except)
                        {
                            body.Append(CultureInfo.InvariantCulture, $"-A {sub} {address} {x} -j RETURN\n");
                        }

                        foreach (string port in ports)
                        {
                            body.Append(CultureInfo.InvariantCulture, $"-A {sub} {address} {cidr}{port} -j ACCEPT\n");
                        }
                    }
                }
            }

            body.Append(CultureInfo.InvariantCulture, $"-A {chain} -j DROP\n");
        }

        return text.Append(chains).Append(body).Append("COMMIT\n").ToString();
    }

    /// <summary>The peers of a rule as (CIDR, exceptions): every address when none is given.</summary>
    private List<(string Cidr, string[] Except)> Peers(string ns, JsonArray? peers)
    {
        if (peers is null || peers.Count == 0)
        {
            return [("0.0.0.0/0", [])];
        }

        var result = new List<(string, string[])>();
        foreach (var peer in peers.OfType<JsonObject>())
        {
            if (Json.At(peer, "ipBlock") is JsonObject block)
            {
                result.Add((Json.Str(block, "cidr") ?? "0.0.0.0/0", [.. (Json.At(block, "except") as JsonArray ?? []).Select(e => e?.ToString() ?? "")]));
                continue;
            }

            var podSelector = Json.At(peer, "podSelector") is { } ps ? LabelSelector.FromObject(ps) : LabelSelector.Everything;
            var spaces = Json.At(peer, "namespaceSelector") is { } nss
                ? namespaces.List().Where(n => LabelSelector.FromObject(nss).Matches(NamespaceLabels(n))).Select(Json.Name).ToHashSet(StringComparer.Ordinal)
                : [ns];
            foreach (var p in pods.List().Where(p => spaces.Contains(Json.Namespace(p) ?? "") && podSelector.Matches(Json.Labels(p))))
            {
                if (Json.Str(p, "status", "podIP") is { Length: > 0 } ip && Json.Str(p, "status", "phase") is not ("Succeeded" or "Failed"))
                {
                    result.Add(($"{ip}/32", []));
                }
            }
        }

        return result;
    }

    /// <summary>A namespace's labels, with the kubernetes.io/metadata.name label every namespace carries.</summary>
    private static Dictionary<string, string> NamespaceLabels(JsonObject ns)
    {
        var labels = Json.Labels(ns);
        labels["kubernetes.io/metadata.name"] = Json.Name(ns);
        return labels;
    }

    /// <summary>The port matches of a rule (" -p tcp --dport 80"), or one empty match when it names no port; named ports resolve against <paramref name="pod"/>'s containers.</summary>
    private static List<string> Ports(JsonObject rule, JsonObject? pod)
    {
        var ports = Json.Items(rule, "ports").ToList();
        if (ports.Count == 0)
        {
            return [""];
        }

        var result = new List<string>();
        foreach (var port in ports)
        {
            string protocol = (Json.Str(port, "protocol") ?? "TCP").ToLowerInvariant();
            var value = Json.At(port, "port");
            if (value is null)
            {
                result.Add($" -p {protocol}");
                continue;
            }

            long? number = Json.Int(port, "port");
            if (number is null && pod is not null)
            {
                string name = value.ToString();
                number = Json.Items(pod, "spec", "containers").SelectMany(c => Json.Items(c, "ports")).Where(p => Json.Str(p, "name") == name).Select(p => Json.Int(p, "containerPort")).FirstOrDefault();
            }

            if (number is null)
            {
                continue; // a name this pod has no port for: matches nothing
            }

            string range = Json.Int(port, "endPort") is { } end ? $"{number}:{end}" : $"{number}";
            result.Add($" -p {protocol} --dport {range}");
        }

        return result;
    }
}
