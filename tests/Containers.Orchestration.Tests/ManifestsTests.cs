using Containers.Orchestration.Api;

namespace Containers.Orchestration.Tests;

/// <summary>Manifests as kubectl reads them: YAML merge keys, where the keys set beside them win.</summary>
public sealed class ManifestsTests
{
    [Fact]
    public void A_merge_key_yields_to_the_keys_set_beside_it()
    {
        var objects = Manifests.ParseDocuments("""
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              defaults: &defaults
                mode: dev
                level: info
              effective:
                <<: *defaults
                mode: prod
            """, "settings.yaml");

        var data = Assert.Single(objects)["data"]!;
        Assert.Equal("prod", (string?)data["effective"]!["mode"]);
        Assert.Equal("info", (string?)data["effective"]!["level"]);
    }

    [Fact]
    public void A_merge_key_of_a_scalar_is_refused_with_the_file_and_line()
    {
        var e = Assert.ThrowsAny<Exception>(() => Manifests.ParseDocuments("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: 3\n  name: x\n", "bad.yaml"));
        Assert.Contains("bad.yaml:4: a merge key (<<) takes a mapping or a list of mappings", e.Message, StringComparison.Ordinal);
    }
}
