using YamlDotNet.RepresentationModel;

namespace Containers.Tests.DockerApi;

/// <summary>The Engine API's swagger (moby's api/swagger.yaml, 1.56, copied into Specs/), read once.</summary>
internal static class Swagger
{
    private static readonly Lazy<YamlMappingNode> Root = new(() =>
    {
        var yaml = new YamlStream();
        using var reader = File.OpenText(Path.Combine(AppContext.BaseDirectory, "Specs", "docker-engine-api.swagger.yaml"));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    });

    /// <summary>A top-level section: <c>paths</c>, <c>definitions</c>.</summary>
    public static YamlMappingNode Section(string name) => (YamlMappingNode)Root.Value.Children[new YamlScalarNode(name)];
}
