using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Containers.Helm.Functions;

/// <summary>Go's time.Duration text: 1h2m3s, 1.5s, 300ms; Parse of "1h30m", "-2h", "90s".</summary>
internal static partial class GoDuration
{
    public static string Format(TimeSpan d)
    {
        if (d == TimeSpan.Zero)
        {
            return "0s";
        }

        var sb = new StringBuilder();
        if (d < TimeSpan.Zero)
        {
            sb.Append('-');
            d = d.Negate();
        }

        if (d < TimeSpan.FromSeconds(1))
        {
            double ms = d.TotalMilliseconds;
            return sb.Append(ms >= 1 ? ms.ToString("0.######", CultureInfo.InvariantCulture) + "ms" : (d.Ticks * 100 / 1000.0).ToString("0.###", CultureInfo.InvariantCulture) + "µs").ToString();
        }

        long hours = (long)d.TotalHours;
        if (hours > 0)
        {
            sb.Append(hours).Append('h');
        }

        if (hours > 0 || d.Minutes > 0)
        {
            sb.Append(d.Minutes).Append('m');
        }

        double seconds = d.Seconds + (d.Ticks % TimeSpan.TicksPerSecond) / (double)TimeSpan.TicksPerSecond;
        return sb.Append(seconds.ToString("0.#########", CultureInfo.InvariantCulture)).Append('s').ToString();
    }

    /// <summary>Sprig's durationRound: the largest unit only ("2h", "3d", "1y").</summary>
    public static string Round(TimeSpan d)
    {
        var u = d.Duration();
        (double Size, string Unit)[] units = [(365 * 24 * 3600, "y"), (30 * 24 * 3600, "mo"), (24 * 3600, "d"), (3600, "h"), (60, "m"), (1, "s")];
        foreach (var (size, unit) in units)
        {
            if (u.TotalSeconds >= size)
            {
                return ((long)(u.TotalSeconds / size)).ToString(CultureInfo.InvariantCulture) + unit;
            }
        }

        return "0s";
    }

    [GeneratedRegex(@"^([-+]?)((?:[0-9]*\.?[0-9]+(?:ns|us|µs|ms|s|m|h))+)$")]
    private static partial Regex Whole();

    [GeneratedRegex(@"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)")]
    private static partial Regex Part();

    public static TimeSpan? Parse(string s)
    {
        if (s == "0")
        {
            return TimeSpan.Zero;
        }

        var m = Whole().Match(s);
        if (!m.Success)
        {
            return null;
        }

        double ticks = 0;
        foreach (Match p in Part().Matches(m.Groups[2].Value))
        {
            double v = double.Parse(p.Groups[1].Value, CultureInfo.InvariantCulture);
            ticks += v * p.Groups[2].Value switch { "ns" => 0.01, "us" or "µs" => 10, "ms" => 10_000, "s" => 10_000_000, "m" => 600_000_000, _ => 36_000_000_000 };
        }

        var result = TimeSpan.FromTicks((long)ticks);
        return m.Groups[1].Value == "-" ? result.Negate() : result;
    }
}
