using System.Text;
using System.Text.RegularExpressions;
using Containers.Helm.Charts;
using Containers.Helm.Functions;
using Containers.Helm.Templates;

namespace Containers.Helm.Engine;

/// <summary><c>.Files</c>: the chart's files, with Get, GetBytes, Glob, Lines, AsConfig and AsSecrets (Helm's engine.files).</summary>
public sealed class ChartFiles(IReadOnlyList<ChartFile> files) : ITemplateObject
{
    /// <inheritdoc/>
    public string GoTypeName => "engine.files";

    /// <inheritdoc/>
    public bool TryGetField(string name, out object? value)
    {
        value = null;
        return false;
    }

    /// <inheritdoc/>
    public TemplateFunction? GetMethod(string name) => name switch
    {
        "Get" => new(name, [GoType.String], false, a => files.FirstOrDefault(f => f.Name == (string)a[0]!)?.Text ?? ""),
        "GetBytes" => new(name, [GoType.String], false, a => files.FirstOrDefault(f => f.Name == (string)a[0]!)?.Text ?? ""),
        "Glob" => new(name, [GoType.String], false, a => Glob((string)a[0]!)),
        "Lines" => new(name, [GoType.String], false, a => files.FirstOrDefault(f => f.Name == (string)a[0]!) is { } f ? f.Text.Split('\n').Cast<object?>().ToList() : new List<object?>()),
        "AsConfig" => new(name, [], false, _ => files.Count == 0 ? "" : ToYaml(files.ToDictionary(f => GoPath.Base(f.Name), f => (object?)f.Text, StringComparer.Ordinal))),
        "AsSecrets" => new(name, [], false, _ => files.Count == 0 ? "" : ToYaml(files.ToDictionary(f => GoPath.Base(f.Name), f => (object?)Convert.ToBase64String(f.Data), StringComparer.Ordinal))),
        _ => null,
    };

    private ChartFiles Glob(string pattern)
    {
        var regex = new Regex("^" + GlobRegex(pattern) + "$", RegexOptions.CultureInvariant);
        return new ChartFiles(files.Where(f => regex.IsMatch(f.Name)).ToList());
    }

    private static string GlobRegex(string pattern)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*' && i + 1 < pattern.Length && pattern[i + 1] == '*')
            {
                sb.Append(".*");
                i++;
            }
            else if (c == '*')
            {
                sb.Append("[^/]*");
            }
            else if (c == '?')
            {
                sb.Append("[^/]");
            }
            else if (c == '{')
            {
                int close = pattern.IndexOf('}', i);
                if (close > i)
                {
                    sb.Append("(?:").Append(string.Join("|", pattern[(i + 1)..close].Split(',').Select(GlobRegex))).Append(')');
                    i = close;
                    continue;
                }

                sb.Append(Regex.Escape("{"));
            }
            else if (c == '[')
            {
                int close = pattern.IndexOf(']', i);
                if (close > i)
                {
                    sb.Append('[').Append(pattern[(i + 1)..close].Replace("!", "^", StringComparison.Ordinal)).Append(']');
                    i = close;
                    continue;
                }

                sb.Append(Regex.Escape("["));
            }
            else
            {
                sb.Append(Regex.Escape(c.ToString()));
            }
        }

        return sb.ToString();
    }

    private static string ToYaml(Dictionary<string, object?> map) => GoYaml.Serialize(map).TrimEnd('\n');

    /// <inheritdoc/>
    public override string ToString() => "map[" + string.Join(" ", files.Select(f => f.Name + ":[" + string.Join(" ", f.Data) + "]")) + "]";
}

/// <summary><c>.Capabilities</c>: the cluster's Kubernetes version, its API versions (with Has), and Helm's version.</summary>
public sealed class Capabilities(string kubeVersion, IReadOnlyCollection<string> apiVersions) : ITemplateObject
{
    /// <summary>The version Helm assumes without a cluster (helm template), and the API versions it knows.</summary>
    public static Capabilities Default => new("v1.32.0", DefaultApiVersions);

