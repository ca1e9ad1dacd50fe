using Containers.Runtime;

namespace Containers.Tests.Runtime;

/// <summary>Go's duration syntax, as docker, compose and Kubernetes flags write durations.</summary>
public sealed class GoDurationTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("300ms", 300)]
    [InlineData("1.5s", 1500)]
    [InlineData("30s", 30_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1h30m0s", 5_400_000)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("2h45m", 9_900_000)]
    [InlineData("500us", 0.5)]
    [InlineData("500µs", 0.5)]
    [InlineData("1000000ns", 1)]
    public void A_duration_parses(string text, double milliseconds)
    {
        Assert.True(GoDuration.TryParse(text, out var d), text);
        Assert.Equal(milliseconds, d.TotalMilliseconds, precision: 6);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("30")]
    [InlineData("1d")]
    [InlineData("soon")]
    [InlineData("1m 30s")]
    [InlineData("-5s")]
    public void What_is_not_a_duration_is_refused(string? text) => Assert.False(GoDuration.TryParse(text, out _), text);

    [Fact]
    public void Parse_names_what_it_parsed() =>
        Assert.Contains("invalid healthcheck interval 'x'", Assert.Throws<InvalidContainerSpecException>(() => GoDuration.Parse("x", "healthcheck interval")).Message, StringComparison.Ordinal);
}
