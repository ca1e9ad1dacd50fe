using System.Text.Json.Nodes;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration;

/// <summary>fieldValidation: fields a kind does not have are refused with their paths (Strict), or dropped (Warn, Ignore).</summary>
public sealed class FieldSchemaTests
{
    private static JsonObject Deployment(string containerExtra = "", string specExtra = "") => JsonNode.Parse("""
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"any-key":"x"},"annotations":{"a/b":"c"}},
         "spec":{"replicas":2,SPEC_EXTRA"selector":{"matchLabels":{"app":"web"}},
          "template":{"metadata":{"labels":{"app":"web"}},"spec":{
            "volumes":[{"name":"cfg","configMap":{"name":"c","items":[{"key":"k","path":"p"}]}},{"name":"n","nfs":{"server":"s","path":"/","readOnly":true}}],
            "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"Exists"}]}]}}},
            "containers":[{"name":"c","image":"web:v1","env":[{"name":"A","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}],
              "readinessProbe":{"httpGet":{"path":"/","port":80,"httpHeaders":[{"name":"h","value":"v"}]},"periodSeconds":5},
              "lifecycle":{"preStop":{"exec":{"command":["sleep","1"]}}}CONTAINER_EXTRA}]}}},
         "status":{"anything":true}}
        """.Replace("SPEC_EXTRA", specExtra, StringComparison.Ordinal).Replace("CONTAINER_EXTRA", containerExtra, StringComparison.Ordinal))!.AsObject();

    [Fact]
    public void A_complete_object_passes_strict_and_only_the_status_is_not_checked()
    {
        var obj = Deployment();
        string before = obj.ToJsonString();
        Assert.Empty(FieldSchema.Enforce(ResourceType.Deployments, obj, FieldValidation.Strict));
        Assert.Equal(before, obj.ToJsonString());
    }

    [Fact]
    public void Deep_parts_are_checked_from_the_kinds_schemas()
    {
        // the schemas are the KubernetesClient models': volume sources, affinity and security contexts are known to the last field
        var obj = Deployment(containerExtra: ""","securityContext":{"runAsUser":1,"privilegd":true}""");
        Json(obj, "spec", "template", "spec", "volumes", 1, "nfs")["anything"] = 1;
        Json(obj, "spec", "template", "spec", "affinity", "nodeAffinity")["whatever"] = new JsonObject();
        var e = Assert.Throws<ApiException>(() => FieldSchema.Enforce(ResourceType.Deployments, obj, FieldValidation.Strict));
        Assert.Contains("unknown field \"spec.template.spec.volumes[1].nfs.anything\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("unknown field \"spec.template.spec.affinity.nodeAffinity.whatever\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("unknown field \"spec.template.spec.containers[0].securityContext.privilegd\"", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("runAsUser", e.Message, StringComparison.Ordinal);
    }

    private static JsonObject Json(JsonNode node, params object[] path)
    {
        foreach (var step in path)
        {
            node = step is int i ? node[i]! : node[(string)step]!;
        }

        return node.AsObject();
    }

    [Fact]
    public void Strict_refuses_naming_every_unknown_field_by_its_path()
    {
        var obj = Deployment(containerExtra: ""","imagePullPolcy":"Never","readinessProbe2":{}""", specExtra: "\"replica\":3,");
        var e = Assert.Throws<ApiException>(() => FieldSchema.Enforce(ResourceType.Deployments, obj, FieldValidation.Strict));
        Assert.Equal(400, e.Code);
        Assert.Equal(
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\", "
            + "unknown field \"spec.template.spec.containers[0].imagePullPolcy\", unknown field \"spec.template.spec.containers[0].readinessProbe2\"",
            e.Message);
    }

    [Fact]
    public void Warn_and_ignore_drop_the_unknown_fields_and_only_warn_names_them()
    {
        var obj = Deployment(containerExtra: ""","imagePullPolcy":"Never" """);
        Assert.Equal(["spec.template.spec.containers[0].imagePullPolcy"], FieldSchema.Enforce(ResourceType.Deployments, obj, FieldValidation.Warn));
        Assert.Null(obj["spec"]!["template"]!["spec"]!["containers"]![0]!["imagePullPolcy"]);
        Assert.Equal("web:v1", (string?)obj["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]);

        var cm = JsonNode.Parse("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"},"dataa":{"k":"v"}}""")!.AsObject();
        Assert.Empty(FieldSchema.Enforce(ResourceType.ConfigMaps, cm, FieldValidation.Ignore));
        Assert.Equal("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"k":"v"}}""", cm.ToJsonString());
    }

    [Fact]
    public void The_mode_parameter_is_checked()
    {
        Assert.Equal(FieldValidation.Warn, FieldSchema.ParseMode(null));
        Assert.Equal(FieldValidation.Strict, FieldSchema.ParseMode("Strict"));
        Assert.Equal(400, Assert.Throws<ApiException>(() => FieldSchema.ParseMode("strict")).Code);
    }
}