    /// <summary>The group/versions and group/version/kinds a Kubernetes 1.32 cluster serves.</summary>
    public static IReadOnlyCollection<string> DefaultApiVersions { get; } =
    [
        "v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
        "storage.k8s.io/v1", "apiextensions.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1", "events.k8s.io/v1",
        "scheduling.k8s.io/v1", "admissionregistration.k8s.io/v1", "certificates.k8s.io/v1", "node.k8s.io/v1", "apiregistration.k8s.io/v1",
        "authentication.k8s.io/v1", "authorization.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1",
        "apps/v1/Deployment", "apps/v1/StatefulSet", "apps/v1/DaemonSet", "apps/v1/ReplicaSet", "batch/v1/Job", "batch/v1/CronJob",
        "networking.k8s.io/v1/Ingress", "networking.k8s.io/v1/IngressClass", "networking.k8s.io/v1/NetworkPolicy", "policy/v1/PodDisruptionBudget",
        "autoscaling/v2/HorizontalPodAutoscaler", "v1/Service", "v1/ConfigMap", "v1/Secret", "v1/Pod", "v1/ServiceAccount", "v1/PersistentVolumeClaim",
    ];

    /// <summary>The Kubernetes version (v1.32.0).</summary>
    public string KubeVersion { get; } = kubeVersion;

    /// <inheritdoc/>
    public string GoTypeName => "*chartutil.Capabilities";

    /// <inheritdoc/>
    public bool TryGetField(string name, out object? value)
    {
        value = name switch
        {
            "KubeVersion" => new KubeVersionObject(KubeVersion),
            "APIVersions" => new VersionSet(apiVersions),
            "HelmVersion" => new Dictionary<string, object?>(StringComparer.Ordinal) { ["Version"] = "v3.16.0", ["GitCommit"] = "", ["GitTreeState"] = "", ["GoVersion"] = "go1.22" },
            _ => null,
        };
        return value is not null;
    }

    /// <inheritdoc/>
    public TemplateFunction? GetMethod(string name) => null;

    private sealed class KubeVersionObject(string version) : ITemplateObject
    {
        public string GoTypeName => "chartutil.KubeVersion";

        public bool TryGetField(string name, out object? value)
        {
            var parts = version.TrimStart('v').Split('.', '-', '+');
            value = name switch
            {
                "Version" or "GitVersion" => version,
                "Major" => parts[0],
                "Minor" => parts.Length > 1 ? parts[1] : "0",
                _ => null,
            };
            return value is not null;
        }

        public TemplateFunction? GetMethod(string name) => name == "String" ? new(name, [], false, _ => version) : null;

        public override string ToString() => version;
    }

    private sealed class VersionSet(IReadOnlyCollection<string> versions) : ITemplateObject, System.Collections.IList
    {
        private readonly List<object?> items = versions.Cast<object?>().ToList();

        public string GoTypeName => "chartutil.VersionSet";

        public bool TryGetField(string name, out object? value)
        {
            value = null;
            return false;
        }

        public TemplateFunction? GetMethod(string name) => name == "Has" ? new(name, [GoType.String], false, a => versions.Contains((string)a[0]!)) : null;

        public object? this[int index] { get => items[index]; set => throw new NotSupportedException(); }

        public bool IsFixedSize => true;

        public bool IsReadOnly => true;

        public int Count => items.Count;

        public bool IsSynchronized => false;

        public object SyncRoot => items;

        public int Add(object? value) => throw new NotSupportedException();

        public void Clear() => throw new NotSupportedException();

        public bool Contains(object? value) => items.Contains(value);

        public void CopyTo(Array array, int index) => ((System.Collections.ICollection)items).CopyTo(array, index);

        public System.Collections.IEnumerator GetEnumerator() => items.GetEnumerator();

        public int IndexOf(object? value) => items.IndexOf(value);

        public void Insert(int index, object? value) => throw new NotSupportedException();

        public void Remove(object? value) => throw new NotSupportedException();

        public void RemoveAt(int index) => throw new NotSupportedException();
    }
}
