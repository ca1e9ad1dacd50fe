using System.Text.RegularExpressions;

namespace Containers.Runtime;

/// <summary>Durations as docker and compose write them (Go's syntax): <c>500ms</c>, <c>30s</c>, <c>1m30s</c>, <c>1.5h</c>.</summary>
public static partial class GoDuration
{
    /// <summary>Parses <paramref name="value"/>; false when it is not a duration.</summary>
    public static bool TryParse(string? value, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(value) || Part().Replace(value, "").Length != 0)
        {
            return value == "0";
        }

        foreach (Match m in Part().Matches(value))
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            duration += m.Groups[2].Value switch
            {
                "ns" => TimeSpan.FromTicks((long)(n / 100)),
                "us" or "µs" => TimeSpan.FromTicks((long)(n * 10)),
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                _ => TimeSpan.FromHours(n),
            };
        }

        return true;
    }

    /// <summary>Parses <paramref name="value"/> or throws <see cref="InvalidContainerSpecException"/> naming <paramref name="what"/>.</summary>
    public static TimeSpan Parse(string value, string what) =>
        TryParse(value, out var d) ? d : throw new InvalidContainerSpecException($"invalid {what} '{value}': expected a duration like 500ms, 30s or 1m30s");

    [GeneratedRegex(@"([0-9]+(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")]
    private static partial Regex Part();
}
