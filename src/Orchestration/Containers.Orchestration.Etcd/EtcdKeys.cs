using Containers.Orchestration.Api;

namespace Containers.Orchestration.Storage;

/// <summary>
/// kube-apiserver's key layout in etcd: <c>/registry/RESOURCE/NAMESPACE/NAME</c> for namespaced objects and
/// <c>/registry/RESOURCE/NAME</c> for cluster-scoped ones. RESOURCE is the plural alone for the core group and for the
/// built-in groups (<c>/registry/deployments/default/web</c>), unless another kind has the same plural
/// (events.k8s.io's events live under <c>/registry/events.k8s.io/events</c> beside the core's); custom resources go under
/// <c>/registry/GROUP/PLURAL</c>, as kube-apiserver files CRDs.
/// </summary>
public sealed class EtcdKeys
{
    private static readonly Dictionary<string, string> BuiltInSegments = BuildSegments();
    private static readonly Dictionary<string, string> BuiltInStoreNames = BuiltInSegments.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    /// <summary>Keys under <paramref name="prefix"/> (<c>/registry</c> by default, no trailing slash).</summary>
    public EtcdKeys(string prefix = "/registry")
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        Prefix = prefix.TrimEnd('/');
        if (Prefix.Length == 0 || Prefix[0] != '/')
        {
            throw new ArgumentException($"an etcd key prefix starts with '/': '{prefix}'", nameof(prefix));
        }
    }

    /// <summary>The prefix, without a trailing slash.</summary>
    public string Prefix { get; }

    /// <summary>The key of one object.</summary>
    public string Of(ObjectKey key) =>
        key.Namespace is null ? $"{Prefix}/{Segment(key.Resource)}/{key.Name}" : $"{Prefix}/{Segment(key.Resource)}/{key.Namespace}/{key.Name}";

    /// <summary>The prefix (ending in '/') of every key of <paramref name="resource"/>, or of its objects in <paramref name="ns"/>.</summary>
    public string RangeOf(string? resource = null, string? ns = null) =>
        resource is null ? Prefix + "/" : ns is null ? $"{Prefix}/{Segment(resource)}/" : $"{Prefix}/{Segment(resource)}/{ns}/";

    /// <summary>The first key after every key that starts with <paramref name="prefix"/> (etcd's range_end for a prefix).</summary>
    public static byte[] RangeEnd(ReadOnlySpan<byte> prefix)
    {
        var end = prefix.ToArray();
        for (int i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xff)
            {
                end[i]++;
                return end[..(i + 1)];
            }
        }

        return [0]; // every key
    }

    /// <summary>The object a key names, or null for a key that is not one of the layout (a leader-election key, say).</summary>
    public ObjectKey? Parse(string key)
    {
        if (!key.StartsWith(Prefix + "/", StringComparison.Ordinal))
        {
            return null;
        }

        var parts = key[(Prefix.Length + 1)..].Split('/');
        string resource;
        int rest;
        if (parts.Length >= 3 && parts[0].Contains('.', StringComparison.Ordinal))
        {
            resource = $"{parts[1]}.{parts[0]}"; // GROUP/PLURAL
            rest = 2;
        }
        else if (parts.Length >= 2)
        {
            resource = BuiltInStoreNames.TryGetValue(parts[0], out var name) ? name : parts[0];
            rest = 1;
        }
        else
        {
            return null;
        }

        return (parts.Length - rest) switch
        {
            1 when parts[rest].Length > 0 => new ObjectKey(resource, null, parts[rest]),
            2 when parts[rest].Length > 0 && parts[rest + 1].Length > 0 => new ObjectKey(resource, parts[rest], parts[rest + 1]),
            _ => null,
        };
    }

    private static string Segment(string resource)
    {
        if (BuiltInSegments.TryGetValue(resource, out var segment))
        {
            return segment;
        }

        int dot = resource.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? resource : $"{resource[(dot + 1)..]}/{resource[..dot]}";
    }

    private static Dictionary<string, string> BuildSegments()
    {
        var stored = ResourceType.Stores.ToList();
        var plurals = stored.GroupBy(t => t.Plural, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var segments = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in stored)
        {
            bool builtIn = t.Group.Length == 0 || !t.Group.Contains('.', StringComparison.Ordinal) || t.Group.EndsWith(".k8s.io", StringComparison.Ordinal);
            segments[t.StoreName] = t.Group.Length == 0 || (builtIn && plurals[t.Plural] == 1) ? t.Plural : $"{t.Group}/{t.Plural}";
        }

        return segments;
    }
}
