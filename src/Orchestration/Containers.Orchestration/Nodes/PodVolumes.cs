using System.Text;

namespace Containers.Orchestration.Nodes;

/// <summary>A volume the node cannot provide (FailedMount).</summary>
public sealed class PodVolumeException(string message) : ContainerException(message);

/// <summary>
/// A pod's volumes on the node: emptyDir (a directory of the pod's), hostPath (created for DirectoryOrCreate and
/// FileOrCreate), configMap and secret (files written as the kubelet's atomic writer does: a timestamped directory,
/// <c>..data</c> pointing at it, a symlink per key, swapped in one rename on every change) and persistentVolumeClaim
/// (the bound volume's hostPath or local path), downwardAPI, and projected (secrets, ConfigMaps, the downward API and
/// a service-account token in one directory: the service-account volume every pod gets). Secrets, ConfigMaps and
/// claims are read as the node, so the Node authorizer decides.
/// </summary>
internal static partial class PodVolumes
{
    /// <summary>Makes every volume present and current; returns volume name → host path.</summary>
    public static Dictionary<string, string> Prepare(JsonObject pod, PodRecord rec, ObjectApi api, NodeReader reader)
    {
        // as the kubelet's volume manager: a pod's volumes are made once, and their contents (a ConfigMap or Secret
        // changed, a token due) looked at again at most every RefreshPeriod, not on every sync of the pod
        var now = api.Time.GetUtcNow();
        if (rec.PreparedVolumes is { } prepared && now - rec.VolumesRefreshedAt < RefreshPeriod)
        {
            return prepared;
        }

        var made = PrepareAll(pod, rec, api, reader);
        rec.PreparedVolumes = made;
        rec.VolumesRefreshedAt = now;
        return made;
    }

    /// <summary>How often the contents of a pod's configMap, secret and projected volumes are brought up to date.</summary>
    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(10);

    private static Dictionary<string, string> PrepareAll(JsonObject pod, PodRecord rec, ObjectApi api, NodeReader reader)
    {
        string podDirectory = rec.Directory;
        string ns = Json.Namespace(pod) ?? "default";
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in Json.ReadItems(pod, "spec", "volumes"))
        {
            string name = Json.Str(v, "name") ?? "";
            string dir = Path.Combine(podDirectory, "volumes", name);
            if (Json.At(v, "emptyDir") is not null)
            {
                Directory.CreateDirectory(dir);
                paths[name] = dir;
            }
            else if (Json.At(v, "hostPath") is JsonObject hp)
            {
                string path = Json.Str(hp, "path") ?? throw new PodVolumeException($"volume {name}: hostPath.path is required");
                switch (Json.Str(hp, "type") ?? "")
                {
                    case "DirectoryOrCreate":
                        Directory.CreateDirectory(path);
                        break;
                    case "FileOrCreate":
                        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                        if (!File.Exists(path))
                        {
                            File.WriteAllBytes(path, []);
                        }

                        break;
                    case "Directory" when !Directory.Exists(path):
                        throw new PodVolumeException($"MountVolume.SetUp failed for volume \"{name}\" : hostPath type check failed: {path} is not a directory");
                    case "File" when !File.Exists(path):
                        throw new PodVolumeException($"MountVolume.SetUp failed for volume \"{name}\" : hostPath type check failed: {path} is not a file");
                    case "" when !File.Exists(path) && !Directory.Exists(path):
                        Directory.CreateDirectory(path);
                        break;
                }

                paths[name] = path;
            }
            else if (Json.At(v, "configMap") is JsonObject cmv)
            {
                WriteAtomic(dir, ConfigMapFiles(reader, pod, cmv, name, "name"), rec);
                paths[name] = dir;
            }
            else if (Json.At(v, "secret") is JsonObject sv)
            {
                WriteAtomic(dir, SecretFiles(reader, pod, sv, name, "secretName"), rec);
                paths[name] = dir;
            }
            else if (Json.At(v, "downwardAPI") is JsonObject dv)
            {
                WriteAtomic(dir, DownwardFiles(pod, dv, name), rec);
                paths[name] = dir;
            }
            else if (Json.At(v, "projected") is JsonObject projected)
            {
                var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
                foreach (var source in Json.ReadItems(projected, "sources"))
                {
                    if (Json.At(source, "secret") is JsonObject ps)
                    {
                        Merge(files, SecretFiles(reader, pod, ps, name, "name"));
                    }
                    else if (Json.At(source, "configMap") is JsonObject pc)
                    {
                        Merge(files, ConfigMapFiles(reader, pod, pc, name, "name"));
                    }
                    else if (Json.At(source, "downwardAPI") is JsonObject pd)
                    {
                        Merge(files, DownwardFiles(pod, pd, name));
                    }
                    else if (Json.At(source, "serviceAccountToken") is JsonObject token)
                    {
                        string path = Json.Str(token, "path") ?? "token";
                        string key = name + "/" + path;
                        var made = reader.Token(pod, token, rec.Tokens.GetValueOrDefault(key));
                        rec.Tokens[key] = made;
                        files[path] = made.Token;
                    }
                }

                WriteAtomic(dir, files, rec);
                paths[name] = dir;
            }
            else if (Json.At(v, "persistentVolumeClaim") is JsonObject pvc)
            {
                string claim = Json.Str(pvc, "claimName") ?? "";
                var c = reader.Get(ResourceType.Claims, ns, claim, pod) ?? throw new PodVolumeException($"persistentvolumeclaim \"{claim}\" not found");
                string? volumeName = Json.Str(c, "spec", "volumeName");
                var pv = volumeName is null ? null : reader.Get(ResourceType.Volumes, "", volumeName, pod);
                if (pv is null || Json.Str(c, "status", "phase") != "Bound")
                {
                    throw new PodVolumeException($"persistentvolumeclaim \"{claim}\" is not bound");
                }

                if (Controllers.Replicated.Is(pv))
                {
                    paths[name] = rec.ReplicatedPaths.GetValueOrDefault(volumeName!) ?? throw new PodVolumeException($"volume \"{volumeName}\" is not attached to this node yet");
                    continue;
                }

                string path = Json.Str(pv, "spec", "hostPath", "path") ?? Json.Str(pv, "spec", "local", "path")
                    ?? throw new PodVolumeException($"persistentvolume \"{volumeName}\" is neither hostPath, local nor {Controllers.Replicated.Driver}");
                Directory.CreateDirectory(path);
                paths[name] = path;
            }
            else
            {
                throw new PodVolumeException($"volume \"{name}\": this volume type is not supported on this node (emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim are)");
            }
        }

