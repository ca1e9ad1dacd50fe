using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Containers.Networking;

namespace Containers.Cli;

/// <summary><c>containers network create|ls|rm|inspect|connect|disconnect|prune</c>.</summary>
internal static class NetworkCommands
{
    public static int Run(ContainerEngine engine, Args a)
    {
        switch (a.Name)
        {
            case "create":
            {
                if (a.Get("driver") is { } d && d != "bridge")
                {
                    throw new UsageException($"network driver '{d}' is not supported (only bridge)");
                }

                if (a.Positionals.Count != 1)
                {
                    throw new UsageException("\"network create\" requires exactly 1 argument: NAME");
                }

                var info = engine.Networks.Create(a.Positionals[0], new NetworkCreateOptions
                {
                    Subnet = a.Get("subnet"),
                    Gateway = a.Get("gateway"),
                    Internal = a.Has("internal"),
                    Labels = a.All("label").Select(l => l.Split('=', 2)).ToImmutableDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""),
                });
                Console.WriteLine(info.Id);
                return 0;
            }

            case "ls" or "list":
            {
                if (!a.Has("quiet"))
                {
                    Console.WriteLine($"{"NETWORK ID",-14}{"NAME",-20}{"DRIVER",-10}{"SUBNET",-18}SCOPE");
                }

                foreach (var n in engine.Networks.List())
                {
                    var id = a.Has("no-trunc") ? n.Id : n.Id[..12];
                    Console.WriteLine(a.Has("quiet") ? id : $"{id,-14}{n.Name,-20}{n.Driver,-10}{n.Subnet,-18}local");
                }

                return 0;
            }

            case "rm" or "remove":
                return ForEach(x => x.Positionals, a, name => engine.Networks.Remove(name));

            case "inspect":
            {
                var docs = new JsonArray([.. a.Positionals.Select(n => (JsonNode)Document(engine, engine.Networks.Get(n)))]);
                Console.WriteLine(docs.ToJsonString(new JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine() }));
                return 0;
            }

            case "connect":
            {
                if (a.Positionals.Count != 2)
                {
                    throw new UsageException("\"network connect\" requires exactly 2 arguments: NETWORK CONTAINER");
                }

                engine.Networks.Connect(a.Positionals[0], a.Positionals[1], a.All("alias"), a.Get("ip"));
                return 0;
            }

            case "disconnect":
            {
                if (a.Positionals.Count != 2)
                {
                    throw new UsageException("\"network disconnect\" requires exactly 2 arguments: NETWORK CONTAINER");
                }

                engine.Networks.Disconnect(a.Positionals[0], a.Positionals[1], a.Has("force"));
                return 0;
            }

            case "prune":
            {
                var removed = engine.Networks.Prune();
                if (a.Has("default-bridge") && !engine.Networks.RemoveDefaultBridge())
                {
                    Console.Error.WriteLine("the default bridge stays: a container is on it");
                }

                if (removed.Count > 0)
                {
                    Console.WriteLine("Deleted Networks:");
                    foreach (var n in removed)
                    {
                        Console.WriteLine(n);
                    }
                }

                return 0;
            }

            default:
                throw new UsageException($"unknown network command '{a.Name}'", a.Verb);
        }
    }

    /// <summary>The spec's networks from <c>run --network N [--network M] --network-alias A --ip IP</c> (aliases and address apply to the first).</summary>
    public static ImmutableArray<NetworkAttachment> Attachments(IReadOnlyList<string> networks, IReadOnlyList<string> aliases, string? ip)
    {
        if (networks.Count == 0 || networks[0] is "host" or "none")
        {
            return aliases.Count > 0 || ip is not null
                ? throw new UsageException("--network-alias and --ip need a user-defined --network")
                : [];
        }

        return [.. networks.Select((n, i) => i == 0 ? new NetworkAttachment(n) { Aliases = [.. aliases], IPv4Address = ip } : new NetworkAttachment(n))];
    }

    /// <summary>docker inspect's NetworkSettings.Networks entry.</summary>
    private static int ForEach(Func<Args, List<string>> names, Args a, Action<string> action)
    {
        var failed = false;
        foreach (var name in names(a))
        {
            try
            {
                action(name);
                Console.WriteLine(name);
            }
            catch (ContainerException e)
            {
                Console.Error.WriteLine("containers: " + e.Message);
                failed = true;
            }
        }

        return failed ? 1 : 0;
    }

    private static JsonObject Document(ContainerEngine engine, NetworkInfo n) => new()
    {
        ["Name"] = n.Name,
        ["Id"] = n.Id,
        ["Created"] = n.Created.ToString("o", CultureInfo.InvariantCulture),
        ["Scope"] = "local",
        ["Driver"] = n.Driver,
        ["EnableIPv6"] = false,
        ["IPAM"] = new JsonObject
        {
            ["Driver"] = "default",
            ["Config"] = new JsonArray(new JsonObject { ["Subnet"] = n.Subnet, ["Gateway"] = n.Gateway }),
        },
        ["Internal"] = n.Internal,
        ["Options"] = new JsonObject { ["com.docker.network.bridge.name"] = n.BridgeName },
        ["Labels"] = new JsonObject([.. n.Labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))]),
        ["Containers"] = new JsonObject(engine.Networks.Containers(n.Id).Select(c => KeyValuePair.Create(c.Container.Id, (JsonNode?)new JsonObject
        {
            ["Name"] = c.Container.Name,
            ["IPv4Address"] = $"{c.Endpoint.IPAddress}/{c.Endpoint.PrefixLength}",
            ["Aliases"] = new JsonArray([.. c.Endpoint.Aliases.Select(x => (JsonNode?)x)]),
        }))),
    };
}
