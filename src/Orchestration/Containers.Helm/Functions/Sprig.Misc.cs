using System.Globalization;
using Containers.Helm.Templates;

namespace Containers.Helm.Functions;

public static partial class Sprig
{
    private static void AddMisc(Adder add, Context context)
    {
        add("default", [A, A], a => a.Length < 2 || Cast.Empty(a[1]) ? a[0] : a[1], variadic: true);
        add("empty", [A], a => Cast.Empty(a[0]));
        add("coalesce", [A], a => a.FirstOrDefault(x => !Cast.Empty(x)), variadic: true);
        add("ternary", [A, A, B], a => (bool)a[2]! ? a[0] : a[1]);
        add("fail", [S], a => throw Fail((string)a[0]!));
        add("kindOf", [A], a => Cast.KindOf(a[0]));
        add("kindIs", [S, A], a => Cast.KindOf(a[1]) == (string)a[0]!);
        add("typeOf", [A], a => GoFormat.TypeName(a[0]));
        add("typeIs", [S, A], a => GoFormat.TypeName(a[1]) == (string)a[0]!);
        add("typeIsLike", [S, A], a => GoFormat.TypeName(a[1]) == (string)a[0]! || "*" + GoFormat.TypeName(a[1]) == (string)a[0]!);
        add("deepEqual", [A, A], a => Cast.DeepEqual(a[0], a[1]));
        add("base", [S], a => GoPath.Base((string)a[0]!));
        add("dir", [S], a => GoPath.Dir((string)a[0]!));
        add("clean", [S], a => GoPath.Clean((string)a[0]!));
        add("ext", [S], a => GoPath.Ext((string)a[0]!));
        add("isAbs", [S], a => ((string)a[0]!).StartsWith('/'));
        add("osBase", [S], a => GoPath.Base((string)a[0]!));
        add("osDir", [S], a => GoPath.Dir((string)a[0]!));
        add("osClean", [S], a => GoPath.Clean((string)a[0]!));
        add("osExt", [S], a => GoPath.Ext((string)a[0]!));
        add("osIsAbs", [S], a => ((string)a[0]!).StartsWith('/'));
        add("semver", [S], a => GoSemver.Parse((string)a[0]!) ?? throw Fail("Invalid Semantic Version"));
        add("semverCompare", [S, S], a => GoSemver.Satisfies((string)a[0]!, (string)a[1]!));
        add("toJson", [A], a => GoJson.Serialize(a[0], escapeHtml: true));
        add("mustToJson", [A], a => GoJson.Serialize(a[0], escapeHtml: true));
        add("toPrettyJson", [A], a => GoJson.Serialize(a[0], escapeHtml: true, indent: "  "));
        add("mustToPrettyJson", [A], a => GoJson.Serialize(a[0], escapeHtml: true, indent: "  "));
        add("toRawJson", [A], a => GoJson.Serialize(a[0], escapeHtml: false));
        add("mustToRawJson", [A], a => GoJson.Serialize(a[0], escapeHtml: false));
        add("fromJson", [S], a => GoJson.TryParse((string)a[0]!, out var v, out _) ? v : new Dictionary<string, object?>(StringComparer.Ordinal));
        add("mustFromJson", [S], a => GoJson.TryParse((string)a[0]!, out var v, out string? error) ? v : throw Fail(error!));
        add("urlParse", [S], a => UrlParse((string)a[0]!));
        add("urlJoin", [M], a => UrlJoin(Dict(a[0])));
        add("getHostByName", [S], a => System.Net.Dns.GetHostAddresses((string)a[0]!).FirstOrDefault()?.ToString() ?? "");
        AddDates(add, context);
    }

