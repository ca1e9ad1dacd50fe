using PuppeteerSharp;

namespace Containers.Tests.Dashboard;

/// <summary>
/// Debian's headless Chromium, driven over the DevTools protocol by PuppeteerSharp (which is given the executable and
/// never downloads one), with a page logged in to a dashboard; screenshots go to TestResults/dashboard.
/// </summary>
internal sealed class DashboardBrowser : IAsyncDisposable
{
    private readonly IBrowser browser;

    private DashboardBrowser(IBrowser browser, IPage page)
    {
        this.browser = browser;
        Page = page;
    }

    public IPage Page { get; }

    /// <summary>The browser: /usr/lib/chromium/chromium (the binary Debian's /usr/bin/chromium script runs).</summary>
    public static string Executable =>
        Environment.GetEnvironmentVariable("CHROMIUM") is { Length: > 0 } c ? c
        : File.Exists("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : "/usr/bin/chromium";

    public static async Task<DashboardBrowser> LaunchAsync(bool ignoreCertificateErrors = false)
    {
        Assert.True(File.Exists(Executable), $"no Chromium at {Executable}: tests/run.sh installs Debian's chromium");
        var browser = await Puppeteer.LaunchAsync(new LaunchOptions
        {
            ExecutablePath = Executable,
            Headless = true,
            // root runs the tests: Chromium's sandbox needs an unprivileged user
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions"],
            Timeout = 60_000,
            AcceptInsecureCerts = ignoreCertificateErrors, // the chart's self-signed certificate
        });
        var page = await browser.NewPageAsync();
        await page.SetViewportAsync(new ViewPortOptions { Width = 1440, Height = 1000 });
        page.DefaultTimeout = 30_000;
        return new DashboardBrowser(browser, page);
    }

    /// <summary>Opens the dashboard at <paramref name="url"/> and logs in with <paramref name="password"/>.</summary>
    public async Task LoginAsync(Uri url, string password)
    {
        await Page.GoToAsync(url.ToString());
        await Page.WaitForSelectorAsync("#password");
        await Page.TypeAsync("#password", password);
        await Page.ClickAsync("#login");
        await Page.WaitForSelectorAsync("nav");
    }

    /// <summary>Goes to the view at <paramref name="hash"/> without reloading the page.</summary>
    public Task GoAsync(string hash) => Page.EvaluateExpressionAsync($"location.hash = {System.Text.Json.JsonSerializer.Serialize(hash)}");

    public Task<string> TextAsync(string selector) =>
        Page.EvaluateFunctionAsync<string>("s => { const e = document.querySelector(s); return e ? e.textContent.trim() : null; }", selector);

    /// <summary>Waits until <paramref name="selector"/>'s text is <paramref name="text"/>.</summary>
    public Task WaitForTextAsync(string selector, string text, int timeoutMs = 30_000) =>
        WaitForAsync("(s, t) => { const e = document.querySelector(s); return e && e.textContent.trim() === t; }", $"'{selector}' to be '{text}'", selector, text, timeoutMs);

    /// <summary>Waits until <paramref name="selector"/>'s text contains <paramref name="text"/>.</summary>
    public Task WaitForContainsAsync(string selector, string text, int timeoutMs = 30_000) =>
        WaitForAsync("(s, t) => { const e = document.querySelector(s); return e && e.textContent.includes(t); }", $"'{selector}' to contain '{text}'", selector, text, timeoutMs);

    private async Task WaitForAsync(string predicate, string what, string selector, string text, int timeoutMs)
    {
        try
        {
            await Page.WaitForFunctionAsync(predicate, new WaitForFunctionOptions { Timeout = timeoutMs, PollingInterval = 50 }, selector, text);
        }
        catch (WaitTaskTimeoutException)
        {
            Assert.Fail($"waited {timeoutMs} ms for {what}; it is '{await TextAsync(selector)}'");
        }
    }

    /// <summary>
    /// Connects the console in <paramref name="box"/> with <paramref name="connect"/>, waits for the shell's prompt,
    /// types <c>echo hi</c> and waits for the line <c>hi</c>; a timeout names what the terminal showed (and saves a screenshot).
    /// </summary>
    public async Task EchoHiAsync(string connect, string box)
    {
        await Page.ClickAsync(connect);
        await Page.WaitForSelectorAsync($"{box} .xterm-rows");
        async Task WaitAsync(string predicate, string what)
        {
            try
            {
                await Page.WaitForFunctionAsync(predicate, new WaitForFunctionOptions { Timeout = 30_000, PollingInterval = 50 }, box);
            }
            catch (WaitTaskTimeoutException)
            {
                await ScreenshotAsync("failed-console");
                Assert.Fail($"waited 30 s for {what} in the console; it shows: '{await Page.EvaluateFunctionAsync<string>("b => document.querySelector(b + ' .xterm-rows').textContent", box)}'");
            }
        }

        await WaitAsync("b => document.querySelector(b + ' .xterm-rows').textContent.includes('#')", "the prompt");
        await Page.FocusAsync($"{box} .xterm-helper-textarea");
        await Page.Keyboard.TypeAsync("echo hi");
        await Page.Keyboard.PressAsync("Enter");
        await WaitAsync("b => [...document.querySelectorAll(b + ' .xterm-rows > div')].some(r => r.textContent.trim() === 'hi')", "the line hi");
    }

    /// <summary>Sets a textarea's or input's value as typing would (the page reads it on its buttons).</summary>
    public Task SetValueAsync(string selector, string value) =>
        Page.EvaluateFunctionAsync("(s, v) => { const e = document.querySelector(s); e.value = v; e.dispatchEvent(new Event('input')); }", selector, value);

    /// <summary>Saves a full-page screenshot as TestResults/dashboard/NAME.png (next to Containers.sln), and returns its path.</summary>
    public async Task<string> ScreenshotAsync(string name)
    {
        string dir = ArtifactsDirectory();
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".png");
        await Page.ScreenshotAsync(path, new ScreenshotOptions { FullPage = true });
        Assert.True(new FileInfo(path).Length > 10_000, $"the screenshot {path} is empty");
        return path;
    }

    public static string ArtifactsDirectory()
    {
        if (Environment.GetEnvironmentVariable("CONTAINERS_TEST_ARTIFACTS") is { Length: > 0 } given)
        {
            return Path.Combine(given, "dashboard");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Containers.sln")))
            {
                return Path.Combine(dir.FullName, "TestResults", "dashboard");
            }
        }

        return Path.Combine(AppContext.BaseDirectory, "TestResults", "dashboard");
    }

    public async ValueTask DisposeAsync()
    {
        await browser.CloseAsync();
        await browser.DisposeAsync();
    }
}
