using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Containers;
using Containers.Dashboard;
using Containers.Orchestration;
using Containers.Tests.Orchestration;
using PuppeteerSharp;

// dashboard-latency [containers=200] [pods=1000] [rounds=15]
int containerCount = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
int podCount = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 15;
string root = Path.Combine(Path.GetTempPath(), "containers-dashboard-bench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(root);
var engine = new ContainerEngine(new EngineOptions { Root = Path.Combine(root, "engine"), BridgeName = "cdbench0", BridgeSubnet = "10.232.0.0/16", MachineStateDirectory = Path.Combine(root, "machine") });
Cluster? cluster = null;
try
{
    // a busybox image from the machine's /bin/busybox
    using (var tar = new MemoryStream())
    {
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin/") { Mode = (UnixFileMode)0x1ed });
            var busybox = new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { Mode = (UnixFileMode)0x1ed, DataStream = File.OpenRead("/bin/busybox") };
            writer.WriteEntry(busybox);
            foreach (var link in new[] { "sh", "sleep", "true" })
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/" + link) { LinkName = "busybox" });
            }
        }

        tar.Position = 0;
        await engine.Images.ImportAsync(tar, "localhost/busybox:bench", new Containers.Images.Oci.ContainerConfig { Env = ["PATH=/bin"], Cmd = ["sh"] });
    }

    var clock = Stopwatch.StartNew();
    var runtime = new RecordingPodRuntime();
    cluster = await new ClusterBuilder(Path.Combine(root, "cluster")).WithNodes(Math.Max(1, podCount / 100)).WithNodeCapacity("200", "400Gi").WithPort(0).WithNetworks("10.233.0.0/16", "10.234.0.0/16").WithRuntime(runtime).StartAsync(CancellationToken.None);
    await using var server = await DashboardServer.StartAsync(new DashboardOptions
    {
        DataDirectory = Path.Combine(root, "dashboard"),
        Engine = engine,
        KubeconfigPath = cluster.KubeconfigPath,
        AdminPassword = "benchmark-password",
        Port = 0,
    });

    // a script's session: the containers and the pods, through the dashboard's own API
    using var api = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = true }) { BaseAddress = server.Url, Timeout = TimeSpan.FromMinutes(5) };
    var login = await api.PostAsJsonAsync("api/auth/login", new { password = "benchmark-password" });
    login.EnsureSuccessStatusCode();
    api.DefaultRequestHeaders.Add(DashboardEndpoints.CsrfHeader, JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("csrf").GetString());
    async Task<string> CreateAsync(string name, string[] cmd)
    {
        var r = await api.PostAsJsonAsync($"api/docker/containers/create?name={name}", new { Image = "localhost/busybox:bench", Cmd = cmd, HostConfig = new { NetworkMode = "none" } });
        r.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement.GetProperty("Id").GetString()!;
    }

    for (int i = 0; i < containerCount - 1; i++)
    {
        string id = await CreateAsync($"c{i:D3}", ["sleep", "3600"]);
        if (i % 2 == 0)
        {
            (await api.PostAsync($"api/docker/containers/{id}/start", null)).EnsureSuccessStatusCode();
        }
    }

    string probe = await CreateAsync("probe", ["sleep", "3600"]);
    Console.WriteLine($"{containerCount} containers ({containerCount / 2} running) in {clock.Elapsed.TotalSeconds:F1} s");
    clock.Restart();
    var deployment = await api.PostAsJsonAsync("api/k8s/apis/apps/v1/namespaces/default/deployments", new
    {
        apiVersion = "apps/v1",
        kind = "Deployment",
        metadata = new { name = "many" },
        spec = new
        {
            replicas = podCount,
            selector = new { matchLabels = new { app = "many" } },
            template = new { metadata = new { labels = new { app = "many" } }, spec = new { containers = new[] { new { name = "c", image = "localhost/busybox:bench" } } } },
        },
    });
    deployment.EnsureSuccessStatusCode();
    while (!(JsonDocument.Parse(await api.GetStringAsync("api/k8s/apis/apps/v1/namespaces/default/deployments/many")).RootElement is var d
        && d.TryGetProperty("status", out var status) && status.TryGetProperty("readyReplicas", out var ready) && ready.GetInt32() >= podCount))
    {
        await Task.Delay(200);
    }

    Console.WriteLine($"{podCount} pods Ready on {Math.Max(1, podCount / 100)} nodes in {clock.Elapsed.TotalSeconds:F1} s");

    await using var browser = await Puppeteer.LaunchAsync(new LaunchOptions
    {
        ExecutablePath = File.Exists("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : "/usr/bin/chromium",
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
    var page = await browser.NewPageAsync();
    await page.SetViewportAsync(new ViewPortOptions { Width = 1440, Height = 1000 });
    await page.GoToAsync(server.Url.ToString());
    await page.TypeAsync("#password", "benchmark-password");
    await page.ClickAsync("#login");
    await page.WaitForSelectorAsync("nav");

    // page loads: a fresh document each round (the session cookie stays), until the view shows what it counts
    async Task<List<double>> LoadAsync(string hash, string ready, string? url = null)
    {
        var times = new List<double>();
        for (int i = 0; i <= rounds; i++)
        {
            var t = Stopwatch.StartNew();
            await page.GoToAsync("about:blank");
            t.Restart();
            await page.GoToAsync(url ?? server.Url + "#" + hash, new NavigationOptions { WaitUntil = [WaitUntilNavigation.DOMContentLoaded], Timeout = 60_000 });
            await page.WaitForFunctionAsync(ready, new WaitForFunctionOptions { PollingInterval = 5, Timeout = 60_000 });
            if (i > 0)
            {
                times.Add(t.Elapsed.TotalMilliseconds); // the first round warms the server's paths
            }
        }

        return times;
    }

    var floor = await LoadAsync("", "() => document.readyState !== 'loading'", server.Url + "assets/logo.svg");
    var home = await LoadAsync("/", $"() => document.querySelector('#count-containers')?.textContent === '{containerCount}'");
    var list = await LoadAsync("/containers", $"() => document.querySelectorAll('#containers tbody tr[data-name]').length === {containerCount}");
    var clusterPage = await LoadAsync("/k8s", $"() => document.querySelector('#count-pods')?.textContent === '{podCount}'");
    var pods = await LoadAsync("/k8s/pods", $"() => document.querySelectorAll('#pods tbody tr[data-name]').length === {podCount}");

    // state change to page: the list open, the probe started and killed through the API; the page's own clock notes
    // when the probe's state cell shows the new state
    await page.GoToAsync(server.Url + "#/containers");
    await page.WaitForFunctionAsync($"() => document.querySelectorAll('#containers tbody tr[data-name]').length === {containerCount}");
    await page.EvaluateExpressionAsync("""
        window.changes = [];
        new MutationObserver(() => {
          const cell = document.querySelector('#containers tr[data-name=probe] .state');
          const text = cell ? cell.textContent : null;
          if (text && (window.changes.length === 0 || window.changes[window.changes.length - 1].text !== text)) window.changes.push({ text, at: Date.now() });
        }).observe(document.querySelector('#main'), { childList: true, subtree: true, characterData: true });
        """);
    var toRunning = new List<double>();
    var toExited = new List<double>();
    for (int i = 0; i < rounds; i++)
    {
        foreach (var (path, state, into) in new[] { ($"api/docker/containers/{probe}/start", "running", toRunning), ($"api/docker/containers/{probe}/kill", "exited", toExited) })
        {
            (await api.PostAsync(path, null)).EnsureSuccessStatusCode();
            double changed = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(); // the engine's state has changed once the API answers
            double shown = 0;
            for (var deadline = DateTime.UtcNow.AddSeconds(30); shown == 0 && DateTime.UtcNow < deadline; await Task.Delay(5))
            {
                shown = await page.EvaluateFunctionAsync<double>("(s, after) => { const c = window.changes.filter(x => x.text === s && x.at >= after - 50); return c.length ? c[0].at : 0; }", state, changed);
            }

            into.Add(shown - changed);
            await Task.Delay(300);
        }
    }

    // the parts: each request a page makes, timed from this process through the dashboard (medians of the rounds)
    foreach (var path in new[] { "api/auth/status", "api/docker/containers/json?all=1", "api/docker/images/json", "api/docker/volumes", "api/docker/networks", "api/docker/info", "api/stacks",
        "api/k8s/api/v1/nodes", "api/k8s/api/v1/pods", "api/k8s/apis/apps/v1/deployments", "api/k8s/api/v1/services", "api/k8s/api/v1/namespaces", "assets/app.js", "assets/lib/xterm.js" })
    {
        var times = new List<double>();
        long size = 0;
        for (int i = 0; i <= rounds; i++)
        {
            var t = Stopwatch.StartNew();
            var body = await api.GetByteArrayAsync(path);
            size = body.Length;
            if (i > 0)
            {
                times.Add(t.Elapsed.TotalMilliseconds);
            }
        }

        times.Sort();
        Console.WriteLine($"  GET {path}: median {times[times.Count / 2]:F1} ms, {size / 1024.0:F0} KiB");
    }

    static string Summary(List<double> v)
    {
        v.Sort();
        return $"median {v[v.Count / 2]:F0} ms, min {v[0]:F0}, p90 {v[(int)(v.Count * 0.9)]:F0}, max {v[^1]:F0} (n={v.Count})";
    }

    Console.WriteLine($"the browser's floor (a 1 KB SVG from the same server): {Summary(floor)}");
    Console.WriteLine($"home page, {containerCount} containers: {Summary(home)}");
    Console.WriteLine($"containers list, {containerCount} rows: {Summary(list)}");
    Console.WriteLine($"cluster page, {podCount} pods: {Summary(clusterPage)}");
    Console.WriteLine($"pods list, {podCount} rows: {Summary(pods)}");
    Console.WriteLine($"state change to page, created/exited -> running: {Summary(toRunning)}");
    Console.WriteLine($"state change to page, running -> exited (kill): {Summary(toExited)}");
}
finally
{
    if (cluster is not null)
    {
        await cluster.RemoveWorkloadsAsync();
        await cluster.DisposeAsync();
    }

    foreach (var c in engine.List(all: true))
    {
        await engine.Get(c.Id).RemoveAsync(force: true);
    }

    await engine.DisposeAsync();
    Directory.Delete(root, recursive: true);
}
