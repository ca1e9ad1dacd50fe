using System.Text.RegularExpressions;
using Containers.Orchestration.Api.Kinds;

namespace Containers.Orchestration.Api;

/// <summary>
/// The API server's admission for every kind: the metadata's validation (name, labels), then the kind's own defaults
/// and validation from its <see cref="KindStrategy"/>. Errors are one 422 naming every field.
/// </summary>
internal static partial class Admission
{
    /// <summary>A lowercase RFC 1123 label.</summary>
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    internal static partial Regex DnsLabel();

    /// <summary>A lowercase RFC 1123 subdomain.</summary>
    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    internal static partial Regex DnsSubdomain();

    /// <summary>A ConfigMap or Secret key.</summary>
    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    internal static partial Regex ConfigKey();

    [GeneratedRegex("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();

    /// <summary>Fills in what kube-apiserver defaults for the kind.</summary>
    public static void Default(ResourceType type, JsonObject obj, ObjectApi api) => type.Strategy.Default(obj, api);

    /// <summary>Validates an object about to be stored; <paramref name="old"/> is the current one on update. Throws 422 naming the fields.</summary>
    public static void Validate(ResourceType type, JsonObject obj, JsonObject? old)
    {
        var errors = new List<(string, string)>();
        string name = Json.Name(obj);
        bool label = type.Strategy.Names == NameRule.Label;
        if (name.Length == 0)
        {
            errors.Add(("metadata.name", "Required value: name or generateName is required"));
        }
        else if (type.Strategy.Names == NameRule.PathSegment)
        {
            if (name is "." or ".." || name.Contains('/', StringComparison.Ordinal) || name.Contains('%', StringComparison.Ordinal))
            {
                errors.Add(("metadata.name", $"Invalid value: \"{name}\": may not be '.' or '..' and may not contain '/' or '%'"));
            }
        }
        else if (label ? !DnsLabel().IsMatch(name) || name.Length > 63 : !DnsSubdomain().IsMatch(name) || name.Length > 253)
        {
            errors.Add(("metadata.name", $"Invalid value: \"{name}\": a lowercase RFC 1123 {(label ? "label" : "subdomain")} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"));
        }

        foreach (var (k, v) in Json.Labels(obj))
        {
            if (v.Length > 63 || !LabelValue().IsMatch(v))
            {
                errors.Add(($"metadata.labels", $"Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"));
            }

            if (k.Length == 0 || k.Length > 317)
            {
                errors.Add(("metadata.labels", $"Invalid value: \"{k}\": name part must be non-empty and at most 63 characters"));
            }
        }

        type.Strategy.Validate(obj, old, errors);
        if (errors.Count > 0)
        {
            throw ApiException.Invalid(type, name, errors);
        }
    }
}
