using System.Net;
using Containers.Dashboard;
using Microsoft.Extensions.Time.Testing;

namespace Containers.Tests.Dashboard;

/// <summary>The dashboard's access rules on a fake clock: the login rate limit's window, sessions' idle timeout, tokens.</summary>
public sealed class AuthTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "containers-dashboard-auth-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly FakeTimeProvider clock = new(DateTimeOffset.Parse("2026-12-06T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    private DashboardAuth Auth(string? password = DockerViewTests.Password) =>
        new(new DashboardOptions { DataDirectory = dir, AdminPassword = password, Time = clock, MaxFailedLogins = 3, LoginWindow = TimeSpan.FromMinutes(5), SessionIdleTimeout = TimeSpan.FromMinutes(30) });

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Failed_logins_are_limited_per_address_until_the_oldest_leaves_the_window()
    {
        var auth = Auth();
        var a = IPAddress.Parse("192.0.2.10");
        var b = IPAddress.Parse("192.0.2.11");
        for (int i = 0; i < 3; i++)
        {
            Assert.Null(auth.RetryAfter(a));
            Assert.False(auth.CheckPassword("wrong" + i, a));
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(TimeSpan.FromMinutes(2), auth.RetryAfter(a)); // the first failure leaves the window at 12:05
        Assert.Null(auth.RetryAfter(b));                            // another address is not held
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(auth.RetryAfter(a));
        Assert.True(auth.CheckPassword(DockerViewTests.Password, a)); // a right password does not count
        Assert.Null(auth.RetryAfter(a));
    }

    [Fact]
    public void A_session_ends_after_its_idle_time_and_each_request_restarts_it()
    {
        var auth = Auth();
        var session = auth.NewSession();
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Same(session, auth.FindSession(session.Id));
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Same(session, auth.FindSession(session.Id));
        clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Null(auth.FindSession(session.Id));
        Assert.Null(auth.FindSession("not-a-session"));
        Assert.NotEqual(auth.NewSession().Csrf, auth.NewSession().Csrf);
    }

    [Fact]
    public void Passwords_tokens_and_the_first_run_are_kept_as_hashes_that_a_new_process_reads()
    {
        var first = Auth(password: null);
        Assert.False(first.Initialized);
        Assert.Throws<ArgumentException>(() => first.TrySetFirstPassword("short"));
        Assert.True(first.TrySetFirstPassword(DockerViewTests.Password));
        Assert.False(first.TrySetFirstPassword("another-long-password")); // only the first visitor
        string token = first.CreateToken("ci");
        Assert.StartsWith("cdt_", token, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => first.CreateToken("ci"));
        clock.Advance(TimeSpan.FromMinutes(5));

        var again = Auth(password: null); // the next start reads what the first stored
        Assert.True(again.Initialized);
        Assert.True(again.CheckPassword(DockerViewTests.Password, IPAddress.Loopback));
        Assert.False(again.CheckPassword("another-long-password", IPAddress.Loopback));
        Assert.True(again.CheckToken(token));
        Assert.False(again.CheckToken(token + "x"));
        Assert.Equal(clock.GetUtcNow().UtcDateTime, again.Tokens.Single().LastUsed);
        Assert.True(again.DeleteToken("ci"));
        Assert.False(again.CheckToken(token));
        foreach (var file in Directory.GetFiles(dir))
        {
            string text = File.ReadAllText(file);
            Assert.DoesNotContain(DockerViewTests.Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(token, text, StringComparison.Ordinal);
        }
    }
}
