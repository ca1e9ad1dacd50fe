using Containers.Compose;
using Containers.Runtime;
using Containers.Tests.Images;

namespace Containers.Tests.Compose;

/// <summary>up/down of real stacks: conditions, builds, scale with DNS round-robin, idempotency, failures that leave nothing.</summary>
public sealed class ComposeUpTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("compose-up-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private void Write(string name, string text)
    {
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private const string Stack = """
        name: shop
        services:
          db:
            image: localhost/busybox:compose
            command: sh -c "sleep 0.3; echo ready > /tmp/ready; echo $${DB_NAME} > /tmp/name; exec sleep 300"
            environment:
              DB_NAME: ${DB_NAME:-orders}
            volumes: [dbdata:/data]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ready"]
              interval: 100ms
              retries: 50
          migrate:
            image: localhost/busybox:compose
            command: sh -c "echo migrated > /data/migrated"
            volumes: [dbdata:/data]
            depends_on:
              db: {condition: service_healthy}
          web:
            build: ./web
            command: httpd -f -p 8080 -h /var/www
            ports: ["127.0.0.1::8080"]
            deploy: {replicas: 3}
            depends_on:
              migrate: {condition: service_completed_successfully}
        volumes:
          dbdata:
        """;

    [Fact]
    public async Task Course_stack_comes_up_in_order_scales_with_round_robin_dns_and_a_second_up_touches_nothing()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:compose");
        Write("compose.yaml", Stack);
        Write("web/Dockerfile", "FROM localhost/busybox:compose\nCOPY index.html /var/www/index.html\n");
        Write("web/index.html", "hello from web\n");
        var compose = new ComposeEngine(t.Engine);
        var project = ComposeLoader.Load(new ComposeOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string>() });
        var events = new List<string>();

        await compose.UpAsync(project, progress: new SyncProgress<string>(events.Add));

        var ps = compose.Ps("shop");
        Assert.Equal(["shop-db-1", "shop-migrate-1", "shop-web-1", "shop-web-2", "shop-web-3"], ps.Select(c => c.Name).Order());
        Assert.Equal(0, Assert.Single(ps, c => c.Name == "shop-migrate-1").ExitCode);
        Assert.True(events.IndexOf("Container shop-db-1  Healthy") < events.IndexOf("Container shop-migrate-1  Started"));
        Assert.True(events.IndexOf("Container shop-migrate-1  Exited") < events.IndexOf("Container shop-web-1  Started"));
        Assert.All(ps, c => Assert.Equal("shop", c.Spec.Labels[ComposeEngine.ProjectLabel]));

        // by service name from the test process, and round-robin DNS over the three replicas from a container
        using var http = new HttpClient(t.Engine.Networks.CreateHttpHandler("shop_default"));
        Assert.Equal("hello from web\n", await TestEngine.GetWhenUpAsync(http, "http://web:8080/index.html"));
        var lookup = await t.RunAsync(t.Busybox("nslookup", "web").WithNetwork("shop_default"));
        Assert.Equal(3, lookup.Stdout.Split('\n').Count(l => l.StartsWith("Address: 10.", StringComparison.Ordinal)));
        var migrated = await t.RunAsync(t.Busybox("cat", "/data/migrated").WithVolume("shop_dbdata", "/data").WithNetwork("none"));
        Assert.Equal("migrated\n", migrated.Stdout);

        // unchanged: nothing is recreated; a changed variable recreates that service alone
        var plan = await compose.PlanAsync(project);
        Assert.All(plan.Where(s => s.Service != "migrate"), s => Assert.Equal("keep", s.Action));
        var changed = ComposeLoader.Load(new ComposeOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string> { ["DB_NAME"] = "billing" } });
        var diff = await compose.PlanAsync(changed);
        Assert.Equal("recreate", Assert.Single(diff, s => s.Service == "db").Action);
        Assert.Contains("environment", Assert.Single(diff, s => s.Service == "db").Reason, StringComparison.Ordinal);
        Assert.All(diff.Where(s => s.Service == "web"), s => Assert.Equal("keep", s.Action));
        var webIds = compose.Ps("shop").Where(c => c.Name.StartsWith("shop-web", StringComparison.Ordinal)).Select(c => c.Id).Order().ToArray();
        await compose.UpAsync(changed);
        Assert.Equal(webIds, compose.Ps("shop").Where(c => c.Name.StartsWith("shop-web", StringComparison.Ordinal)).Select(c => c.Id).Order().ToArray());
        Assert.Equal("billing\n", (await t.Engine.Get("shop-db-1").ExecAsync(["cat", "/tmp/name"])).Stdout);

        // scale down to 1
        await compose.UpAsync(changed, new UpOptions { Scale = ImmutableDictionaryOf("web", 1) });
        Assert.Single(compose.Ps("shop"), c => c.Name.StartsWith("shop-web", StringComparison.Ordinal));

        await compose.DownAsync(changed, volumes: true);
        Assert.Empty(compose.Ps("shop"));
        Assert.DoesNotContain(t.Engine.Networks.List(), n => n.Name == "shop_default");
        Assert.DoesNotContain(t.Engine.Volumes.List(), v => v.Name == "shop_dbdata");
    }

    [Fact]
    public async Task A_dependency_that_never_gets_healthy_fails_up_naming_it_and_leaves_nothing()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:compose");
        Write("compose.yaml", """
            services:
              db:
                image: localhost/busybox:compose
                command: sleep 300
                healthcheck:
                  test: ["CMD-SHELL", "echo database is not ready; exit 1"]
                  interval: 100ms
                  retries: 2
              web:
                image: localhost/busybox:compose
                command: sleep 300
                depends_on:
                  db: {condition: service_healthy}
            """);
        var compose = new ComposeEngine(t.Engine);
        var project = ComposeLoader.Load(new ComposeOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string>(), ProjectName = "broken" });

        var e = await Assert.ThrowsAsync<ComposeException>(() => compose.UpAsync(project));

        Assert.Contains("broken-db-1 is unhealthy", e.Message, StringComparison.Ordinal);
        Assert.Contains("database is not ready", e.Message, StringComparison.Ordinal);
        Assert.Empty(compose.Ps("broken"));
        Assert.DoesNotContain(t.Engine.Networks.List(), n => n.Name == "broken_default");
    }

    [Fact]
    public async Task A_services_userns_mode_gives_it_a_user_namespace_of_its_own()
    {
        var subids = Path.Combine(dir, "subid");
        File.WriteAllText(subids, "containers:700000:131072\n");
        await using var t = new TestEngine(configure: o => o with { SubordinateUidFile = subids, SubordinateGidFile = subids });
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:compose");
        Write("compose.yaml", """
            services:
              isolated:
                image: localhost/busybox:compose
                command: sleep 300
                userns_mode: auto
                volumes: ["data:/data"]
              plain:
                image: localhost/busybox:compose
                command: sleep 300
                userns_mode: host
            volumes:
              data: {}
            """);
        var compose = new ComposeEngine(t.Engine);
        var project = ComposeLoader.Load(new ComposeOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string>(), ProjectName = "userns" });
        Assert.Empty(project.Warnings);
        await compose.UpAsync(project);
        var isolated = await t.Engine.Get("userns-isolated-1").ExecAsync(["sh", "-c", "tr -s ' ' < /proc/self/uid_map; touch /data/f; stat -c %u /data/f"]);
        Assert.Equal(" 0 700000 65536\n0\n", isolated.Stdout);
        Assert.Equal(" 0 0 4294967295\n", (await t.Engine.Get("userns-plain-1").ExecAsync(["sh", "-c", "tr -s ' ' < /proc/self/uid_map"])).Stdout);
        await compose.DownAsync(project, volumes: true);
    }

    [Fact]
    public async Task Services_share_network_pid_ipc_and_volumes_with_another_service_and_run_init_and_privileged()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:compose");
        Write("compose.yaml", """
            services:
              main:
                image: localhost/busybox:compose
                command: sh -c "echo main > /dev/shm/from-main; httpd -p 8080 -h /srv; exec sleep 300"
                ipc: shareable
                init: true
                volumes: ["shared:/srv"]
              sidecar:
                image: localhost/busybox:compose
                command: sleep 300
                network_mode: service:main
                pid: service:main
                ipc: service:main
                volumes_from: ["main:ro"]
              tools:
                image: localhost/busybox:compose
                command: sleep 300
                privileged: true
                devices: ["/dev/null:/dev/other-null"]
                stop_grace_period: 1s
            volumes:
              shared: {}
            """);
        var compose = new ComposeEngine(t.Engine);
        var project = ComposeLoader.Load(new ComposeOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string>(), ProjectName = "modes" });
        Assert.Empty(project.Warnings);
        Assert.Contains("main", project.Services["sidecar"].DependsOn.Keys); // what it shares starts first

        await compose.UpAsync(project);
        var main = t.Engine.Get("modes-main-1");
        var sidecar = t.Engine.Get("modes-sidecar-1");
        await main.ExecAsync(["sh", "-c", "echo served > /srv/index.html"]);
        string? page = null;
        for (var i = 0; i < 50 && page is null; i++)
        {
            var r = await sidecar.ExecAsync(["wget", "-qO-", "http://127.0.0.1:8080/"]); // main's localhost: one network namespace
            page = r.ExitCode == 0 ? r.Stdout : null;
            await Task.Delay(page is null ? 100 : 0);
        }

        Assert.Equal("served\n", page);
        Assert.Equal("main\n", (await sidecar.ExecAsync(["cat", "/dev/shm/from-main"])).Stdout);
        Assert.Contains("/sbin/docker-init", (await sidecar.ExecAsync(["cat", "/proc/1/cmdline"])).Stdout, StringComparison.Ordinal); // main's pid namespace, main's init
        Assert.Equal("served\n", (await sidecar.ExecAsync(["cat", "/srv/index.html"])).Stdout);
        Assert.NotEqual(0, (await sidecar.ExecAsync(["sh", "-c", "echo x > /srv/index.html"])).ExitCode); // volumes_from main:ro
        var tools = await t.Engine.Get("modes-tools-1").ExecAsync(["sh", "-c", "grep CapEff /proc/self/status; ls /dev/other-null"]);
        Assert.DoesNotContain("a80425fb", tools.Stdout, StringComparison.Ordinal);
        Assert.Contains("/dev/other-null", tools.Stdout, StringComparison.Ordinal);
        await compose.DownAsync(project, volumes: true);
    }

    [Fact]
    public async Task A_port_clash_fails_up_and_a_crashing_service_is_restarted_by_its_policy()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:compose");
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        Write("compose.yaml", $$"""
            services:
              flaky:
                image: localhost/busybox:compose
                command: sh -c "sleep 0.2; exit 3"
                restart: on-failure
              web:
                image: localhost/busybox:compose
                command: sleep 300
                ports: ["127.0.0.1:{{port}}:80"]
            """);
        var compose = new ComposeEngine(t.Engine);
        var project = ComposeLoader.Load(new ComposeOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string>(), ProjectName = "clash" });

        var e = await Assert.ThrowsAsync<ComposeException>(() => compose.UpAsync(project));
        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        Assert.Empty(compose.Ps("clash"));

        taken.Stop();
        await compose.UpAsync(project, new UpOptions { Services = ["flaky"] });
        ContainerState? flaky = null;
        for (var i = 0; i < 100 && (flaky = t.Engine.Get("clash-flaky-1").State).RestartCount < 2; i++)
        {
            await Task.Delay(100);
        }

        Assert.True(flaky!.RestartCount >= 2, $"restarted {flaky.RestartCount} times");
        await compose.DownAsync(project, volumes: true);
    }

    [Fact]
    public async Task Course_backend_with_database_named_network_bind_volume_container_name_and_hostname_through_the_fluent_api()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:compose");
        Write("backend/Dockerfile", "FROM localhost/busybox:compose\nRUN mkdir -p /srv && echo '{\"orders\": 3}' > /srv/api.json\nEXPOSE 3000\nCMD [\"httpd\", \"-f\", \"-p\", \"3000\", \"-h\", \"/srv\"]\n");
        Write("seed/init.sql", "create table orders;\n");
        Write("compose.yaml", """
            services:
              database:
                image: localhost/busybox:compose
                container_name: course-db
                hostname: dbhost
                command: sh -c "cp /seed/init.sql /tmp/loaded && exec sleep 300"
                environment:
                  POSTGRES_PASSWORD: ${DB_PASSWORD:?the database needs DB_PASSWORD}
                volumes:
                  - ./seed:/seed:ro
                networks: [backnet]
                restart: unless-stopped
              backend:
                build: ./backend
                ports: ["127.0.0.1::3000"]
                networks: [backnet, frontnet]
                depends_on: [database]
              frontend:
                image: localhost/busybox:compose
                command: sh -c "sleep 300"
                networks: [frontnet]
                depends_on: [backend]
            networks:
              backnet:
              frontnet:
            """);

        var missing = await Assert.ThrowsAsync<ComposeException>(() => ComposeStack.FromFile(Path.Combine(dir, "compose.yaml")).WithEngine(t.Engine).UpAsync());
        Assert.Contains("the database needs DB_PASSWORD", missing.Message, StringComparison.Ordinal);

        await using var stack = await ComposeStack.FromFile(Path.Combine(dir, "compose.yaml")).WithEngine(t.Engine).WithEnvironment("DB_PASSWORD", "s3cret").WithProjectName("course").UpAsync();

        var db = stack.Services["database"].Container;
        Assert.Equal("course-db", db.Name);
        Assert.Equal("dbhost\n", (await db.ExecAsync(["hostname"])).Stdout);
        Assert.Equal("create table orders;\n", (await db.ExecAsync(["cat", "/tmp/loaded"])).Stdout);
        Assert.NotEqual(0, (await db.ExecAsync(["sh", "-c", "echo x > /seed/new"])).ExitCode); // read-only bind

        // the frontend reaches the backend by name on their shared network; the database is not on it
        var front = stack.Services["frontend"];
        var lookup = await front.ExecAsync(["sh", "-c", "wget -qO- http://backend:3000/api.json; nslookup database >/dev/null || echo no-database"]);
        Assert.Contains("{\"orders\": 3}", lookup.Stdout, StringComparison.Ordinal);
        Assert.Contains("no-database", lookup.Stdout, StringComparison.Ordinal);

        // and the test process reaches it by name with no port, or through its published port
        using var http = new HttpClient(stack.Services["backend"].CreateHttpHandler());
        Assert.Equal("{\"orders\": 3}\n", await TestEngine.GetWhenUpAsync(http, "http://backend:3000/api.json"));
        Assert.Equal("{\"orders\": 3}\n", await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{stack.Services["backend"].GetHostPort(3000)}/api.json"));
    }

    [Fact]
    public async Task A_dependent_with_depends_on_restart_is_restarted_when_its_dependency_is_recreated()
    {
        await using var t = new TestEngine();
        await TestImages.ImportBusyboxAsync(t.Engine, "localhost/busybox:compose");
        string Yaml(string version) => $$"""
            services:
              db:
                image: localhost/busybox:compose
                command: sleep 300
                environment: {VERSION: "{{version}}"}
                stop_grace_period: 0s
              api:
                image: localhost/busybox:compose
                command: sleep 300
                stop_grace_period: 0s
                depends_on:
                  db: {condition: service_started, restart: true}
              worker:
                image: localhost/busybox:compose
                command: sleep 300
                stop_grace_period: 0s
                depends_on: [db]
            """;
        Write("compose.yaml", Yaml("1"));
        var compose = new ComposeEngine(t.Engine);
        var options = new ComposeOptions { WorkingDirectory = dir, Environment = new Dictionary<string, string>(), ProjectName = "restarts" };
        await compose.UpAsync(ComposeLoader.Load(options), new UpOptions { InProcess = true });
        var started = compose.Ps("restarts").ToDictionary(c => c.Name, c => c.StartedAt);

        Write("compose.yaml", Yaml("2"));
        await compose.UpAsync(ComposeLoader.Load(options), new UpOptions { InProcess = true });

        var after = compose.Ps("restarts").ToDictionary(c => c.Name, c => c);
        Assert.True(after["restarts-api-1"].StartedAt > started["restarts-api-1"], "api was not restarted");
        Assert.Equal(started["restarts-worker-1"], after["restarts-worker-1"].StartedAt); // no restart: true, left alone
        Assert.Equal(ContainerStatus.Running, after["restarts-api-1"].Status);
        await compose.DownAsync(ComposeLoader.Load(options));
    }

    private static System.Collections.Immutable.ImmutableDictionary<string, int> ImmutableDictionaryOf(string k, int v) =>
        System.Collections.Immutable.ImmutableDictionary<string, int>.Empty.Add(k, v);
}
