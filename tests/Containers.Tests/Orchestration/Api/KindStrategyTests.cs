using System.Text.Json.Nodes;
using Containers.Orchestration.Api;
using Containers.Orchestration.Storage;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration.Api;

/// <summary>Each kind's defaults and validation (its strategy), through the generic store as kube-apiserver applies them: tables of object, field, value.</summary>
public sealed class KindStrategyTests : IAsyncLifetime
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-tests-kinds-" + Guid.NewGuid().ToString("N")[..8]);
    private EmbeddedObjectStore? store;
    private ObjectApi api = null!;

    public Task InitializeAsync()
    {
        store = EmbeddedObjectStore.Open(dir);
        api = new ObjectApi(store);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await store!.DisposeAsync();
        Directory.Delete(dir, recursive: true);
    }

    private const string Pod = """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"web:v1","ports":[{"containerPort":80}],"readinessProbe":{"httpGet":{"port":80}}}]}}""";
    private const string Deployment = """{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"web"}]}}}}""";

    [Theory]
    [InlineData("pods", Pod, "spec.restartPolicy", "Always")]
    [InlineData("pods", Pod, "spec.dnsPolicy", "ClusterFirst")]
    [InlineData("pods", Pod, "spec.terminationGracePeriodSeconds", "30")]
    [InlineData("pods", Pod, "spec.schedulerName", "default-scheduler")]
    [InlineData("pods", Pod, "spec.containers.0.imagePullPolicy", "IfNotPresent")]
    [InlineData("pods", Pod, "spec.containers.0.ports.0.protocol", "TCP")]
    [InlineData("pods", Pod, "spec.containers.0.readinessProbe.periodSeconds", "10")]
    [InlineData("pods", Pod, "spec.containers.0.readinessProbe.httpGet.path", "/")]
    [InlineData("pods", Pod, "spec.tolerations.0.key", "node.kubernetes.io/not-ready")]
    [InlineData("pods", Pod, "spec.tolerations.1.tolerationSeconds", "300")]
    [InlineData("pods", Pod, "status.phase", "Pending")]
    [InlineData("pods", Pod, "status.qosClass", "BestEffort")]
    [InlineData("pods", Pod, "metadata.generation", "1")]
    [InlineData("deployments", Deployment, "spec.replicas", "1")]
    [InlineData("deployments", Deployment, "spec.revisionHistoryLimit", "10")]
    [InlineData("deployments", Deployment, "spec.progressDeadlineSeconds", "600")]
    [InlineData("deployments", Deployment, "spec.strategy.type", "RollingUpdate")]
    [InlineData("deployments", Deployment, "spec.strategy.rollingUpdate.maxSurge", "25%")]
    [InlineData("deployments", Deployment, "spec.template.spec.containers.0.imagePullPolicy", "Always")]
    [InlineData("replicasets", Deployment, "spec.replicas", "1")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}}""", "spec.type", "ClusterIP")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}}""", "spec.ports.0.targetPort", "80")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"ports":[{"port":80}]}}""", "spec.clusterIP", "10.96.0.11")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"type":"NodePort","ports":[{"port":80}]}}""", "spec.externalTrafficPolicy", "Cluster")]
    [InlineData("secrets", """{"metadata":{"name":"s"},"stringData":{"k":"hi"}}""", "data.k", "aGk=")]
    [InlineData("secrets", """{"metadata":{"name":"s"}}""", "type", "Opaque")]
    [InlineData("namespaces", """{"metadata":{"name":"n"}}""", "spec.finalizers.0", "kubernetes")]
    [InlineData("namespaces", """{"metadata":{"name":"n"}}""", "status.phase", "Active")]
    [InlineData("persistentvolumeclaims", """{"metadata":{"name":"c"},"spec":{}}""", "status.phase", "Pending")]
    [InlineData("persistentvolumes", """{"metadata":{"name":"v"},"spec":{}}""", "spec.persistentVolumeReclaimPolicy", "Retain")]
    public void A_kind_is_defaulted_on_create(string plural, string obj, string field, string value)
    {
        var type = ResourceType.Find(plural == "deployments" || plural == "replicasets" ? "apps" : "", plural)!;
        var created = api.Create(type, type.Namespaced ? "default" : null, JsonNode.Parse(obj)!.AsObject());
        JsonNode? at = created;
        foreach (string step in field.Split('.'))
        {
            at = int.TryParse(step, out int i) ? at?[i] : at?[step];
        }

        Assert.Equal(value, at is JsonValue v && v.TryGetValue(out string? s) ? s : at?.ToJsonString());
    }

    [Theory]
    [InlineData("pods", """{"metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"c","image":"x"}]}}""", "metadata.name")]
    [InlineData("pods", """{"metadata":{"name":"p"},"spec":{"containers":[]}}""", "spec.containers")]
    [InlineData("pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]}}""", "spec.containers[0].image")]
    [InlineData("pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"},{"name":"c","image":"y"}]}}""", "spec.containers[1].name")]
    [InlineData("pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x","ports":[{"containerPort":70000}]}]}}""", "spec.containers[0].ports[0].containerPort")]
    [InlineData("pods", """{"metadata":{"name":"p"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"c","image":"x"}]}}""", "spec.restartPolicy")]
    [InlineData("pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x","volumeMounts":[{"name":"v","mountPath":"/v"}]}]}}""", "spec.containers[0].volumeMounts[0].name")]
    [InlineData("pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x","resources":{"limits":{"cpu":"lots"}}}]}}""", "spec.containers[0].resources.limits[cpu]")]
    [InlineData("pods", """{"metadata":{"name":"p","labels":{"a":"not valid!"}},"spec":{"containers":[{"name":"c","image":"x"}]}}""", "metadata.labels")]
    [InlineData("deployments", """{"metadata":{"name":"d"},"spec":{"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}""", "spec.selector")]
    [InlineData("deployments", """{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}""", "spec.template.metadata.labels")]
    [InlineData("deployments", """{"metadata":{"name":"d"},"spec":{"strategy":{"type":"Blue"},"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}""", "spec.strategy.type")]
    [InlineData("deployments", """{"metadata":{"name":"d"},"spec":{"replicas":-1,"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}""", "spec.replicas")]
    [InlineData("deployments", """{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}""", "spec.template.spec.restartPolicy")]
    [InlineData("services", """{"metadata":{"name":"web.v1"},"spec":{"ports":[{"port":80}]}}""", "metadata.name")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"type":"Magic","ports":[{"port":80}]}}""", "spec.type")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{}}""", "spec.ports")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"ports":[{"port":80},{"port":81}]}}""", "spec.ports[0].name")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":80}]}}""", "spec.ports[0].nodePort")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"ports":[{"port":80,"protocol":"ICMP"}]}}""", "spec.ports[0].protocol")]
    [InlineData("services", """{"metadata":{"name":"s"},"spec":{"clusterIP":"192.168.1.1","ports":[{"port":80}]}}""", "spec.clusterIPs")]
    [InlineData("configmaps", """{"metadata":{"name":"c"},"data":{"bad key":"v"}}""", "data[bad key]")]
    [InlineData("secrets", """{"metadata":{"name":"s"},"data":{"k":"not base64!"}}""", "data[k]")]
    public void An_invalid_object_is_a_422_naming_the_field(string plural, string obj, string field)
    {
        var type = ResourceType.Find(plural == "deployments" ? "apps" : "", plural)!;
        var e = Assert.Throws<ApiException>(() => api.Create(type, "default", JsonNode.Parse(obj)!.AsObject()));
        Assert.Equal((422, "Invalid"), (e.Code, e.Reason));
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Updates_check_what_may_not_change()
    {
        var deployments = ResourceType.Deployments;
        var d = api.Create(deployments, "default", JsonNode.Parse(Deployment)!.AsObject());
        var moved = KJson.Clone(d);
        moved["spec"]!["selector"] = JsonNode.Parse("""{"matchLabels":{"app":"d","x":"y"}}""");
        moved["spec"]!["template"]!["metadata"]!["labels"] = JsonNode.Parse("""{"app":"d","x":"y"}""");
        Assert.Contains("field is immutable", Assert.Throws<ApiException>(() => api.Update(deployments, "default", "d", moved)).Message, StringComparison.Ordinal);

        var pod = api.Create(ResourceType.Pods, "default", JsonNode.Parse(Pod)!.AsObject());
        var image = KJson.Clone(pod);
        image["spec"]!["containers"]![0]!["image"] = "web:v2"; // may change
        Assert.Equal("web:v2", KJson.Str(api.Update(ResourceType.Pods, "default", "p", image), "spec", "containers", "0", "image") ?? (string?)api.Get(ResourceType.Pods, "default", "p")["spec"]!["containers"]![0]!["image"]);
        var port = KJson.Clone(api.Get(ResourceType.Pods, "default", "p"));
        port["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"] = 81; // may not
        Assert.Contains("pod updates may not change fields", Assert.Throws<ApiException>(() => api.Update(ResourceType.Pods, "default", "p", port)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"name":"c","image":"x"}]""", "BestEffort")]
    [InlineData("""[{"name":"c","image":"x","resources":{"requests":{"cpu":"100m"}}}]""", "Burstable")]
    [InlineData("""[{"name":"c","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]""", "Guaranteed")]
    [InlineData("""[{"name":"c","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"500m"}}}]""", "Burstable")]
    [InlineData("""[{"name":"a","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"}}},{"name":"b","image":"x"}]""", "Burstable")]
    public void A_pod_gets_its_qos_class(string containers, string qos)
    {
        var pod = api.Create(ResourceType.Pods, "default", JsonNode.Parse("""{"metadata":{"generateName":"q-"},"spec":{"containers":""" + containers + "}}")!.AsObject());
        Assert.Equal(qos, KJson.Str(pod, "status", "qosClass"));
    }

    [Fact]
    public void Every_kind_has_one_strategy_and_the_kinds_are_found_by_plural_kind_and_short_name()
    {
        foreach (var type in ResourceType.All)
        {
            // an older version served by conversion is found by its version; by name, the stored version is
            Assert.Same(type.Stored ?? type, ResourceType.Find(type.Group, type.Plural));
            Assert.Same(type.Stored ?? type, ResourceType.Find(type.Group, type.Kind));
            Assert.Same(type, ResourceType.Find(type.Group, type.Version, type.Plural));
            Assert.Same(type, ResourceType.ForKind(type.ApiVersion, type.Kind));
            Assert.NotNull(type.Strategy);
            Assert.Equal(type.Stored is null ? null : type.Stored.Kind, type.Stored is null ? null : type.Kind);
        }

        Assert.Equal(["v1", "v2", "v1beta1"], ResourceType.All.Select(t => t.Version).Distinct());
        var stores = ResourceType.Stores.ToList();
        Assert.Equal(stores.Count, stores.Select(t => t.Strategy.GetType()).Distinct().Count());
        Assert.Equal(["apps", "coordination.k8s.io", "certificates.k8s.io", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io", "storage.k8s.io", "snapshot.storage.k8s.io", "authorization.k8s.io", "authentication.k8s.io", "metrics.k8s.io"], ResourceType.Groups);
    }
}
