using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Containers.Compose;

/// <summary>
/// YAML's merge key (<c>&lt;&lt;: *anchor</c>, or a list of anchors) as YAML 1.1's merge type and docker compose apply it:
/// keys set in the mapping itself win over merged ones, and among several merged mappings the first wins. YamlDotNet's
/// MergingParser instead repeats the merged keys into the mapping, so an explicit key that the anchor also has was
/// refused as a duplicate. Compiled into Containers.Compose and Containers.Orchestration (compose files and manifests).
/// </summary>
internal static class YamlMerge
{
    /// <summary>
    /// The entries of <paramref name="map"/> with its merge keys applied (explicit entries first, in order, then the
    /// merged ones it does not set). <paramref name="notAMapping"/> makes the error for a merge value that is not a
    /// mapping or a list of mappings.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<YamlNode, YamlNode>> Entries(YamlMappingNode map, Func<YamlNode, Exception> notAMapping)
    {
        List<YamlMappingNode>? merged = null;
        var entries = new List<KeyValuePair<YamlNode, YamlNode>>(map.Children.Count);
        foreach (var e in map.Children)
        {
            if (e.Key is YamlScalarNode { Value: "<<", Style: ScalarStyle.Plain or ScalarStyle.Any })
            {
                merged ??= [];
                switch (e.Value)
                {
                    case YamlMappingNode m:
                        merged.Add(m);
                        break;
                    case YamlSequenceNode s:
                        merged.AddRange(s.Children.Select(item => item as YamlMappingNode ?? throw notAMapping(item)));
                        break;
                    default:
                        throw notAMapping(e.Value);
                }
            }
            else
            {
                entries.Add(e);
            }
        }

        if (merged is null)
        {
            return entries;
        }

        var set = new HashSet<string>(entries.Select(e => (e.Key as YamlScalarNode)?.Value).OfType<string>(), StringComparer.Ordinal);
        foreach (var m in merged)
        {
            entries.AddRange(Entries(m, notAMapping).Where(e => e.Key is not YamlScalarNode { Value: { } k } || set.Add(k)));
        }

        return entries;
    }
}
