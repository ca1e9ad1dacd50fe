using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Xml.Linq;
using k8s.Models;

namespace Containers.Orchestration.SchemaGen;

/// <summary>
/// Writes the OpenAPI v3 component schemas of every kind in the API groups a cluster may serve, derived from the
/// KubernetesClient models (field names from their JSON names, types from their CLR types) and their XML
/// documentation (descriptions), as one gzipped JSON object keyed by Kubernetes' definition names
/// (io.k8s.api.core.v1.Pod). Usage: <c>SchemaGen OUTPUT.json.gz</c>.
/// </summary>
internal static class Program
{
    /// <summary>The group versions whose kinds are written (the core group is "").</summary>
    private static readonly (string Group, string Version)[] GroupVersions =
    [
        ("", "v1"), ("apps", "v1"), ("batch", "v1"), ("autoscaling", "v2"), ("autoscaling", "v1"), ("policy", "v1"),
        ("networking.k8s.io", "v1"), ("rbac.authorization.k8s.io", "v1"), ("storage.k8s.io", "v1"), ("coordination.k8s.io", "v1"),
        ("authorization.k8s.io", "v1"), ("authentication.k8s.io", "v1"), ("certificates.k8s.io", "v1"),
    ];

    /// <summary>apimachinery's types (their definitions live under io.k8s.apimachinery, not under a group's package).</summary>
    private static readonly HashSet<string> MetaTypes =
    [
        "ObjectMeta", "ListMeta", "LabelSelector", "LabelSelectorRequirement", "OwnerReference", "ManagedFieldsEntry",
        "Status", "StatusDetails", "StatusCause", "Condition", "DeleteOptions", "Preconditions", "APIResource",
    ];

    private static readonly Dictionary<Type, string> Names = [];
    private static readonly Queue<(Type Type, string Package)> Pending = new();
    private static Dictionary<string, string> docs = [];

    private static int Main(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine("usage: SchemaGen OUTPUT.json.gz");
            return 2;
        }

        var assembly = typeof(V1Pod).Assembly;
        docs = LoadDocs(Path.ChangeExtension(assembly.Location, ".xml"));
        var schemas = new JsonObject();
        var kinds = assembly.GetTypes()
            .Select(t => (Type: t, Entity: t.GetCustomAttribute<KubernetesEntityAttribute>()))
            .Where(k => k.Entity is { } e && GroupVersions.Contains((e.Group, e.ApiVersion)) && !e.Kind.EndsWith("List", StringComparison.Ordinal))
            .OrderBy(k => Array.IndexOf(GroupVersions, (k.Entity!.Group, k.Entity.ApiVersion))).ThenBy(k => k.Entity!.Kind, StringComparer.Ordinal)
            .ToList();
        foreach (var (type, entity) in kinds)
        {
            Name(type, Package(entity!.Group, entity.ApiVersion));
        }

        while (Pending.TryDequeue(out var next))
        {
            var schema = Schema(next.Type, next.Package);
            if (next.Type.GetCustomAttribute<KubernetesEntityAttribute>() is { } e)
            {
                schema["x-kubernetes-group-version-kind"] = new JsonArray(new JsonObject { ["group"] = e.Group, ["kind"] = e.Kind, ["version"] = e.ApiVersion });
            }

            schemas[Names[next.Type]] = schema;
        }

        foreach (var (name, schema) in SharedTypes)
        {
            schemas[name] = schema;
        }

