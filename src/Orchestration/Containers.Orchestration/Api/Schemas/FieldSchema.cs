namespace Containers.Orchestration.Api;

/// <summary>How the API server treats fields its kinds do not have (the <c>fieldValidation</c> query parameter).</summary>
public enum FieldValidation
{
    /// <summary>Drop them silently.</summary>
    Ignore,

    /// <summary>Drop them and say so in a <c>Warning</c> header (kube-apiserver's default).</summary>
    Warn,

    /// <summary>Refuse the request (400, "strict decoding error: unknown field ..."), as kubectl asks by default.</summary>
    Strict,
}

/// <summary>
/// The fields of the kinds served, from their schemas (<see cref="KindSchemas"/>), for <c>fieldValidation</c>: a
/// field an object's kind does not have is reported with its path as kube-apiserver's strict decoder names it
/// (<c>spec.template.spec.containers[0].imagePullPolcy</c>) and is dropped unless the request is refused. The status is
/// not checked (writes through the main resource keep the stored one); fields the models leave free-form
/// (RawExtension, preserve-unknown-fields) take anything.
/// </summary>
public static class FieldSchema
{
    // per definition, per field: "" a scalar (its value is not checked), "*" anything below, "{}" a map with free
    // keys, "T" an object of definition T, "[T]" an array of T, "[]" an array of scalars
    private static readonly Lazy<Dictionary<string, Dictionary<string, string>>> Types = new(Derive);

    /// <summary>Parses <c>fieldValidation</c> (Ignore, Warn or Strict; absent: <paramref name="absent"/>); anything else is a 400.</summary>
    public static FieldValidation ParseMode(string? value, FieldValidation absent = FieldValidation.Warn) => value switch
    {
        null or "" => absent,
        "Ignore" => FieldValidation.Ignore,
        "Warn" => FieldValidation.Warn,
        "Strict" => FieldValidation.Strict,
        _ => throw ApiException.BadRequest($"fieldValidation parameter unsupported: {value} (Ignore, Warn or Strict)"),
    };

    /// <summary>
    /// Applies <paramref name="mode"/> to <paramref name="obj"/>: unknown fields are dropped (and their paths returned,
    /// for Warn), or refused with kube-apiserver's 400 for Strict.
    /// </summary>
    public static IReadOnlyList<string> Enforce(ResourceType type, JsonObject obj, FieldValidation mode)
    {
        var found = new List<string>();
        if (KindSchemas.NameOf(type) is { } schema)
        {
            Walk(obj, schema, "", found, prune: mode != FieldValidation.Strict, top: true);
        }

        if (found.Count > 0 && mode == FieldValidation.Strict)
        {
            throw ApiException.BadRequest(
                $"{type.Kind} in version \"{type.Version}\" cannot be handled as a {type.Kind}: strict decoding error: {string.Join(", ", found.Select(f => $"unknown field \"{f}\""))}");
        }

        return mode == FieldValidation.Warn ? found : [];
    }

    private static void Walk(JsonObject obj, string type, string path, List<string> found, bool prune, bool top = false)
    {
        var fields = Types.Value[type];
        List<string>? drop = null;
        foreach (var (name, value) in obj)
        {
            string at = path.Length == 0 ? name : path + "." + name;
            if (!fields.TryGetValue(name, out var spec))
            {
                found.Add(at);
                (drop ??= []).Add(name);
                continue;
            }

            if (value is null || spec.Length == 0 || spec is "*" or "{}" or "[]" || (top && name == "status"))
            {
                continue;
            }

            if (spec[0] == '[')
            {
                if (value is JsonArray items)
                {
                    string item = spec[1..^1];
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonObject element)
                        {
                            Walk(element, item, $"{at}[{i}]", found, prune);
                        }
                    }
                }
            }
            else if (value is JsonObject child)
            {
                Walk(child, spec, at, found, prune);
            }
        }

        if (prune && drop is not null)
        {
            foreach (var name in drop)
            {
                obj.Remove(name);
            }
        }
    }

    /// <summary>The field table of every schema: each property's kind of value, from its OpenAPI type.</summary>
    private static Dictionary<string, Dictionary<string, string>> Derive()
    {
        var types = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var schema in KindSchemas.Schemas.EnumerateObject())
        {
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            if (schema.Value.TryGetProperty("properties", out var properties))
            {
                foreach (var property in properties.EnumerateObject())
                {
                    fields[property.Name] = Spec(property.Value);
                }
            }

            types[schema.Name] = fields;
        }

        return types;
    }

    private static string Spec(JsonElement property)
    {
        if (KindSchemas.RefOf(property) is { } reference)
        {
            return reference;
        }

        if (property.TryGetProperty("x-kubernetes-preserve-unknown-fields", out var free) && free.ValueKind == JsonValueKind.True)
        {
            return "*";
        }

        return property.TryGetProperty("type", out var type) ? type.GetString() switch
        {
            "array" => property.TryGetProperty("items", out var items) && KindSchemas.RefOf(items) is { } item ? $"[{item}]" : "[]",
            "object" => "{}",
            _ => "",
        } : "";
    }
}
