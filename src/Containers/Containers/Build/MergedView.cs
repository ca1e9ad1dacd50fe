namespace Containers.Build;

/// <summary>
/// The file system an image's layers make together, read without mounting: a path resolves to the topmost layer
/// that has it, unless a whiteout or an opaque directory above hides it.
/// </summary>
internal sealed class MergedView(IReadOnlyList<string> layersTopFirst, ISyscalls sys)
{
    public IReadOnlyList<string> Layers => layersTopFirst;

    /// <summary>The host path of <paramref name="rel"/> in the merged view, or null when it does not exist.</summary>
    public string? Resolve(string rel)
    {
        rel = rel.Trim('/');
        if (rel.Length == 0)
        {
            return layersTopFirst.Count > 0 ? layersTopFirst[0] : null;
        }

        var parts = rel.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var layer in layersTopFirst)
        {
            var path = layer;
            for (var i = 0; i < parts.Length; i++)
            {
                path = Path.Combine(path, parts[i]);
                var st = sys.LStat(path);
                if (st is null)
                {
                    goto nextLayer;
                }

                if (st.Value.Type == FileStatus.CharDevice && st.Value.Device == 0)
                {
                    return null; // whited out
                }

                if (i == parts.Length - 1)
                {
                    return path;
                }

                if (!st.Value.IsDirectory)
                {
                    return null; // a file where a directory is needed
                }

                if (sys.LGetXattr(path, "trusted.overlay.opaque") is [(byte)'y'])
                {
                    // nothing below this directory comes from lower layers: only this layer can still have the rest
                    var rest = Path.Combine(path, Path.Combine(parts[(i + 1)..]));
                    return sys.LStat(rest) is { } r && !(r.Type == FileStatus.CharDevice && r.Device == 0) && AllDirs(path, parts[(i + 1)..^1]) ? rest : null;
                }
            }

        nextLayer:;
        }

        return null;
    }

    /// <summary>The names in directory <paramref name="rel"/> of the merged view, sorted.</summary>
    public IReadOnlyList<string> List(string rel)
    {
        rel = rel.Trim('/');
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var hidden = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in layersTopFirst)
        {
            var dir = rel.Length == 0 ? layer : Path.Combine(layer, rel);
            var st = sys.LStat(dir);
            if (st is null)
            {
                continue;
            }

            if (!st.Value.IsDirectory)
            {
                break;
            }

            foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
            {
                var name = Path.GetFileName(entry);
                if (hidden.Contains(name) || names.Contains(name))
                {
                    continue;
                }

                var es = sys.LStat(entry);
                if (es is { Type: FileStatus.CharDevice, Device: 0 })
                {
                    hidden.Add(name);
                }
                else
                {
                    names.Add(name);
                }
            }

            if (sys.LGetXattr(dir, "trusted.overlay.opaque") is [(byte)'y'])
            {
                break;
            }
        }

        return [.. names];
    }

    private bool AllDirs(string start, string[] parts)
    {
        var path = start;
        foreach (var p in parts)
        {
            path = Path.Combine(path, p);
            if (sys.LStat(path) is not { IsDirectory: true })
            {
                return false;
            }
        }

        return true;
    }
}
