using System.Text;

namespace Containers.Orchestration.Api.Kinds;

/// <summary>Secret (v1): type Opaque, stringData folded into data as base64; keys and base64 values validated.</summary>
internal sealed class SecretStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("", "v1", "Secret", "secrets", true) { Strategy = new SecretStrategy() };

    /// <inheritdoc/>
    public override void Default(JsonObject obj, ObjectApi api)
    {
        obj["type"] ??= "Opaque";
        if (obj["stringData"] is JsonObject stringData)
        {
            var data = Json.Obj(obj, "data");
            foreach (var (k, v) in stringData)
            {
                data[k] = Convert.ToBase64String(Encoding.UTF8.GetBytes(v?.GetValue<string>() ?? ""));
            }

            obj.Remove("stringData");
        }
    }

    /// <inheritdoc/>
    public override void Validate(JsonObject obj, JsonObject? old, List<(string Field, string Message)> errors)
    {
        ConfigData.ValidateKeys(obj, errors);
        if (Json.At(obj, "data") is JsonObject secretData)
        {
            foreach (var (k, v) in secretData)
            {
                if (v is not JsonValue sv || !sv.TryGetValue(out string? b64) || !IsBase64(b64))
                {
                    errors.Add(($"data[{k}]", "Invalid value: must be base64 encoded"));
                }
            }
        }
    }

    private static bool IsBase64(string s)
    {
        Span<byte> buffer = new byte[s.Length];
        return Convert.TryFromBase64String(s, buffer, out _);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } =
    [
        TableColumn.ObjectName,
        TableColumn.Text("Type", "type"),
        new("Data", "integer", 0, (o, _) => (Json.At(o, "data") as JsonObject)?.Count ?? 0),
        TableColumn.ObjectAge,
    ];
}
