using System.Text.Json;

namespace CourseStack.Tests;

/// <summary>The course stack end to end, through the fixture: by service name with no published port, and through the published ports.</summary>
public sealed class CourseStackTests(CourseStackFixture stack) : IClassFixture<CourseStackFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => stack.ResetAsync();   // every test starts from the seeded orders

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_frontend_shows_the_seeded_orders_through_the_backend()
    {
        using var http = stack.CreateHttpClient("frontend");
        var orders = JsonDocument.Parse(await http.GetStringAsync(new Uri("http://frontend:8080/cgi-bin/orders"))).RootElement;
        Assert.Equal(["book", "pen"], orders.EnumerateArray().Select(o => o.GetProperty("item").GetString()).Order());
    }

    [Fact]
    public async Task An_order_placed_on_the_published_port_is_stored_in_the_database()
    {
        var port = stack["frontend"].GetHostPort(8080);
        using var http = new HttpClient();
        using var body = new StringContent("lamp\n");
        (await http.PostAsync(new Uri($"http://127.0.0.1:{port}/cgi-bin/orders"), body)).EnsureSuccessStatusCode();

        var stored = await stack["database"].ExecAsync(["sh", "-c", "cat /var/lib/db/*"]);
        Assert.Contains("lamp", stored.Stdout, StringComparison.Ordinal);
        Assert.Equal(3, stored.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Each_test_starts_from_the_seed()
    {
        var stored = await stack["database"].ExecAsync(["sh", "-c", "cat /var/lib/db/*"]);
        Assert.Equal(["book", "pen"], stored.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }
}
