using System.Text.Json.Nodes;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>Server-side apply through the real kubectl: managed fields, a no-op second apply, conflicts, forced takeover, removal, dry runs.</summary>
public sealed class ServerSideApplyTests : RecordedCluster
{
    private string Manifest(string name, string yaml)
    {
        string path = Path.Combine(Root, name + ".yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private static string Web(int replicas, string labels) => $$"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels: {{{labels}}}
        spec:
          replicas: {{replicas}}
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: web:v1
        """;

    [Fact]
    public async Task Applying_twice_changes_nothing_and_a_second_manager_conflicts_on_the_fields_it_does_not_own()
    {
        var k = new Kubectl(Cluster.KubeconfigPath);
        Assert.Contains("deployment.apps/web serverside-applied", await k.RunAsync("apply", "--server-side", "-f", Manifest("web", Web(2, "app: web, tier: front"))), StringComparison.Ordinal);
        var first = JsonNode.Parse(await k.RunAsync("get", "deploy", "web", "-o", "json", "--show-managed-fields"))!;
        var entry = KJson.Items(first, "metadata", "managedFields").Single(m => KJson.Str(m, "manager") == "kubectl");
        Assert.Equal("Apply", KJson.Str(entry, "operation"));
        Assert.NotNull(KJson.At(entry, "fieldsV1", "f:spec", "f:replicas"));
        Assert.NotNull(KJson.At(entry, "fieldsV1", "f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}", "f:image"));

        // the same configuration again: the apply writes nothing (the deployment controller may write status meanwhile,
        // so the resourceVersion is no witness; the generation and the manager's entry, with its time, are)
        await k.RunAsync("apply", "--server-side", "-f", Manifest("web", Web(2, "app: web, tier: front")));
        var again = JsonNode.Parse(await k.RunAsync("get", "deploy", "web", "-o", "json", "--show-managed-fields"))!;
        Assert.Equal(KJson.Int(first, "metadata", "generation"), KJson.Int(again, "metadata", "generation"));
        Assert.Equal(entry.ToJsonString(), KJson.Items(again, "metadata", "managedFields").Single(m => KJson.Str(m, "manager") == "kubectl").ToJsonString());

        // another manager sets replicas: 409 naming the field and its manager
        var (code, _, err) = await k.TryAsync("apply", "--server-side", "--field-manager=autoscaler", "-f", Manifest("other", Web(5, "app: web, tier: front")));
        Assert.NotEqual(0, code);
        Assert.Contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas", err, StringComparison.Ordinal);
        Assert.Equal("2", (await k.RunAsync("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}")).Trim());

        // forced: it takes the field over
        await k.RunAsync("apply", "--server-side", "--field-manager=autoscaler", "--force-conflicts", "-f", Manifest("other", Web(5, "app: web, tier: front")));
        var forced = JsonNode.Parse(await k.RunAsync("get", "deploy", "web", "-o", "json", "--show-managed-fields"))!;
        Assert.Equal(5, KJson.Int(forced, "spec", "replicas"));
        Assert.Null(KJson.At(KJson.Items(forced, "metadata", "managedFields").Single(m => KJson.Str(m, "manager") == "kubectl"), "fieldsV1", "f:spec", "f:replicas"));
        Assert.NotNull(KJson.At(KJson.Items(forced, "metadata", "managedFields").Single(m => KJson.Str(m, "manager") == "autoscaler"), "fieldsV1", "f:spec", "f:replicas"));

        // kubectl's configuration without the tier label (and without replicas, now the autoscaler's): the label goes, replicas stay
        string without = Web(5, "app: web").Replace("  replicas: 5\n", "", StringComparison.Ordinal);
        await k.RunAsync("apply", "--server-side", "--field-manager=autoscaler", "--force-conflicts", "-f", Manifest("other", Web(5, "app: web")));
        await k.RunAsync("apply", "--server-side", "-f", Manifest("web", without));
        Assert.Equal("web 5", (await k.RunAsync("get", "deploy", "web", "-o", "jsonpath={.metadata.labels.app} {.spec.replicas}{.metadata.labels.tier}")).Trim());

        // server-side dry runs write nothing; kubectl diff shows what would change (the autoscaler co-owns the image: forced)
        string rv = (await k.RunAsync("get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}")).Trim();
        string image = without.Replace("web:v1", "web:v2", StringComparison.Ordinal);
        Assert.Contains("serverside-applied (server dry run)", await k.RunAsync("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", Manifest("v2", image)), StringComparison.Ordinal);
        var (diffCode, diff, _) = await k.TryAsync("diff", "--server-side", "--force-conflicts", "-f", Manifest("v2", image));
        Assert.Equal(1, diffCode);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(diff, @"(?m)^\+\s+- image: web:v2$"), diff);
        Assert.Matches(@"(?m)^-\s+- image: web:v1$", diff);
        Assert.Equal(rv, (await k.RunAsync("get", "deploy", "web", "-o", "jsonpath={.metadata.resourceVersion}")).Trim());
        await k.RunAsync("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server");
        Assert.NotEqual(0, (await k.TryAsync("get", "configmap", "dry")).Exit);
    }

    [Fact]
    public async Task An_apply_with_a_malformed_field_manager_is_refused()
    {
        var k = new Kubectl(Cluster.KubeconfigPath);
        var (code, _, err) = await k.TryAsync("apply", "--server-side", "--field-manager=bad\tmanager", "-f", Manifest("web", Web(1, "app: web")));
        Assert.NotEqual(0, code);
        Assert.Contains("must consist of printable characters", err, StringComparison.Ordinal);
        Assert.NotEqual(0, (await k.TryAsync("get", "deploy", "web")).Exit);
    }
}