        return paths;
    }

    /// <summary>The mounts of one container: (host path, container path, read-only), subPath resolved inside the volume.</summary>
    public static List<(string, string, bool)> Mounts(JsonObject container, IReadOnlyDictionary<string, string> volumes)
    {
        var mounts = new List<(string, string, bool)>();
        foreach (var m in Json.ReadItems(container, "volumeMounts"))
        {
            string name = Json.Str(m, "name") ?? "";
            string host = volumes.GetValueOrDefault(name) ?? throw new PodVolumeException($"volume \"{name}\" is not prepared");
            if (Json.Str(m, "subPath") is { Length: > 0 } sub)
            {
                if (sub.Split('/').Contains("..") || Path.IsPathRooted(sub))
                {
                    throw new PodVolumeException($"subPath \"{sub}\" must be a relative path without '..'");
                }

                host = Path.Combine(host, sub);
                if (!File.Exists(host))
                {
                    Directory.CreateDirectory(host);
                }
            }

            mounts.Add((host, Json.Str(m, "mountPath") ?? "/", Json.Bool(m, "readOnly") == true));
        }

        return mounts;
    }

    private static Dictionary<string, byte[]> ConfigMapFiles(NodeReader reader, JsonObject pod, JsonObject source, string volume, string nameField)
    {
        var cm = reader.Get(ResourceType.ConfigMaps, Json.Namespace(pod) ?? "default", Json.Str(source, nameField) ?? "", pod);
        if (cm is null && Json.Bool(source, "optional") != true)
        {
            throw new PodVolumeException($"MountVolume.SetUp failed for volume \"{volume}\" : configmap \"{Json.Str(source, nameField)}\" not found");
        }

        var files = Json.Map(cm, "data").ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetBytes(kv.Value), StringComparer.Ordinal);
        foreach (var (k, b64) in Json.Map(cm, "binaryData"))
        {
            files[k] = Convert.FromBase64String(b64);
        }

        return Select(files, source, volume);
    }

    private static Dictionary<string, byte[]> SecretFiles(NodeReader reader, JsonObject pod, JsonObject source, string volume, string nameField)
    {
        var secret = reader.Get(ResourceType.Secrets, Json.Namespace(pod) ?? "default", Json.Str(source, nameField) ?? "", pod);
        if (secret is null && Json.Bool(source, "optional") != true)
        {
            throw new PodVolumeException($"MountVolume.SetUp failed for volume \"{volume}\" : secret \"{Json.Str(source, nameField)}\" not found");
        }

        var files = Json.Map(secret, "data").ToDictionary(kv => kv.Key, kv => Convert.FromBase64String(kv.Value), StringComparer.Ordinal);
        return Select(files, source, volume);
    }

    /// <summary>The files of a downwardAPI volume or projection: each item's fieldRef (as the environment's) at its path.</summary>
    private static Dictionary<string, byte[]> DownwardFiles(JsonObject pod, JsonObject source, string volume)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var item in Json.ReadItems(source, "items"))
        {
            string path = Json.Str(item, "path") ?? "";
            if (path.Length == 0 || path.Split('/').Contains("..") || Path.IsPathRooted(path))
            {
                throw new PodVolumeException($"volume \"{volume}\": item path \"{path}\" must be relative without '..'");
            }

            string field = Json.Str(item, "fieldRef", "fieldPath") ?? throw new PodVolumeException($"volume \"{volume}\": item \"{path}\" needs a fieldRef");
            string value = field switch
            {
                "metadata.annotations" => string.Join("\n", Json.Map(pod, "metadata", "annotations").OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{kv.Value}\"")),
                "metadata.labels" => string.Join("\n", Json.Labels(pod).OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}=\"{kv.Value}\"")),
                _ => PodEnvironment.FieldRef(pod, field) ?? "",
            };
            files[path] = Encoding.UTF8.GetBytes(value);
        }

        return files;
    }

    private static void Merge(Dictionary<string, byte[]> into, Dictionary<string, byte[]> files)
    {
        foreach (var (k, v) in files)
        {
            into[k] = v;
        }
    }

    private static Dictionary<string, byte[]> Select(Dictionary<string, byte[]> files, JsonObject source, string volume)
    {
        if (Json.At(source, "items") is not JsonArray items)
        {
            return files;
        }

        var selected = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var item in items.OfType<JsonObject>())
        {
            string key = Json.Str(item, "key") ?? "";
            string path = Json.Str(item, "path") ?? key;
            if (path.Split('/').Contains("..") || Path.IsPathRooted(path))
            {
                throw new PodVolumeException($"volume \"{volume}\": item path \"{path}\" must be relative without '..'");
            }

            if (files.TryGetValue(key, out var data))
            {
                selected[path] = data;
            }
            else if (Json.Bool(source, "optional") != true)
            {
                throw new PodVolumeException($"volume \"{volume}\": key \"{key}\" not found");
            }
        }

        return selected;
    }

    /// <summary>
    /// Renames the symlink <paramref name="from"/> over <paramref name="to"/> in one step (rename(2)). File.Move cannot:
    /// it refuses a source that is a link to a directory ("Could not find file").
    /// </summary>
    private static void ReplaceLink(string from, string to)
    {
        if (rename(from, to) != 0)
        {
            throw new IOException($"rename {from} to {to}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }
    }

    // the one call the BCL has no form of here (Tmds.LibC 0.5.0 lacks it too): rename(2) of a link to a directory
    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int rename(string oldpath, string newpath);

    /// <summary>The kubelet's atomic writer: files in a fresh ..TIMESTAMP directory, ..data swapped to it by rename, a symlink per top-level name.</summary>
    internal static void WriteAtomic(string dir, Dictionary<string, byte[]> files, PodRecord rec)
    {
        // what this agent last wrote there: unchanged content costs a hash, not a read of every file
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (path, data) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(path + "\0" + data.Length.ToString(CultureInfo.InvariantCulture) + "\0"));
            hash.AppendData(data);
        }

        byte[] digest = hash.GetHashAndReset();
        string name = Path.GetFileName(dir);
        if (rec.VolumeDigests.TryGetValue(name, out var last) && last.AsSpan().SequenceEqual(digest) && Directory.Exists(Path.Combine(dir, "..data")))
        {
            return;
        }

        WriteAtomic(dir, files);
        rec.VolumeDigests[name] = digest;
    }

    internal static void WriteAtomic(string dir, Dictionary<string, byte[]> files)
    {
        Directory.CreateDirectory(dir);
        string dataLink = Path.Combine(dir, "..data");
        if (Directory.Exists(dataLink))
        {
            // unchanged: nothing to do
            var current = Directory.EnumerateFiles(dataLink, "*", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(dataLink, f), File.ReadAllBytes, StringComparer.Ordinal);
            if (current.Count == files.Count && files.All(f => current.TryGetValue(f.Key, out var b) && b.AsSpan().SequenceEqual(f.Value)))
            {
                return;
            }
        }

        string stamp = $"..{DateTime.UtcNow:yyyy_MM_dd_HH_mm_ss.fffffff}";
        string target = Path.Combine(dir, stamp);
        Directory.CreateDirectory(target);
        foreach (var (path, data) in files)
        {
            string file = Path.Combine(target, path);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllBytes(file, data);
        }

        string old = Directory.Exists(dataLink) ? new FileInfo(dataLink).LinkTarget ?? "" : "";
        string tmp = Path.Combine(dir, "..data_tmp");
        if (File.Exists(tmp) || Directory.Exists(tmp))
        {
            File.Delete(tmp);
        }

        File.CreateSymbolicLink(tmp, stamp);
        ReplaceLink(tmp, dataLink);
        foreach (string top in files.Keys.Select(k => k.Split('/')[0]).Distinct(StringComparer.Ordinal))
        {
            string link = Path.Combine(dir, top);
            if (!File.Exists(link) && !Directory.Exists(link))
            {
                File.CreateSymbolicLink(link, Path.Combine("..data", top));
            }
        }

        if (old.Length == 0)
        {
            return; // a first write: nothing older to remove
        }

        // names no longer present go, then the old version
        foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos().Where(e => !e.Name.StartsWith("..", StringComparison.Ordinal) && !files.Keys.Any(k => k.Split('/')[0] == e.Name)))
        {
            entry.Delete();
        }

        if (old.Length > 0 && old != stamp && Directory.Exists(Path.Combine(dir, old)))
        {
            Directory.Delete(Path.Combine(dir, old), recursive: true);
        }
    }
}
