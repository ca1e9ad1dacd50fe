using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Containers.Dashboard;
using Containers.Runtime;
using Containers.Tests.Images;
using PuppeteerSharp;

namespace Containers.Tests.Dashboard;

/// <summary>The dashboard over the engine of this process, in a real browser: login, counts, container actions, logs, a console, a stack.</summary>
[Collection(DashboardCollection.Name)]
public sealed class DockerViewTests
{
    internal const string Password = "correct-horse-battery-staple";

    /// <summary>A test engine whose detached monitors are the CLI's (<c>containers-cli __monitor</c>, in this output folder).</summary>
    internal static TestEngine Engine() =>
        new(configure: o => o with { MonitorCommand = [Path.Combine(AppContext.BaseDirectory, "containers-cli"), "__monitor"] });

    internal static Task<DashboardServer> ServeAsync(TestEngine t, string? kubeconfig = null, bool engine = true) =>
        DashboardServer.StartAsync(new DashboardOptions
        {
            DataDirectory = Path.Combine(t.Root, "dashboard"),
            Engine = engine ? t.Engine : null,
            KubeconfigPath = kubeconfig,
            AdminPassword = Password,
            Port = 0,
        });

    /// <summary>An API client of the dashboard with an API token (Bearer), as a script would call it.</summary>
    internal static async Task<HttpClient> TokenClientAsync(DashboardServer server)
    {
        var login = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = server.Url };
        var session = await login.PostAsJsonAsync("api/auth/login", new { password = Password });
        session.EnsureSuccessStatusCode();
        string csrf = JsonDocument.Parse(await session.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf").GetString()!;
        string cookie = session.Headers.GetValues("Set-Cookie").First().Split(';')[0];
        using var create = new HttpRequestMessage(HttpMethod.Post, "api/tokens") { Content = JsonContent.Create(new { name = "test-" + Guid.NewGuid().ToString("N")[..6] }) };
        create.Headers.Add("Cookie", cookie);
        create.Headers.Add(DashboardEndpoints.CsrfHeader, csrf);
        var made = await login.SendAsync(create);
        Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        string token = JsonDocument.Parse(await made.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        login.Dispose();
        var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = server.Url };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    [Fact]
    public async Task A_user_logs_in_sees_the_counts_starts_a_container_reads_its_logs_types_in_its_console_and_deploys_a_stack()
    {
        await using var t = Engine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:1");
        await using var server = await ServeAsync(t);
        using var api = await TokenClientAsync(server);

        // through the dashboard's Docker API with a token: one running container, one only created (it ticks once started)
        async Task<string> CreateAsync(string name, string script)
        {
            var created = await api.PostAsJsonAsync($"api/docker/containers/create?name={name}", new { Image = "localhost/busybox:1", Cmd = new[] { "sh", "-c", script }, HostConfig = new { NetworkMode = "none" } });
            Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
            return JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("Id").GetString()!;
        }

        string sleeper = await CreateAsync("sleeper", "sleep 600");
        (await api.PostAsync($"api/docker/containers/{sleeper}/start", null)).EnsureSuccessStatusCode();
        string ticker = await CreateAsync("ticker", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done");

        await using var browser = await DashboardBrowser.LaunchAsync();
        var page = browser.Page;
        await browser.LoginAsync(server.Url, Password);

        // the home page's counts are the engine's
        await page.WaitForSelectorAsync("#count-containers");
        var all = t.Engine.List(all: true);
        await browser.WaitForTextAsync("#count-containers", all.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await browser.WaitForTextAsync("#count-running", all.Count(c => c.Status == ContainerStatus.Running).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await browser.WaitForTextAsync("#count-stopped", all.Count(c => c.Status != ContainerStatus.Running).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await browser.WaitForTextAsync("#count-images", t.Engine.Images.List().Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await browser.WaitForTextAsync("#count-volumes", t.Engine.Volumes.List().Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await browser.WaitForTextAsync("#count-networks", t.Engine.Networks.List().Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await browser.ScreenshotAsync("home");

        // start the ticker from the list: its state changes in the page without a reload
        await browser.GoAsync("/containers");
        await browser.WaitForTextAsync("tr[data-name=ticker] .state", "created");
        await page.EvaluateExpressionAsync("window.notReloaded = true");
        await page.ClickAsync("tr[data-name=ticker] button[data-testid=start]");
        await browser.WaitForTextAsync("tr[data-name=ticker] .state", "running", 10_000);
        Assert.True(await page.EvaluateExpressionAsync<bool>("window.notReloaded === true"));
        Assert.Equal(ContainerStatus.Running, t.Engine.Get(ticker).State.Status);

        // its detail page: log lines arrive as they are written (one every 200 ms, each seen within a second)
        await browser.GoAsync("/containers/" + ticker);
        await browser.WaitForContainsAsync("#logs", "tick ");
        for (int i = 0; i < 3; i++)
        {
            int seen = await page.EvaluateExpressionAsync<int>("(document.querySelector('#logs').textContent.match(/tick \\d+/g) || []).length");
            var clock = Stopwatch.StartNew();
            await page.WaitForFunctionAsync("n => (document.querySelector('#logs').textContent.match(/tick \\d+/g) || []).length > n",
                new WaitForFunctionOptions { Timeout = 1000, PollingInterval = 20 }, seen);
            Assert.True(clock.ElapsedMilliseconds < 1000);
        }

        // the stats chart gets samples
        await browser.WaitForContainsAsync("#stats-now", "CPU", 10_000);

        // the console: a TTY exec over a WebSocket, in xterm.js
        await browser.EchoHiAsync("#console-connect", "#console");
        await browser.ScreenshotAsync("container");

        // a two-service stack from the editor: a broken file first (the error names its line), then the real one
        await browser.GoAsync("/stacks/new");
        await page.WaitForSelectorAsync("#stack-editor");
        await page.TypeAsync("#stack-name", "shop");
        await browser.SetValueAsync("#stack-editor", "services:\n  web:\n    image: localhost/busybox:1\n    command: [sleep, 600\n");
        await page.ClickAsync("#stack-deploy");
        await page.WaitForSelectorAsync("#stack-result .error");
        string error = await browser.TextAsync("#stack-result .error");
        Assert.Contains("compose.yaml", error, StringComparison.Ordinal);
        Assert.Matches("line 4|:4|:5|line 5", error);
        Assert.DoesNotContain(t.Engine.List(all: true), c => c.Spec.Labels.GetValueOrDefault("com.docker.compose.project") == "shop");

        await browser.SetValueAsync("#stack-editor", """
            services:
              web:
                image: localhost/busybox:1
                command: [sleep, "600"]
                network_mode: none
              worker:
                image: localhost/busybox:1
                command: [sh, -c, "while true; do sleep 1; done"]
                network_mode: none
                depends_on: [web]
            """);
        await page.ClickAsync("#stack-plan");
        await browser.WaitForContainsAsync("#stack-result", "create");
        await page.ClickAsync("#stack-deploy");
        await page.WaitForSelectorAsync("#stack-done", new WaitForSelectorOptions { Timeout = 60_000 });
        var shop = t.Engine.List(all: true).Where(c => c.Spec.Labels.GetValueOrDefault("com.docker.compose.project") == "shop").ToList();
        Assert.Equal(2, shop.Count);
        Assert.All(shop, c => Assert.Equal(ContainerStatus.Running, c.Status));
        await browser.WaitForTextAsync("#stack-containers tr[data-name=shop-web-1] .state", "running");
        await browser.GoAsync("/stacks");
        await browser.WaitForTextAsync("#stacks tr[data-name=shop] .count", "2/2 running");
        await browser.ScreenshotAsync("stacks");
        await page.ClickAsync("#stacks tr[data-name=shop] button[data-testid=down]");
        await browser.WaitForTextAsync("#stacks tr[data-name=shop] .count", "0/0 running", 60_000);
        Assert.DoesNotContain(t.Engine.List(all: true), c => c.Spec.Labels.GetValueOrDefault("com.docker.compose.project") == "shop");
    }

    [Fact]
    public async Task Access_is_refused_without_a_session_with_a_wrong_password_too_often_without_the_csrf_token_and_from_another_origin()
    {
        await using var t = new TestEngine();
        await using var server = await ServeAsync(t);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { BaseAddress = server.Url };

        // no session: 401 on the API, the Docker API behind it, and the consoles
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/docker/containers/json")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/stacks")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/tokens")).StatusCode);
        using (var bearer = new HttpRequestMessage(HttpMethod.Get, "api/docker/containers/json"))
        {
            bearer.Headers.Authorization = new("Bearer", "cdt_not-a-token");
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(bearer)).StatusCode);
        }

        // the page and its assets are served (offline: the libraries are in the assembly) with a strict policy
        var index = await http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Contains("script-src 'self'", index.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.DoesNotContain("http", (await index.Content.ReadAsStringAsync()).Replace("http-equiv", "", StringComparison.Ordinal), StringComparison.Ordinal);
        foreach (var asset in new[] { "assets/app.js", "assets/lib/xterm.js", "assets/lib/chart.umd.min.js", "assets/lib/addon-fit.js", "assets/lib/xterm.css" })
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(asset)).StatusCode);
        }

        // a wrong password: 401, and after five within the window 429 with Retry-After, even for the right one
        for (int i = 0; i < 5; i++)
        {
            var wrong = await http.PostAsJsonAsync("api/auth/login", new { password = "wrong-password-" + i });
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        var limited = await http.PostAsJsonAsync("api/auth/login", new { password = Password });
        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        Assert.True(limited.Headers.RetryAfter?.Delta > TimeSpan.Zero);

        // the hash on disk is Argon2id's, and the password is nowhere in the data directory
        string admin = await File.ReadAllTextAsync(Path.Combine(t.Root, "dashboard", "admin.json"));
        Assert.Contains("argon2id", admin, StringComparison.Ordinal);
        foreach (var file in Directory.GetFiles(Path.Combine(t.Root, "dashboard")).Where(f => !f.EndsWith(".sock", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(Password, await File.ReadAllTextAsync(file), StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public async Task A_session_needs_its_csrf_token_to_change_anything_and_a_websocket_from_another_origin_is_refused()
    {
        await using var t = new TestEngine();
        await using var server = await ServeAsync(t);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false }) { BaseAddress = server.Url };
        var login = await http.PostAsJsonAsync("api/auth/login", new { password = Password });
        login.EnsureSuccessStatusCode();
        string csrf = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf").GetString()!;
        string setCookie = login.Headers.GetValues("Set-Cookie").First();
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        string cookie = setCookie.Split(';')[0];

        async Task<HttpStatusCode> SendAsync(HttpMethod method, string path, string? token, string? origin = null)
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Add("Cookie", cookie);
            if (token is not null)
            {
                request.Headers.Add(DashboardEndpoints.CsrfHeader, token);
            }

            if (origin is not null)
            {
                request.Headers.Add("Origin", origin);
            }

            if (method == HttpMethod.Post)
            {
                request.Content = JsonContent.Create(new { Name = "v1" });
            }

            return (await http.SendAsync(request)).StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await SendAsync(HttpMethod.Get, "api/docker/volumes", null));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(HttpMethod.Post, "api/docker/volumes/create", null));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(HttpMethod.Post, "api/docker/volumes/create", "not-the-token"));
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(HttpMethod.Post, "api/docker/volumes/create", csrf, "http://evil.example"));
        Assert.Empty(t.Engine.Volumes.List());
        Assert.Equal(HttpStatusCode.Created, await SendAsync(HttpMethod.Post, "api/docker/volumes/create", csrf));
        Assert.Single(t.Engine.Volumes.List());

        // a console WebSocket: refused from another origin (a page elsewhere riding the user's cookie), accepted from ours
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:1");
        var container = await t.Engine.StartAsync(new ContainerSpec { Image = "localhost/busybox:1", Command = ["sleep", "600"], NetworkMode = "none" });
        async Task<HttpStatusCode?> ConnectAsync(string origin)
        {
            using var socket = new System.Net.WebSockets.ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            socket.Options.SetRequestHeader("Cookie", cookie);
            socket.Options.SetRequestHeader("Origin", origin);
            try
            {
                await socket.ConnectAsync(new Uri($"ws://{server.Url.Authority}/api/docker-console/{container.Id}"), CancellationToken.None);
                await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                return HttpStatusCode.SwitchingProtocols;
            }
            catch (System.Net.WebSockets.WebSocketException)
            {
                return socket.HttpStatusCode;
            }
        }

        Assert.Equal(HttpStatusCode.Forbidden, await ConnectAsync("http://evil.example"));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await ConnectAsync($"http://{server.Url.Authority}"));
        await container.RemoveAsync(force: true);
    }
}
