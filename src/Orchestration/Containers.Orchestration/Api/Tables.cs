namespace Containers.Orchestration.Api;

/// <summary>The server-side printing kubectl asks for (<c>Accept: application/json;as=Table;g=meta.k8s.io;v=v1</c>): the columns of <c>kubectl get</c>, as each kind's strategy declares them.</summary>
internal static class Tables
{
    /// <summary>The Table of <paramref name="items"/>; rows carry the whole object when <paramref name="includeObject"/>, else its metadata.</summary>
    public static JsonObject Build(ResourceType type, IEnumerable<JsonObject> items, string? resourceVersion, DateTimeOffset now, bool includeObject, bool headers = true)
    {
        var columns = type.Strategy.Columns;
        var rows = new JsonArray();
        foreach (var item in items)
        {
            var cells = new JsonArray();
            foreach (var c in columns)
            {
                cells.Add(c.Cell(item, now));
            }

            rows.Add((JsonNode)new JsonObject
            {
                ["cells"] = cells,
                ["object"] = includeObject ? Json.Clone(item) : new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = "meta.k8s.io/v1",
                    ["metadata"] = item["metadata"]?.DeepClone(),
                },
            });
        }

        return new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/v1",
            ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
            ["columnDefinitions"] = headers
                ? new JsonArray([.. columns.Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["type"] = c.Type, ["format"] = c.Format, ["description"] = c.Name, ["priority"] = c.Priority })])
                : null,
            ["rows"] = rows,
        };
    }
}
