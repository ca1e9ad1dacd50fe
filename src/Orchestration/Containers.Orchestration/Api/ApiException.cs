namespace Containers.Orchestration.Api;

/// <summary>A request the API refuses, carried as Kubernetes' Status object (code, reason, message, causes naming fields).</summary>
public sealed class ApiException : ContainerException
{
    /// <summary>Creates the error.</summary>
    public ApiException(int code, string reason, string message, IReadOnlyList<(string Field, string Message)>? causes = null, JsonObject? details = null)
        : base(message)
    {
        Code = code;
        Reason = reason;
        Causes = causes ?? [];
        Details = details;
    }

    /// <summary>The HTTP status code.</summary>
    public int Code { get; }

    /// <summary>Kubernetes' reason (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Gone, MethodNotAllowed).</summary>
    public string Reason { get; }

    /// <summary>The fields at fault (for 422 Invalid).</summary>
    public IReadOnlyList<(string Field, string Message)> Causes { get; }

    /// <summary>details (name, group, kind) of the Status.</summary>
    public JsonObject? Details { get; }

    /// <summary>404 for an object.</summary>
    public static ApiException NotFound(ResourceType type, string name) =>
        new(404, "NotFound", $"{Qualified(type)} \"{name}\" not found", details: DetailsOf(type, name));

    /// <summary>409 for a name taken.</summary>
    public static ApiException AlreadyExists(ResourceType type, string name) =>
        new(409, "AlreadyExists", $"{Qualified(type)} \"{name}\" already exists", details: DetailsOf(type, name));

    /// <summary>409 for a stale resourceVersion.</summary>
    public static ApiException Conflict(ResourceType type, string name) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {Qualified(type)} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", details: DetailsOf(type, name));

    /// <summary>422 naming the fields.</summary>
    public static ApiException Invalid(ResourceType type, string name, IReadOnlyList<(string Field, string Message)> causes) =>
        new(422, "Invalid", $"{type.Kind}{(type.Group.Length > 0 ? "." + type.Group : "")} \"{name}\" is invalid: " + string.Join(", ", causes.Select(c => $"{c.Field}: {c.Message}")), causes, DetailsOf(type, name));

    /// <summary>400.</summary>
    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    /// <summary>The Status object.</summary>
    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
            ["code"] = Code,
        };
        var details = Details?.DeepClone() as JsonObject;
        if (Causes.Count > 0)
        {
            details ??= [];
            details["causes"] = new JsonArray([.. Causes.Select(c => (JsonNode)new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = c.Message, ["field"] = c.Field })]);
        }

        if (details is not null)
        {
            status["details"] = details;
        }

        return status;
    }

    private static string Qualified(ResourceType type) => type.Group.Length == 0 ? type.Plural : $"{type.Plural}.{type.Group}";

    private static JsonObject DetailsOf(ResourceType type, string name)
    {
        var d = new JsonObject { ["name"] = name, ["kind"] = type.Plural };
        if (type.Group.Length > 0)
        {
            d["group"] = type.Group;
        }

        return d;
    }
}
