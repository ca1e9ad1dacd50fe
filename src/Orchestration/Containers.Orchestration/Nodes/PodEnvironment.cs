using System.Text;
using Containers.Orchestration.Controllers;

namespace Containers.Orchestration.Nodes;

/// <summary>A container's configuration that cannot be made (a missing ConfigMap, Secret or key): CreateContainerConfigError.</summary>
public sealed class PodConfigException(string message) : ContainerException(message);

/// <summary>
/// A container's environment as the kubelet builds it: service links ({SVC}_SERVICE_HOST/_PORT and the docker-link
/// style variables) of the namespace's services, envFrom (ConfigMaps and Secrets, with prefixes), then env in order
/// (values with $(VAR) expanded against what came before, valueFrom configMapKeyRef, secretKeyRef, fieldRef and
/// resourceFieldRef).
/// </summary>
internal static class PodEnvironment
{
    private const int MaxShared = 16384;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Shared = new(StringComparer.Ordinal);

    /// <summary>
    /// One instance of a service-link string for every pod that has it (every pod of a namespace has the same ones):
    /// a node of a thousand pods keeps one <c>KUBERNETES_PORT_443_TCP_ADDR</c>, not a thousand. Bounded: past
    /// <see cref="MaxShared"/> strings (services churning), new ones are not shared.
    /// </summary>
    private static string Share(string s)
    {
        if (Shared.TryGetValue(s, out var kept))
        {
            return kept;
        }

        // counted here: the dictionary's Count takes every one of its locks
        if (Volatile.Read(ref sharedCount) >= MaxShared)
        {
            return s;
        }

        kept = Shared.GetOrAdd(s, s);
        if (ReferenceEquals(kept, s))
        {
            Interlocked.Increment(ref sharedCount);
        }

        return kept;
    }

    private static int sharedCount;

    public static List<KeyValuePair<string, string>> Build(JsonObject pod, JsonObject container, NodeReader reader, Informer services)
    {
        string ns = Json.Namespace(pod) ?? "default";
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        var order = new List<string>();
        void Set(string k, string v)
        {
            if (!env.ContainsKey(k))
            {
                order.Add(k);
            }

            env[k] = v;
        }

        // service links are the same strings in every pod of the namespace: one instance of each is kept for them all
        void SetShared(string k, string v) => Set(Share(k), Share(v));

        // the namespace's Services when service links are on; the API's own Service (default/kubernetes) always, as the kubelet
        var linked = Json.Bool(pod, "spec", "enableServiceLinks") != false ? services.List(ns).ToList() : [];
        if (!linked.Any(s => Json.Namespace(s) == "default" && Json.Name(s) == "kubernetes") && services.Get("default", "kubernetes") is { } master)
        {
            linked.Add(master);
        }

        {
            foreach (var svc in linked.Where(s => Json.Str(s, "spec", "clusterIP") is { } ip && ip != "None").OrderBy(Json.Name, StringComparer.Ordinal))
            {
                string prefix = Json.Name(svc).ToUpperInvariant().Replace('-', '_');
                string ip = Json.Str(svc, "spec", "clusterIP")!;
                var ports = Json.ReadItems(svc, "spec", "ports").ToList();
                if (ports.Count == 0)
                {
                    continue;
                }

                SetShared($"{prefix}_SERVICE_HOST", ip);
                SetShared($"{prefix}_SERVICE_PORT", Json.Int(ports[0], "port")!.Value.ToString(CultureInfo.InvariantCulture));
                foreach (var p in ports)
                {
                    string port = Json.Int(p, "port")!.Value.ToString(CultureInfo.InvariantCulture);
                    string proto = (Json.Str(p, "protocol") ?? "TCP").ToUpperInvariant();
                    if (Json.Str(p, "name") is { Length: > 0 } pname)
                    {
                        SetShared($"{prefix}_SERVICE_PORT_{pname.ToUpperInvariant().Replace('-', '_')}", port);
                    }

                    string url = $"{proto.ToLowerInvariant()}://{ip}:{port}";
                    if (p == ports[0])
                    {
                        SetShared($"{prefix}_PORT", url);
                    }

                    SetShared($"{prefix}_PORT_{port}_{proto}", url);
                    SetShared($"{prefix}_PORT_{port}_{proto}_PROTO", proto.ToLowerInvariant());
                    SetShared($"{prefix}_PORT_{port}_{proto}_PORT", port);
                    SetShared($"{prefix}_PORT_{port}_{proto}_ADDR", ip);
                }
            }
        }

        foreach (var from in Json.ReadItems(container, "envFrom"))
        {
            string prefix = Json.Str(from, "prefix") ?? "";
            if (Json.At(from, "configMapRef") is JsonObject cmRef)
            {
                var cm = Lookup(reader, pod, ResourceType.ConfigMaps, ns, Json.Str(cmRef, "name"), Json.Bool(cmRef, "optional") == true);
                foreach (var (k, v) in Json.Map(cm, "data"))
                {
                    Set(prefix + k, v);
                }
            }
            else if (Json.At(from, "secretRef") is JsonObject secretRef)
            {
                var secret = Lookup(reader, pod, ResourceType.Secrets, ns, Json.Str(secretRef, "name"), Json.Bool(secretRef, "optional") == true);
                foreach (var (k, v) in Json.Map(secret, "data"))
                {
                    Set(prefix + k, Decode(v));
                }
            }
        }

        foreach (var e in Json.ReadItems(container, "env"))
        {
            string name = Json.Str(e, "name") ?? "";
            if (Json.At(e, "valueFrom") is JsonObject from)
            {
                string? value = ValueFrom(from, pod, container, reader, ns);
                if (value is not null)
                {
                    Set(name, value);
                }
            }
            else
            {
                Set(name, Expand(Json.Str(e, "value") ?? "", env));
            }
        }

        return [.. order.Select(k => new KeyValuePair<string, string>(k, env[k]))];
    }

