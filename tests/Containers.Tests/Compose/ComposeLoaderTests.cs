using Containers.Compose;

namespace Containers.Tests.Compose;

/// <summary>Loading compose files: discovery, interpolation, env files, merging, extends, include, profiles, validation errors.</summary>
public sealed class ComposeLoaderTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("compose-load-").FullName;

    public void Dispose() => Directory.Delete(dir, true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    private ComposeProject Load(Dictionary<string, string>? env = null, string[]? files = null, string[]? profiles = null, string? cwd = null) =>
        ComposeLoader.Load(new ComposeOptions { WorkingDirectory = cwd ?? dir, Environment = env ?? [], Files = [.. files ?? []], Profiles = [.. profiles ?? []] });

    [Theory]
    [InlineData("$V", "v")]
    [InlineData("${V}x", "vx")]
    [InlineData("${U:-d}", "d")]
    [InlineData("${E:-d}", "d")]
    [InlineData("${E-d}", "")]
    [InlineData("${U-${V}}", "v")]
    [InlineData("${V:+alt}", "alt")]
    [InlineData("${E:+alt}", "")]
    [InlineData("${E+alt}", "alt")]
    [InlineData("$$V", "$V")]
    [InlineData("a$", "a$")]
    public void Interpolation_follows_the_spec(string text, string expected)
    {
        var env = new Dictionary<string, string> { ["V"] = "v", ["E"] = "" };
        Assert.Equal(expected, Interpolation.Substitute(text, k => env.GetValueOrDefault(k)));
    }

    [Fact]
    public void A_required_variable_names_its_message_file_and_line()
    {
        Write("compose.yaml", "services:\n  web:\n    image: busybox\n    environment:\n      DB: ${DB_URL:?set DB_URL first}\n");
        var e = Assert.Throws<ComposeException>(() => Load());
        Assert.Contains("compose.yaml:5", e.Message, StringComparison.Ordinal);
        Assert.Contains("services.web.environment.DB", e.Message, StringComparison.Ordinal);
        Assert.Contains("set DB_URL first", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Discovery_dot_env_override_and_shell_precedence()
    {
        Write("compose.yaml", "version: '3.8'\nname: ${NAME:-fallback}\nservices:\n  web:\n    image: busybox:${TAG}\n    ports: ['${PORT}:80']\n    environment: [A=1, B]\n    command: echo \"hello world\"\n");
        Write("compose.override.yaml", "services:\n  web:\n    ports: ['9090:90']\n    environment:\n      A: 2\n");
        Write(".env", "TAG=1.36\nPORT=8080\nNAME=fromdotenv\nB=from-env-file\n");
        Directory.CreateDirectory(Path.Combine(dir, "sub/deeper"));

        var p = Load(new Dictionary<string, string> { ["TAG"] = "shell" }, cwd: Path.Combine(dir, "sub/deeper"));

        Assert.Equal("fromdotenv", p.Name);
        var web = p.Services["web"];
        Assert.Equal("busybox:shell", web.Image); // the shell wins over .env
        Assert.Equal([8080, 9090], web.Ports.Select(x => x.HostPort));
        Assert.Equal("2", web.Environment["A"]);
        Assert.Equal("from-env-file", web.Environment["B"]);
        Assert.Equal(["echo", "hello world"], web.Command!.Value.ToArray());
        Assert.Contains(p.Warnings, w => w.Contains("`version` is obsolete", StringComparison.Ordinal));
        Assert.Equal(["default"], web.Networks.Keys);
        Assert.Equal("fromdotenv_default", p.Networks["default"].Name);
    }

    [Fact]
    public void Extends_include_anchors_and_profiles()
    {
        Write("base/common.yaml", "services:\n  base:\n    image: busybox\n    environment: {FROM_BASE: '1'}\n    env_file: base.env\n");
        Write("base/base.env", "IN_FILE=yes\n");
        Write("lib/db.yaml", "services:\n  db:\n    image: busybox\n    command: sleep 100\n");
        Write("compose.yaml", """
            include:
              - lib/db.yaml
            x-common: &common
              restart: always
              labels: {team: a}
            services:
              web:
                <<: *common
                extends: {file: base/common.yaml, service: base}
                environment: {OWN: '2'}
                depends_on:
                  db: {condition: service_healthy}
              debug:
                image: busybox
                profiles: [debug]
            """);
        var p = Load();
        var web = p.Services["web"];
        Assert.Equal("always", web.Restart.Name);
        Assert.Equal("a", web.Labels["team"]);
        Assert.Equal(["FROM_BASE", "IN_FILE", "OWN"], web.Environment.Keys);
        Assert.Equal("service_healthy", web.DependsOn["db"].Condition);
        Assert.Contains("db", p.Services.Keys);
        Assert.DoesNotContain("debug", p.Services.Keys);
        Assert.Equal(["debug"], p.DisabledServices.ToArray());
        Assert.Contains("debug", Load(profiles: ["debug"]).Services.Keys);
        Assert.Equal(["db", "debug", "web"], Load(profiles: ["*"]).StartOrder().Select(s => s.Name).Order());
        Assert.Equal("db", p.StartOrder()[0].Name);
    }

    [Fact]
    public void A_merge_key_yields_to_the_keys_set_beside_it_and_the_first_of_several_anchors_wins()
    {
        Write("compose.yaml", """
            x-base: &base
              image: busybox
              restart: always
              labels: {team: a}
            x-more: &more
              restart: on-failure
              hostname: from-more
            services:
              web:
                <<: *base
                restart: unless-stopped
              api:
                <<: [*base, *more]
                labels: {team: b}
            """);
        var p = Load();
        Assert.Equal("unless-stopped", p.Services["web"].Restart.Name); // the explicit key wins, not "Duplicate key"
        Assert.Equal("busybox", p.Services["web"].Image);
        Assert.Equal("always", p.Services["api"].Restart.Name); // the first anchor wins over the second
        Assert.Equal("from-more", p.Services["api"].Hostname);
        Assert.Equal("b", p.Services["api"].Labels["team"]);
    }

    [Theory]
    [InlineData("services:\n  web:\n    <<: [1]\n    image: busybox\n", "compose.yaml:3", "services.web: a merge key (<<) takes a mapping or a list of mappings")]
    [InlineData("services:\n  web:\n    image: busybox\n    image: other\n", "compose.yaml:4", "Duplicate key")]
    [InlineData("services:\n  web:\n    image: busybox\n    imagee: x\n", "compose.yaml:4", "services.web.imagee: additional property imagee is not allowed")]
    [InlineData("services:\n  web:\n    image: busybox\n    ports:\n      - 80\n      - {target: nope}\n", "compose.yaml:6", "services.web.ports[1]")]
    [InlineData("services:\n  web:\n    image: busybox\n    depends_on: [api]\n  api:\n    image: busybox\n    depends_on: [web]\n", "", "dependency cycle detected")]
    [InlineData("services:\n  web:\n    extends: web\n", "compose.yaml:3", "circular reference")]
    [InlineData("services:\n  web:\n    image: busybox\n    networks: [missing]\n", "compose.yaml:4", "undefined network missing")]
    [InlineData("services:\n  web:\n    image: busybox\n    volumes: ['data:/data']\n", "compose.yaml:4", "undefined volume data")]
    [InlineData("services:\n  web:\n    image: [busybox\n", "compose.yaml:", "invalid YAML")]
    [InlineData("services:\n  web:\n    build: {dockerfile: x}\n    restart: sometimes\n", "compose.yaml:4", "services.web.restart")]
    public void Bad_files_are_refused_with_file_line_and_path(string yaml, string where, string what)
    {
        Write("compose.yaml", yaml);
        var e = Assert.Throws<ComposeException>(() => Load());
        Assert.Contains(where, e.Message, StringComparison.Ordinal);
        Assert.Contains(what, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void No_file_is_a_clear_error()
    {
        var e = Assert.Throws<ComposeException>(() => Load(cwd: Directory.CreateTempSubdirectory("compose-none-").FullName));
        Assert.Contains("no configuration file provided", e.Message, StringComparison.Ordinal);
    }
}
