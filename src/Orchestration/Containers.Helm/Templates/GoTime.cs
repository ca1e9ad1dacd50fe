using System.Globalization;
using System.Text;

namespace Containers.Helm.Templates;

/// <summary>A Go time.Time: an instant with its zone, printed and formatted with Go's reference-time layouts.</summary>
/// <param name="Value">The instant, with the zone's offset.</param>
/// <param name="Zone">The zone's abbreviation (UTC, or the local one).</param>
public sealed record GoTime(DateTimeOffset Value, string Zone)
{
    /// <summary>Now, in UTC.</summary>
    public static GoTime Now(TimeProvider time) => new(time.GetUtcNow(), "UTC");

    /// <summary>Go's RFC 3339 with nanoseconds, as its JSON writes times: "Z" for UTC, trailing zeros of the fraction dropped.</summary>
    public static string Rfc3339Nano(DateTimeOffset t) =>
        t.Offset == TimeSpan.Zero
            ? t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture)
            : t.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);

    /// <summary>Go's String(): 2006-01-02 15:04:05.999999999 -0700 MST.</summary>
    public override string ToString() => Format("2006-01-02 15:04:05.999999999 -0700 MST");

    /// <summary>Formats with a Go layout (the reference time Mon Jan 2 15:04:05 MST 2006).</summary>
    public string Format(string layout)
    {
        var t = Value;
        var sb = new StringBuilder();
        int i = 0;
        while (i < layout.Length)
        {
            string rest = layout[i..];
            string? matched = null;
            string? text = null;
            foreach (var (token, render) in Tokens)
            {
                if (rest.StartsWith(token, StringComparison.Ordinal))
                {
                    // "Jan" must not match inside "January" (checked first), "2" must not be part of "2006"
                    matched = token;
                    text = render(this, t);
                    break;
                }
            }

            if (matched is null && (rest.StartsWith(".0", StringComparison.Ordinal) || rest.StartsWith(".9", StringComparison.Ordinal) || rest.StartsWith(",0", StringComparison.Ordinal) || rest.StartsWith(",9", StringComparison.Ordinal)))
            {
                char digit = rest[1];
                int n = 1;
                while (n < rest.Length && rest[n] == digit)
                {
                    n++;
                }

                if (n == rest.Length || !char.IsAsciiDigit(rest[n]))
                {
                    matched = rest[..n];
                    string frac = (t.Ticks % TimeSpan.TicksPerSecond * 100).ToString("D9", CultureInfo.InvariantCulture)[..Math.Min(n - 1, 9)];
                    text = digit == '9' ? (frac.TrimEnd('0') is { Length: > 0 } f ? rest[0] + f : "") : rest[0] + frac;
                }
            }

            if (matched is null)
            {
                sb.Append(layout[i]);
                i++;
                continue;
            }

            sb.Append(text);
            i += matched.Length;
        }

        return sb.ToString();
    }

    private static string Offset(DateTimeOffset t, bool colon, bool z, bool hoursOnly)
    {
        if (z && t.Offset == TimeSpan.Zero)
        {
            return "Z";
        }

        var o = t.Offset;
        string sign = o < TimeSpan.Zero ? "-" : "+";
        o = o.Duration();
        string hh = o.Hours.ToString("D2", CultureInfo.InvariantCulture), mm = o.Minutes.ToString("D2", CultureInfo.InvariantCulture);
        return hoursOnly ? sign + hh : sign + hh + (colon ? ":" : "") + mm;
    }

    private static readonly (string Token, Func<GoTime, DateTimeOffset, string> Render)[] Tokens =
    [
        ("January", (_, t) => t.ToString("MMMM", CultureInfo.InvariantCulture)),
        ("Jan", (_, t) => t.ToString("MMM", CultureInfo.InvariantCulture)),
        ("Monday", (_, t) => t.ToString("dddd", CultureInfo.InvariantCulture)),
        ("Mon", (_, t) => t.ToString("ddd", CultureInfo.InvariantCulture)),
        ("MST", (g, _) => g.Zone),
        ("2006", (_, t) => t.Year.ToString("D4", CultureInfo.InvariantCulture)),
        ("Z07:00", (_, t) => Offset(t, true, true, false)),
        ("Z0700", (_, t) => Offset(t, false, true, false)),
        ("Z07", (_, t) => Offset(t, false, true, true)),
        ("-07:00", (_, t) => Offset(t, true, false, false)),
        ("-0700", (_, t) => Offset(t, false, false, false)),
        ("-07", (_, t) => Offset(t, false, false, true)),
        ("002", (_, t) => t.DayOfYear.ToString("D3", CultureInfo.InvariantCulture)),
        ("01", (_, t) => t.Month.ToString("D2", CultureInfo.InvariantCulture)),
        ("02", (_, t) => t.Day.ToString("D2", CultureInfo.InvariantCulture)),
        ("03", (_, t) => (t.Hour % 12 == 0 ? 12 : t.Hour % 12).ToString("D2", CultureInfo.InvariantCulture)),
        ("04", (_, t) => t.Minute.ToString("D2", CultureInfo.InvariantCulture)),
        ("05", (_, t) => t.Second.ToString("D2", CultureInfo.InvariantCulture)),
        ("06", (_, t) => (t.Year % 100).ToString("D2", CultureInfo.InvariantCulture)),
        ("15", (_, t) => t.Hour.ToString("D2", CultureInfo.InvariantCulture)),
        ("_2", (_, t) => t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2)),
        ("PM", (_, t) => t.Hour >= 12 ? "PM" : "AM"),
        ("pm", (_, t) => t.Hour >= 12 ? "pm" : "am"),
        ("1", (_, t) => t.Month.ToString(CultureInfo.InvariantCulture)),
        ("2", (_, t) => t.Day.ToString(CultureInfo.InvariantCulture)),
        ("3", (_, t) => (t.Hour % 12 == 0 ? 12 : t.Hour % 12).ToString(CultureInfo.InvariantCulture)),
        ("4", (_, t) => t.Minute.ToString(CultureInfo.InvariantCulture)),
        ("5", (_, t) => t.Second.ToString(CultureInfo.InvariantCulture)),
    ];

    /// <summary>Parses <paramref name="text"/> with a Go layout; null when it does not match.</summary>
    public static GoTime? Parse(string layout, string text, TimeZoneInfo? zone = null)
    {
        // translate the Go layout to a .NET exact format, token by token
        var sb = new StringBuilder();
        int i = 0;
        (string Go, string Net)[] map =
        [
            ("January", "MMMM"), ("Jan", "MMM"), ("Monday", "dddd"), ("Mon", "ddd"), ("2006", "yyyy"), ("Z07:00", "K"), ("-07:00", "zzz"),
            ("-0700", "zzz"), ("MST", "'UTC'"), ("01", "MM"), ("02", "dd"), ("03", "hh"), ("04", "mm"), ("05", "ss"), ("06", "yy"), ("15", "HH"),
            ("PM", "tt"), (".000000000", ".fffffffff"), (".000000", ".ffffff"), (".000", ".fff"), (".999999999", ".FFFFFFF"), ("1", "M"), ("2", "d"), ("3", "h"), ("4", "m"), ("5", "s"),
        ];
        while (i < layout.Length)
        {
            var hit = map.FirstOrDefault(m => layout.AsSpan(i).StartsWith(m.Go, StringComparison.Ordinal));
            if (hit.Go is null)
            {
                char c = layout[i];
                sb.Append(char.IsLetter(c) || c is '\'' or '"' or '%' or '\\' or ':' or '/' ? "\\" + c : c.ToString());
                i++;
            }
            else
            {
                sb.Append(hit.Net);
                i += hit.Go.Length;
            }
        }

        string format = sb.ToString().Replace("zzz", "zzz", StringComparison.Ordinal);
        var style = DateTimeStyles.AllowWhiteSpaces | (format.Contains('z', StringComparison.Ordinal) || format.Contains('K', StringComparison.Ordinal) ? DateTimeStyles.None : DateTimeStyles.AssumeUniversal);
        if (DateTimeOffset.TryParseExact(text, format, CultureInfo.InvariantCulture, style, out var parsed))
        {
            if (zone is not null && !format.Contains('z', StringComparison.Ordinal) && !format.Contains('K', StringComparison.Ordinal))
            {
                var local = new DateTimeOffset(parsed.DateTime, zone.GetUtcOffset(parsed.DateTime));
                return new GoTime(local, zone.Id == "UTC" ? "UTC" : zone.StandardName);
            }

            return new GoTime(parsed, parsed.Offset == TimeSpan.Zero ? "UTC" : "");
        }

        return null;
    }
}