    private static void AddDates(Adder add, Context context)
    {
        GoTime Now() => new(TimeZoneInfo.ConvertTime(context.Time.GetUtcNow(), TimeZoneInfo.Local), ZoneName(TimeZoneInfo.Local));
        add("now", [], _ => Now());
        add("date", [S, A], a => ToTime(a[1], TimeZoneInfo.Local, context).Format((string)a[0]!));
        add("dateInZone", [S, A, S], a => ToTime(a[1], Zone((string)a[2]!), context).Format((string)a[0]!));
        add("date_in_zone", [S, A, S], a => ToTime(a[1], Zone((string)a[2]!), context).Format((string)a[0]!));
        add("htmlDate", [A], a => ToTime(a[0], TimeZoneInfo.Local, context).Format("2006-01-02"));
        add("htmlDateInZone", [A, S], a => ToTime(a[0], Zone((string)a[1]!), context).Format("2006-01-02"));
        add("unixEpoch", [A], a => a[0] is GoTime t ? t.Value.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture) : throw Fail("unixEpoch needs a time"));
        add("toDate", [S, S], a => GoTime.Parse((string)a[0]!, (string)a[1]!, TimeZoneInfo.Local) ?? new GoTime(DateTimeOffset.MinValue, "UTC"));
        add("mustToDate", [S, S], a => GoTime.Parse((string)a[0]!, (string)a[1]!, TimeZoneInfo.Local) ?? throw Fail($"parsing time {GoFormat.Quote((string)a[1]!)} as {GoFormat.Quote((string)a[0]!)}: cannot parse"));
        add("ago", [A], a => GoDuration.Format(TimeSpan.FromSeconds(Math.Round((context.Time.GetUtcNow() - ToTime(a[0], TimeZoneInfo.Local, context).Value).TotalSeconds))));
        add("duration", [A], a => GoDuration.Format(TimeSpan.FromSeconds(Cast.Int(a[0]))));
        add("durationRound", [A], a => GoDuration.Round(a[0] is string s ? GoDuration.Parse(s) ?? TimeSpan.Zero : TimeSpan.FromSeconds(Cast.Int(a[0]))));
        add("dateModify", [S, A], a => a[1] is GoTime t && GoDuration.Parse((string)a[0]!) is { } d ? t with { Value = t.Value + d } : a[1]);
        add("date_modify", [S, A], a => a[1] is GoTime t && GoDuration.Parse((string)a[0]!) is { } d ? t with { Value = t.Value + d } : a[1]);
        add("mustDateModify", [S, A], a => a[1] is GoTime t && GoDuration.Parse((string)a[0]!) is { } d ? t with { Value = t.Value + d } : throw Fail($"time: invalid duration {GoFormat.Quote((string)a[0]!)}"));
    }

    private static string ZoneName(TimeZoneInfo zone) => zone.Id is "UTC" or "Etc/UTC" || zone.BaseUtcOffset == TimeSpan.Zero ? "UTC" : zone.StandardName;

    private static TimeZoneInfo Zone(string name)
    {
        try
        {
            return name is "" or "UTC" ? TimeZoneInfo.Utc : name == "Local" ? TimeZoneInfo.Local : TimeZoneInfo.FindSystemTimeZoneById(name);
        }
        catch (TimeZoneNotFoundException)
        {
            return TimeZoneInfo.Utc;
        }
    }

    private static GoTime ToTime(object? v, TimeZoneInfo zone, Context context)
    {
        DateTimeOffset instant = v switch
        {
            GoTime t => t.Value,
            long or int or double => DateTimeOffset.FromUnixTimeSeconds(Cast.Int(v)),
            _ => context.Time.GetUtcNow(),
        };
        var local = TimeZoneInfo.ConvertTime(instant, zone);
        return new GoTime(local, ZoneName(zone));
    }

    private static Dictionary<string, object?> UrlParse(string s)
    {
        if (!Uri.TryCreate(s, UriKind.Absolute, out var uri))
        {
            throw Fail($"unable to parse url: {s}");
        }

        return new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["scheme"] = uri.Scheme,
            ["host"] = uri.IsDefaultPort ? uri.Host : uri.Host + ":" + uri.Port.ToString(CultureInfo.InvariantCulture),
            ["hostname"] = uri.Host,
            ["path"] = Uri.UnescapeDataString(uri.AbsolutePath),
            ["query"] = uri.Query.TrimStart('?'),
            ["opaque"] = "",
            ["fragment"] = Uri.UnescapeDataString(uri.Fragment.TrimStart('#')),
            ["userinfo"] = uri.UserInfo,
        };
    }

    private static string UrlJoin(IDictionary<string, object?> d)
    {
        string Get(string k) => d.TryGetValue(k, out var v) && v is not null ? Str(v) : "";
        string userinfo = Get("userinfo");
        string host = Get("host");
        string result = Get("scheme") is { Length: > 0 } scheme ? scheme + ":" : "";
        if (host.Length > 0 || userinfo.Length > 0)
        {
            result += "//" + (userinfo.Length > 0 ? userinfo + "@" : "") + host;
        }

        result += Get("path");
        if (Get("query") is { Length: > 0 } query)
        {
            result += "?" + query;
        }

        if (Get("fragment") is { Length: > 0 } fragment)
        {
            result += "#" + fragment;
        }

        return result;
    }
}