        var sorted = new JsonObject();
        foreach (var (name, schema) in schemas.OrderBy(p => p.Key, StringComparer.Ordinal).ToList())
        {
            schemas.Remove(name);
            sorted[name] = schema;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(args[0]))!);
        using (var file = File.Create(args[0]))
        using (var gzip = new GZipStream(file, CompressionLevel.SmallestSize))
        using (var writer = new Utf8JsonWriter(gzip))
        {
            sorted.WriteTo(writer);
        }

        Console.WriteLine($"SchemaGen: {sorted.Count} schemas of {kinds.Count} kinds -> {args[0]} ({new FileInfo(args[0]).Length} bytes)");
        return 0;
    }

    private static string Package(string group, string version) =>
        $"io.k8s.api.{(group.Length == 0 ? "core" : group.Split('.')[0])}.{version}";

    /// <summary>The definition name of a model type, queued for writing the first time it is seen (in the package of the first kind that reaches it).</summary>
    private static string Name(Type type, string package)
    {
        if (!Names.TryGetValue(type, out var name))
        {
            // V1PodSpec, V2HorizontalPodAutoscaler, Corev1Event: the model's version (and group) prefix goes
            string simple = System.Text.RegularExpressions.Regex.Replace(type.Name, "^(V[0-9]+((alpha|beta)[0-9]+)?|[A-Z][a-z]+v[0-9]+((alpha|beta)[0-9]+)?)(?=[A-Z])", "");
            name = MetaTypes.Contains(simple) ? $"io.k8s.apimachinery.pkg.apis.meta.v1.{simple}" : $"{package}.{simple}";
            if (Names.FirstOrDefault(n => n.Value == name).Key is { } other)
            {
                throw new InvalidOperationException($"SchemaGen: {type} and {other} would both be {name}");
            }

            Names[type] = name;
            Pending.Enqueue((type, name[..name.LastIndexOf('.')]));
        }

        return name;
    }

    private static JsonObject Schema(Type type, string package)
    {
        var properties = new JsonObject();
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name, StringComparer.Ordinal))
        {
            if (p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name is not { } json)
            {
                continue;
            }

            var property = Property(p.PropertyType, package);
            if (Doc($"P:{type.FullName}.{p.Name}") is { } description)
            {
                property["description"] = description;
            }

            properties[json] = property;
        }

        var schema = new JsonObject();
        if (Doc($"T:{type.FullName}") is { } typeDoc)
        {
            schema["description"] = typeDoc;
        }

        schema["type"] = "object";
        schema["properties"] = properties;
        return schema;
    }

    private static JsonObject Property(Type type, string package)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
        {
            return new JsonObject { ["type"] = "string" };
        }

        if (type == typeof(bool))
        {
            return new JsonObject { ["type"] = "boolean" };
        }

        if (type == typeof(int) || type == typeof(long))
        {
            return new JsonObject { ["type"] = "integer", ["format"] = type == typeof(int) ? "int32" : "int64" };
        }

        if (type == typeof(double) || type == typeof(float))
        {
            return new JsonObject { ["type"] = "number", ["format"] = "double" };
        }

        if (type == typeof(DateTime) || type == typeof(DateTimeOffset))
        {
            return Shared("io.k8s.apimachinery.pkg.apis.meta.v1.Time", "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON. Wrappers are provided for many of the factory methods that the time package offers.", "date-time");
        }

        if (type == typeof(byte[]))
        {
            return new JsonObject { ["type"] = "string", ["format"] = "byte" };
        }

        if (type == typeof(IntOrString))
        {
            return Shared("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "IntOrString is a type that can hold an int32 or a string. When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type. This allows you to have, for example, a JSON field that can accept a name or number.", "int-or-string");
        }

        if (type == typeof(ResourceQuantity))
        {
            return Shared("io.k8s.apimachinery.pkg.api.resource.Quantity", "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors. The serialization format is: <quantity> ::= <signedNumber><suffix> (a decimal or binary SI suffix, or a decimal exponent).", "quantity");
        }

        if (type == typeof(object) || type == typeof(JsonElement))
        {
            return new JsonObject { ["type"] = "object", ["x-kubernetes-preserve-unknown-fields"] = true };
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() is var generic)
        {
            var arguments = type.GetGenericArguments();
            if (generic == typeof(IDictionary<,>) || generic == typeof(Dictionary<,>))
            {
                return new JsonObject { ["type"] = "object", ["additionalProperties"] = Property(arguments[1], package) };
            }

            if (generic == typeof(IList<>) || generic == typeof(List<>) || generic == typeof(IEnumerable<>) || generic == typeof(IReadOnlyList<>))
            {
                return new JsonObject { ["type"] = "array", ["items"] = Property(arguments[0], package) };
            }
        }

        if (type.Namespace == "k8s.Models" && type.IsClass)
        {
            return new JsonObject { ["allOf"] = new JsonArray(new JsonObject { ["$ref"] = "#/components/schemas/" + Name(type, package) }), ["default"] = new JsonObject() };
        }

        throw new InvalidOperationException($"SchemaGen: no OpenAPI type for {type}");
    }

    /// <summary>A reference to one of apimachinery's string types (Time, IntOrString, Quantity), defined once.</summary>
    private static JsonObject Shared(string name, string description, string format)
    {
        if (!SharedTypes.ContainsKey(name))
        {
            // Time is a string; IntOrString and Quantity have no one type (kubectl explain names them by their definition)
            SharedTypes[name] = format == "date-time"
                ? new JsonObject { ["description"] = description, ["type"] = "string", ["format"] = format }
                : new JsonObject { ["description"] = description, ["format"] = format };
        }

        return new JsonObject { ["allOf"] = new JsonArray(new JsonObject { ["$ref"] = "#/components/schemas/" + name }) };
    }

    private static readonly Dictionary<string, JsonObject> SharedTypes = [];

    private static string? Doc(string member) => docs.TryGetValue(member, out var text) ? text : null;

    private static Dictionary<string, string> LoadDocs(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"SchemaGen: the KubernetesClient XML documentation is missing ({path})");
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var member in XDocument.Load(path).Descendants("member"))
        {
            if (member.Attribute("name")?.Value is { } name && member.Element("summary")?.Value is { } summary)
            {
                var lines = summary.Split('\n', StringSplitOptions.TrimEntries);
                var text = string.Join(' ', lines.Where(l => l.Length > 0));
                if (text.Length > 0)
                {
                    result[name] = text;
                }
            }
        }

        return result;
    }
}
