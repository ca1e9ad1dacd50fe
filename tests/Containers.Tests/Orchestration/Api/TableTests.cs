using System.Text.Json.Nodes;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration.Api;

/// <summary>The columns of <c>kubectl get</c> (server-side printing), per kind, as kubectl's printers fill them.</summary>
public sealed class TableTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static JsonArray Row(ResourceType type, string obj) =>
        (JsonArray)Tables.Build(type, [JsonNode.Parse(obj)!.AsObject()], "1", Now, includeObject: false)["rows"]![0]!["cells"]!;

    private static string[] Headers(ResourceType type) =>
        [.. ((JsonArray)Tables.Build(type, [], "1", Now, includeObject: false)["columnDefinitions"]!).Where(c => (int)c!["priority"]! == 0).Select(c => (string)c!["name"]!)];

    [Theory]
    [InlineData("Pending", """{"status":{"phase":"Pending"}}""")]
    [InlineData("Running", """{"status":{"phase":"Running","containerStatuses":[{"ready":true,"state":{"running":{}}}]}}""")]
    [InlineData("CrashLoopBackOff", """{"status":{"phase":"Running","containerStatuses":[{"state":{"waiting":{"reason":"CrashLoopBackOff"}}}]}}""")]
    [InlineData("Completed", """{"status":{"phase":"Succeeded","containerStatuses":[{"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}""")]
    [InlineData("ExitCode:3", """{"status":{"phase":"Failed","containerStatuses":[{"state":{"terminated":{"exitCode":3}}}]}}""")]
    [InlineData("Signal:9", """{"status":{"phase":"Failed","containerStatuses":[{"state":{"terminated":{"exitCode":137,"signal":9}}}]}}""")]
    [InlineData("Init:0/1", """{"spec":{"initContainers":[{"name":"i"}]},"status":{"phase":"Pending","initContainerStatuses":[{"state":{"running":{}}}]}}""")]
    [InlineData("Init:Error", """{"spec":{"initContainers":[{"name":"i"}]},"status":{"phase":"Pending","initContainerStatuses":[{"state":{"terminated":{"exitCode":1,"reason":"Error"}}}]}}""")]
    [InlineData("Terminating", """{"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"},"status":{"phase":"Running"}}""")]
    [InlineData("Unknown", """{"metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"},"status":{"phase":"Running","reason":"NodeLost"}}""")]
    public void A_pods_status_column_is_worked_out_as_kubectl_does(string status, string pod) =>
        Assert.Equal(status, (string?)Row(ResourceType.Pods, pod)[2]);

    [Fact]
    public void Each_kind_has_kubectls_columns()
    {
        Assert.Equal(["Name", "Ready", "Status", "Restarts", "Age"], Headers(ResourceType.Pods));
        Assert.Equal(["Name", "Ready", "Up-to-date", "Available", "Age"], Headers(ResourceType.Deployments));
        Assert.Equal(["Name", "Desired", "Current", "Ready", "Age"], Headers(ResourceType.ReplicaSets));
        Assert.Equal(["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"], Headers(ResourceType.Services));
        Assert.Equal(["Name", "Status", "Roles", "Age", "Version"], Headers(ResourceType.Nodes));
        Assert.Equal(["Name", "Data", "Age"], Headers(ResourceType.ConfigMaps));
        Assert.Equal(["Name", "Type", "Data", "Age"], Headers(ResourceType.Secrets));
        Assert.Equal(["Name", "Secrets", "Age"], Headers(ResourceType.Find("", "serviceaccounts")!));
    }

    [Theory]
    [InlineData("""{"spec":{"type":"ClusterIP","clusterIP":"10.96.0.11","ports":[{"port":80,"protocol":"TCP"}]}}""", "80/TCP")]
    [InlineData("""{"spec":{"type":"NodePort","clusterIP":"10.96.0.12","ports":[{"port":80,"nodePort":30100,"protocol":"TCP"},{"port":53,"nodePort":30053,"protocol":"UDP"}]}}""", "80:30100/TCP,53:30053/UDP")]
    [InlineData("""{"spec":{"type":"ClusterIP","clusterIP":"None"}}""", "<none>")]
    public void A_services_ports_column(string service, string ports) =>
        Assert.Equal(ports, (string?)Row(ResourceType.Services, service)[4]);

    [Theory]
    [InlineData("""{"metadata":{"creationTimestamp":"2026-01-01T11:59:30Z"}}""", "30s")]
    [InlineData("""{"metadata":{"creationTimestamp":"2026-01-01T11:55:00Z"}}""", "5m")]
    [InlineData("""{"metadata":{"creationTimestamp":"2026-01-01T09:00:00Z"}}""", "3h")]
    [InlineData("""{"metadata":{}}""", "<unknown>")]
    public void Age_is_printed_as_kubectl_prints_it(string obj, string age) =>
        Assert.Equal(age, (string?)Row(ResourceType.ConfigMaps, obj)[2]);

    [Fact]
    public void Rows_carry_the_objects_metadata_or_the_whole_object()
    {
        var cm = JsonNode.Parse("""{"metadata":{"name":"c"},"data":{"a":"1"}}""")!.AsObject();
        var partial = Tables.Build(ResourceType.ConfigMaps, [cm], "7", Now, includeObject: false);
        Assert.Equal("PartialObjectMetadata", (string?)partial["rows"]![0]!["object"]!["kind"]);
        Assert.Equal("7", (string?)partial["metadata"]!["resourceVersion"]);
        var whole = Tables.Build(ResourceType.ConfigMaps, [cm], "7", Now, includeObject: true);
        Assert.Equal("1", (string?)whole["rows"]![0]!["object"]!["data"]!["a"]);
        Assert.Equal(1, (int)whole["rows"]![0]!["cells"]![1]!);
    }
}
