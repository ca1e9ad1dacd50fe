using Containers.Orchestration;

namespace Containers.Tests.Orchestration;

/// <summary><c>kubectl explain</c> and the OpenAPI documents, from the kinds' schemas (one source: the KubernetesClient models).</summary>
public sealed class ExplainTests : RecordedCluster
{
    [Fact]
    public async Task Explain_prints_a_nested_field_as_kube_apiserver_documents_it()
    {
        var k = new Kubectl(Cluster.KubeconfigPath);
        string text = await k.RunAsync("explain", "deployment.spec.strategy.rollingUpdate");
        Assert.Contains("KIND:       Deployment", text, StringComparison.Ordinal);
        Assert.Contains("FIELD: rollingUpdate <RollingUpdateDeployment>", text, StringComparison.Ordinal);
        Assert.Contains("maxSurge\t<IntOrString>", text, StringComparison.Ordinal);
        Assert.Contains("The maximum number of pods that can be scheduled above the desired number of", text, StringComparison.Ordinal);

        string limits = await k.RunAsync("explain", "pods.spec.containers.resources");
        Assert.Contains("limits\t<map[string]Quantity>", limits, StringComparison.Ordinal);
        Assert.Contains("FIELD: resources <ResourceRequirements>", limits, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Explain_works_for_every_kind_served()
    {
        var k = new Kubectl(Cluster.KubeconfigPath);
        var kinds = (await k.RunAsync("api-resources", "--no-headers", "-o", "name")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(kinds.Length >= 14, string.Join(' ', kinds));
        // the metrics API's kinds are read-only views with no schema (kubectl also reads "nodes.metrics.k8s.io" as the
        // field path metrics.k8s.io of nodes, as against a cluster with metrics-server)
        foreach (string kind in kinds.Where(k => !k.EndsWith(".metrics.k8s.io", StringComparison.Ordinal)))
        {
            string text = await k.RunAsync("explain", kind);
            Assert.Contains("DESCRIPTION:", text, StringComparison.Ordinal);
            Assert.Contains("metadata\t<ObjectMeta>", text, StringComparison.Ordinal);
        }

        Assert.Contains("spec\t<ServiceSpec>", await k.RunAsync("explain", "svc"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_openapi_documents_carry_the_schemas()
    {
        using var http = Cluster.CreateAdminHttpClient();
        var index = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(Cluster.Url + "/openapi/v3"))!;
        string apps = (string)index["paths"]!["apis/apps/v1"]!["serverRelativeURL"]!;
        var v3 = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(Cluster.Url + apps))!;
        var deployment = v3["components"]!["schemas"]!["io.k8s.api.apps.v1.Deployment"]!;
        Assert.Equal("Deployment", (string?)deployment["x-kubernetes-group-version-kind"]![0]!["kind"]);
        Assert.NotNull(deployment["properties"]!["spec"]);

        var v2 = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync(Cluster.Url + "/openapi/v2"))!;
        Assert.Equal("#/definitions/io.k8s.api.core.v1.PodSpec", (string?)v2["definitions"]!["io.k8s.api.core.v1.Pod"]!["properties"]!["spec"]!["allOf"]![0]!["$ref"]);
        using var protobuf = new HttpRequestMessage(HttpMethod.Get, Cluster.Url + "/openapi/v2");
        protobuf.Headers.TryAddWithoutValidation("Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
        Assert.Equal(System.Net.HttpStatusCode.NotAcceptable, (await http.SendAsync(protobuf)).StatusCode); // client-go then asks for JSON
    }
}
