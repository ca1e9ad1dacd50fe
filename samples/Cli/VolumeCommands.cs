using System.Text.Json;
using System.Text.Json.Nodes;
using Containers.Runtime;

namespace Containers.Cli;

/// <summary><c>containers volume create|ls|rm|inspect|prune</c>.</summary>
internal static class VolumeCommands
{
    public static int Run(ContainerEngine engine, Args a)
    {
        switch (a.Name)
        {
            case "create":
            {
                var driver = a.Get("driver") ?? "local";
                var labels = a.All("label").Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
                var opts = a.All("opt").Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
                Console.WriteLine(engine.Volumes.Create(a.Positionals.FirstOrDefault(), labels, driver, opts).Name);
                return 0;
            }

            case "ls" or "list":
            {
                // columns as docker's tabwriter sets them: the widest driver name, then padding
                var volumes = engine.Volumes.List();
                var width = Math.Max(6, volumes.Select(v => v.Driver.Length).DefaultIfEmpty(5).Max()) + 4;
                if (!a.Has("quiet"))
                {
                    Console.WriteLine("DRIVER".PadRight(width) + "VOLUME NAME");
                }

                foreach (var v in volumes)
                {
                    Console.WriteLine(a.Has("quiet") ? v.Name : v.Driver.PadRight(width) + v.Name);
                }

                return 0;
            }

            case "rm" or "remove":
            {
                var failed = false;
                foreach (var name in a.Positionals)
                {
                    try
                    {
                        engine.Volumes.Remove(name, a.Has("force"));
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

            case "inspect":
            {
                var docs = new JsonArray([.. a.Positionals.Select(n => (JsonNode)Document(engine.Volumes.Get(n)))]);
                Console.WriteLine(docs.ToJsonString(new JsonSerializerOptions { WriteIndented = true, TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.Combine() }));
                return 0;
            }

            case "prune":
            {
                var removed = engine.Volumes.Prune(a.Has("all"));
                if (removed.Count > 0)
                {
                    Console.WriteLine("Deleted Volumes:");
                    foreach (var n in removed)
                    {
                        Console.WriteLine(n);
                    }
                }

                return 0;
            }

            default:
                throw new UsageException($"unknown volume command '{a.Name}'", a.Verb);
        }
    }

    private static JsonObject Document(VolumeInfo v) => new()
    {
        ["CreatedAt"] = v.CreatedAt.ToString("o", System.Globalization.CultureInfo.InvariantCulture),
        ["Driver"] = v.Driver,
        ["Labels"] = new JsonObject([.. v.Labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))]),
        ["Mountpoint"] = v.Mountpoint,
        ["Name"] = v.Name,
        ["Options"] = new JsonObject(),
        ["Scope"] = "local",
    };
}
