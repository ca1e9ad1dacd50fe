using System.Text.Json.Nodes;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration.Api;

/// <summary>Kubernetes quantities: decimal and binary suffixes, exponents, milli units; what is not one.</summary>
public sealed class QuantityTests
{
    [Theory]
    [InlineData("0", "0")]
    [InlineData("1", "1")]
    [InlineData("100m", "0.1")]
    [InlineData("1500m", "1.5")]
    [InlineData("0.5", "0.5")]
    [InlineData("1k", "1000")]
    [InlineData("1M", "1000000")]
    [InlineData("2G", "2000000000")]
    [InlineData("1Ki", "1024")]
    [InlineData("128Mi", "134217728")]
    [InlineData("1Gi", "1073741824")]
    [InlineData("1Ti", "1099511627776")]
    [InlineData("1e3", "1000")]
    [InlineData("1E3", "1000")]
    [InlineData("5e-3", "0.005")]
    [InlineData("+2", "2")]
    [InlineData("-1", "-1")]
    [InlineData("250u", "0.00025")]
    [InlineData("3n", "0.000000003")]
    public void A_quantity_parses_to_its_value(string text, string value)
    {
        Assert.True(Quantity.TryParse(text, out decimal parsed), text);
        Assert.Equal(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture), parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1Zi")]
    [InlineData("1.2.3")]
    [InlineData("Mi")]
    [InlineData("1 Mi")]
    public void What_is_not_a_quantity_is_refused(string text) => Assert.False(Quantity.TryParse(text, out _), text);

    [Fact]
    public void A_json_number_is_a_quantity_and_other_json_is_not()
    {
        Assert.Equal(2m, Quantity.Of(JsonValue.Create(2)));
        Assert.Equal(7m, Quantity.Of(JsonNode.Parse("{}"), fallback: 7));
        Assert.Equal(0.25m, Quantity.Of(JsonValue.Create("250m")));
    }
}
