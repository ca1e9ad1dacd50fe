namespace Containers.Orchestration.Api.Kinds;

/// <summary>The validation ConfigMap and Secret share: keys of data and binaryData.</summary>
internal static class ConfigData
{
    /// <summary>Adds an error for each key of data or binaryData that is not a valid config key.</summary>
    public static void ValidateKeys(JsonObject obj, List<(string, string)> errors)
    {
        foreach (string field in new[] { "data", "binaryData" })
        {
            foreach (var (k, _) in Json.At(obj, field) as JsonObject ?? [])
            {
                if (!Admission.ConfigKey().IsMatch(k) || k.Length > 253)
                {
                    errors.Add(($"{field}[{k}]", $"Invalid value: \"{k}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"));
                }
            }
        }
    }
}