    /// <summary>Kubernetes' $(VAR) expansion: known names are replaced, $$ escapes, unknown references stay as written.</summary>
    public static string Expand(string text, IReadOnlyDictionary<string, string> vars)
    {
        if (!text.Contains('$', StringComparison.Ordinal))
        {
            return text;
        }

        var sb = new StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '$' && i + 1 < text.Length)
            {
                if (text[i + 1] == '$')
                {
                    sb.Append('$');
                    i++;
                    continue;
                }

                if (text[i + 1] == '(')
                {
                    int close = text.IndexOf(')', i + 2);
                    if (close > 0)
                    {
                        string name = text[(i + 2)..close];
                        if (vars.TryGetValue(name, out string? v))
                        {
                            sb.Append(v);
                            i = close;
                            continue;
                        }
                    }
                }
            }

            sb.Append(text[i]);
        }

        return sb.ToString();
    }

    private static string? ValueFrom(JsonObject from, JsonObject pod, JsonObject container, NodeReader reader, string ns)
    {
        if (Json.At(from, "configMapKeyRef") is JsonObject cmKey)
        {
            bool optional = Json.Bool(cmKey, "optional") == true;
            var cm = Lookup(reader, pod, ResourceType.ConfigMaps, ns, Json.Str(cmKey, "name"), optional);
            string key = Json.Str(cmKey, "key") ?? "";
            if (Json.Map(cm, "data").TryGetValue(key, out string? v))
            {
                return v;
            }

            return optional ? null : throw new PodConfigException($"couldn't find key {key} in ConfigMap {ns}/{Json.Str(cmKey, "name")}");
        }

        if (Json.At(from, "secretKeyRef") is JsonObject secretKey)
        {
            bool optional = Json.Bool(secretKey, "optional") == true;
            var secret = Lookup(reader, pod, ResourceType.Secrets, ns, Json.Str(secretKey, "name"), optional);
            string key = Json.Str(secretKey, "key") ?? "";
            if (Json.Map(secret, "data").TryGetValue(key, out string? v))
            {
                return Decode(v);
            }

            return optional ? null : throw new PodConfigException($"couldn't find key {key} in Secret {ns}/{Json.Str(secretKey, "name")}");
        }

        if (Json.At(from, "fieldRef") is JsonObject fieldRef)
        {
            return FieldRef(pod, Json.Str(fieldRef, "fieldPath") ?? "");
        }

        if (Json.At(from, "resourceFieldRef") is JsonObject resource)
        {
            string res = Json.Str(resource, "resource") ?? "";
            string[] parts = res.Split('.');
            var value = parts.Length == 2 ? Json.At(container, "resources", parts[0], parts[1]) : null;
            decimal q = Quantity.Of(value, parts.Length == 2 && parts[1] == "cpu" ? Environment.ProcessorCount : 0);
            decimal divisor = Quantity.Of(Json.At(resource, "divisor"), 1);
            return Math.Ceiling(q / (divisor == 0 ? 1 : divisor)).ToString(CultureInfo.InvariantCulture);
        }

        return null;
    }

    /// <summary>The value of a fieldRef's <paramref name="path"/> of <paramref name="pod"/> (metadata.name, metadata.labels['app'], status.podIP...).</summary>
    internal static string? FieldRef(JsonObject pod, string path)
    {
        if (path.StartsWith("metadata.labels['", StringComparison.Ordinal) || path.StartsWith("metadata.annotations['", StringComparison.Ordinal))
        {
            string kind = path.StartsWith("metadata.labels", StringComparison.Ordinal) ? "labels" : "annotations";
            string key = path[(path.IndexOf('\'', StringComparison.Ordinal) + 1)..path.LastIndexOf('\'')];
            return Json.Map(pod, "metadata", kind).GetValueOrDefault(key) ?? "";
        }

        return path switch
        {
            "metadata.name" => Json.Name(pod),
            "metadata.namespace" => Json.Namespace(pod),
            "metadata.uid" => Json.Uid(pod),
            "spec.nodeName" => Json.Str(pod, "spec", "nodeName"),
            "spec.serviceAccountName" => Json.Str(pod, "spec", "serviceAccountName") ?? "default",
            "status.podIP" or "status.podIPs" => Json.Str(pod, "status", "podIP") ?? "",
            "status.hostIP" or "status.hostIPs" => Json.Str(pod, "status", "hostIP") ?? "",
            "metadata.labels" => string.Join("\n", Json.Labels(pod).Select(kv => $"{kv.Key}=\"{kv.Value}\"")),
            _ => throw new PodConfigException($"unsupported fieldRef fieldPath \"{path}\""),
        };
    }

    internal static JsonObject? Lookup(NodeReader reader, JsonObject pod, ResourceType type, string ns, string? name, bool optional)
    {
        JsonObject? obj;
        try
        {
            obj = name is null ? null : reader.Get(type, ns, name, pod);
        }
        catch (PodVolumeException e)
        {
            throw new PodConfigException(e.Message);
        }

        if (obj is null && !optional)
        {
            throw new PodConfigException($"{type.Singular} \"{name}\" not found");
        }

        return obj;
    }

    private static string Decode(string base64)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(base64));
        }
        catch (FormatException)
        {
            return base64;
        }
    }
}
