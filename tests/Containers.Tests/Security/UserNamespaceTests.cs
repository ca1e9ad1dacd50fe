using Containers.Runtime;

namespace Containers.Tests.Security;

/// <summary>
/// Containers in user namespaces, for real: <c>--uidmap/--gidmap</c>, <c>--userns auto</c>, the engine-wide
/// userns-remap, idmapped layers and volumes, exec, networking, and what a user namespace refuses.
/// </summary>
public sealed class UserNamespaceTests : IDisposable
{
    private static readonly IdMapping[] Map = [new(0, 100000, 65536)];

    // subordinate ids of our own: the machine's /etc/subuid is not ours to change
    private readonly string subids = Path.Combine(Path.GetTempPath(), "containers-tests-subid-" + Guid.NewGuid().ToString("N")[..8]);

    public UserNamespaceTests() => File.WriteAllText(subids, "someone:500000:65536\ncontainers:600000:200000\nremapper:900000:65536\n");

    public void Dispose() => File.Delete(subids);

    private TestEngine Engine(string? remap = null) =>
        new(configure: o => o with { SubordinateUidFile = subids, SubordinateGidFile = subids, UsernsRemap = remap });

    [Fact]
    public async Task Root_inside_is_an_unprivileged_host_user_whose_files_land_as_its_host_ids()
    {
        await using var t = Engine();
        var hostFile = Path.Combine(t.Root, "host-secret");
        File.WriteAllText(hostFile, "host\n"); // root's, 0644: root in the container is no one to it
        await using var c = await t.Busybox("sh", "-c", "sleep 60").WithIdMaps(Map).WithBindMount(hostFile, "/secret").StartAsync();
        var pid = c.State.Pid;
        Assert.Equal("100000", HostUid(pid));
        Assert.NotEqual(File.ResolveLinkTarget("/proc/self/ns/user", false)!.FullName, File.ResolveLinkTarget($"/proc/{pid}/ns/user", false)!.FullName);

        var r = await c.ExecAsync(["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '; stat -c '%u:%g' /bin/busybox /etc/hosts /; grep CapEff /proc/self/status; "
            + "touch /made && echo made; echo x >> /secret && echo WROTE-HOST-FILE; chown 1000:1000 /made && echo chowned"]);
        Assert.Equal("0\n 0 100000 65536\n 0 100000 65536\n0:0\n0:0\n0:0\nCapEff:\t00000000a80425fb\nmade\nchowned\n", r.Stdout.Replace("sh: can't create /secret: Permission denied\n", "", StringComparison.Ordinal));
        Assert.Equal("host\n", File.ReadAllText(hostFile));

        // on disk, the container's files are the host ids its ids map to; the image's stay root's
        var upper = Path.Combine(t.Root, "containers", c.Id, "upper");
        Assert.Equal((101000, 101000), Owner(Path.Combine(upper, "made")));
        Assert.Equal((100000, 100000), Owner(upper));
        Assert.Equal((0, 0), Owner(Path.Combine(TestRootfs.Path, "bin/busybox")));

        // exec enters the same namespace, as any user of it
        var exec = await ExecAsUserAsync(c, "1000", "sh", "-c", "readlink /proc/self/ns/user; id -u");
        Assert.Equal(File.ResolveLinkTarget($"/proc/{pid}/ns/user", false)!.FullName.Split('/')[^1], exec.Split('\n')[0]);
        Assert.Equal("1000", exec.Split('\n')[1]);
        await c.RemoveAsync(force: true);
        Assert.Empty(HelpersLeft());
    }

    [Fact]
    public async Task Named_volumes_are_idmapped_so_containers_of_any_map_and_none_share_them()
    {
        await using var t = Engine();
        var write = await t.RunAsync(t.Busybox("sh", "-c", "touch /data/by-root && mkdir /data/app && chown 1000:1000 /data/app && su -s /bin/sh -c 'touch /data/app/by-1000' nobody 2>/dev/null; stat -c '%u:%g %n' /data/by-root /data/app")
            .WithUserNamespace("auto").WithVolume("shared", "/data"));
        Assert.Equal(0, write.ExitCode);
        Assert.Equal("0:0 /data/by-root\n1000:1000 /data/app\n", write.Stdout);

        // on disk as inside: ids 0 and 1000, not the range the first container had
        var data = Path.Combine(t.Root, "volumes", "shared", "_data");
        Assert.Equal((0, 0), Owner(Path.Combine(data, "by-root")));
        Assert.Equal((1000, 1000), Owner(Path.Combine(data, "app")));

        // another range, and the host's namespace: the same owners
        var other = await t.RunAsync(t.Busybox("sh", "-c", "cat /proc/self/uid_map | tr -s ' '; stat -c '%u:%g' /data/by-root /data/app").WithIdMaps([new(0, 200000, 65536)]).WithVolume("shared", "/data"));
        Assert.Equal(" 0 200000 65536\n0:0\n1000:1000\n", other.Stdout);
        var host = await t.RunAsync(t.Busybox("stat", "-c", "%u:%g", "/data/by-root").WithVolume("shared", "/data"));
        Assert.Equal("0:0\n", host.Stdout);
    }

    [Fact]
    public async Task Without_idmapped_mounts_layers_are_copied_once_per_map_with_their_owners_shifted()
    {
        await using var t = new TestEngine(configure: o => o with { IdMappedMounts = false });
        var r = await t.RunAsync(t.Busybox("sh", "-c", "stat -c %u:%g /bin/busybox /; touch /data/f && stat -c %u:%g /data/f").WithIdMaps(Map).WithVolume("plain", "/data"));
        Assert.True(r.ExitCode == 0, r.Stdout);
        Assert.Equal("0:0\n0:0\n0:0\n", r.Stdout);

        // the copy: its owners are the host ids; the layer itself untouched; a second container reuses the copy
        var copies = Directory.GetDirectories(Path.Combine(t.Root, "idmapped"));
        var busybox = Directory.EnumerateFiles(Assert.Single(copies), "busybox", SearchOption.AllDirectories).Single();
        Assert.Equal((100000, 100000), Owner(busybox));
        Assert.Equal((0, 0), Owner(Path.Combine(TestRootfs.Path, "bin/busybox")));
        var made = Directory.GetLastWriteTimeUtc(Path.GetDirectoryName(Path.GetDirectoryName(busybox))!);
        Assert.Equal(0, (await t.RunAsync(t.Busybox("true").WithIdMaps(Map))).ExitCode);
        Assert.Equal(made, Directory.GetLastWriteTimeUtc(Path.GetDirectoryName(Path.GetDirectoryName(busybox))!));

        // the volume, not idmapped: its root was given to the container's root, what it wrote is the host ids
        Assert.Equal((100000, 100000), Owner(Path.Combine(t.Root, "volumes", "plain", "_data", "f")));
    }

    [Fact]
    public async Task Root_inside_binds_port_80_opens_raw_sockets_and_serves_a_published_port()
    {
        await using var t = Engine();
        await using var c = await t.Busybox("httpd", "-f", "-p", "80", "-h", "/var/www").WithIdMaps(Map).WithPortBinding(0, 80).StartAsync();
        var port = c.GetHostPort(80);
        Assert.Equal("hello from busybox httpd\n", await TestEngine.GetWhenUpAsync($"http://127.0.0.1:{port}/index.html"));
        var ping = await c.ExecAsync(["sh", "-c", "ping -c 1 -W 2 $(ip route | awk '/default/ {print $3}') >/dev/null && echo ping=ok; grep -c ' 00000000:0050 ' /proc/net/tcp /proc/net/tcp6 | grep -v ':0'"]);
        Assert.Contains("ping=ok", ping.Stdout, StringComparison.Ordinal);
        Assert.Equal("100000", HostUid(c.State.Pid));
        await c.RemoveAsync(force: true);
    }

    [Fact]
    public async Task Auto_gives_each_container_a_range_of_its_own_and_the_engines_remap_maps_every_container()
    {
        await using (var t = Engine())
        {
            await using var a = await t.Busybox("sleep", "60").WithUserNamespace("auto").StartAsync();
            await using var b = await t.Busybox("sleep", "60").WithUserNamespace("auto:size=1000").StartAsync();
            Assert.Equal("0 600000 65536", string.Join(", ", a.State.Spec.UidMap));
            Assert.Equal("0 665536 1000", string.Join(", ", b.State.Spec.UidMap));
            Assert.Equal("0 665536 1000", string.Join(", ", b.State.Spec.GidMap));
            Assert.Equal("665536", HostUid(b.State.Pid));

            // the ranges left: 200000 - 66536 ids; a third asking for more is refused, naming the file
            var e = Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithUserNamespace("auto:size=150000").ToSpec()));
            Assert.Contains($"no 150000 free uids left in the ranges of containers in {subids}", e.Message, StringComparison.Ordinal);
            await a.RemoveAsync(force: true);
            await b.RemoveAsync(force: true);
        }

        // userns-remap: every container, unless it asks for the host's
        await using (var t = Engine(remap: "remapper"))
        {
            var r = await t.RunAsync(t.Busybox("sh", "-c", "cat /proc/self/uid_map | tr -s ' '"));
            Assert.Equal(" 0 900000 65536\n", r.Stdout);
            var host = await t.RunAsync(t.Busybox("sh", "-c", "cat /proc/self/uid_map | tr -s ' '").WithUserNamespace("host"));
            Assert.Equal(" 0 0 4294967295\n", host.Stdout);
        }

        await using (var t = Engine(remap: "default"))
        {
            var e = Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").ToSpec()));
            Assert.Equal($"userns-remap: {subids} gives the user dockremap no subordinate ids (add a line such as dockremap:100000:65536)", e.Message);
        }
    }

    [Fact]
    public async Task What_a_user_namespace_cannot_have_is_refused_with_dockers_words()
    {
        await using var t = Engine();
        Assert.Equal("privileged mode is incompatible with user namespaces; run the container with --userns host",
            Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithIdMaps(Map).WithPrivileged().ToSpec())).Message);
        Assert.Equal("cannot share the host's network namespace when user namespaces are enabled; run the container with --userns host",
            Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithIdMaps(Map).WithNetwork("host").ToSpec())).Message);
        Assert.Equal("cannot share the host's PID namespace when user namespaces are enabled; run the container with --userns host",
            Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithUserNamespace("auto").WithPidMode("host").ToSpec())).Message);
        Assert.Equal("--uidmap: the ranges 0 100000 10 and 5 200000 10 overlap in the container",
            Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithIdMaps([new(0, 100000, 10), new(5, 200000, 10)]).ToSpec())).Message);
        Assert.Equal("invalid id mapping '0:100000': expected CONTAINER:HOST:SIZE", Assert.Throws<InvalidContainerSpecException>(() => IdMapping.Parse("0:100000")).Message);
        Assert.Equal("invalid userns mode 'keep-id': expected host, auto, auto:size=N, container:NAME|ID, or private with --uidmap",
            Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithUserNamespace("keep-id").ToSpec())).Message);

        await using (var hostUsers = await t.Busybox("sleep", "60").WithName("host-users").StartAsync())
        {
            Assert.Equal("userns mode container:host-users: that container runs in the host's user namespace",
                Assert.Throws<InvalidContainerSpecException>(() => t.Engine.Create(t.Busybox("true").WithUserNamespace("container:host-users").ToSpec())).Message);
            await hostUsers.RemoveAsync(force: true);
        }

        // a user the map leaves out: the start fails at setuid, and nothing is left
        var start = await Assert.ThrowsAsync<ContainerStartException>(() => t.Busybox("true").WithIdMaps([new(0, 100000, 1000)]).WithUser("5000").StartAsync());
        Assert.Contains("setuid", start.Message, StringComparison.Ordinal);
        Assert.Empty(HelpersLeft());
    }

    private static async Task<string> ExecAsUserAsync(Container c, string user, params string[] command)
    {
        await using var exec = await c.StartExecAsync(new ExecOptions { Command = [.. command], User = user });
        var output = await new StreamReader(exec.StandardOutput).ReadToEndAsync();
        await exec.WaitAsync();
        return output;
    }

    private static string HostUid(int pid) =>
        File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];

    private static (long Uid, long Gid) Owner(string path)
    {
        var st = Containers.Linux.LinuxSyscalls.Instance.LStat(path) ?? throw new FileNotFoundException(path);
        return (st.Uid, st.Gid);
    }

    /// <summary>containers-userns helpers of ours still running (each ends once its shim has the namespace).</summary>
    private static List<int> HelpersLeft()
    {
        var self = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return [.. Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsAsciiDigit)).Select(int.Parse!)
            .Where(p => File.Exists($"/proc/{p}/stat") && Try(() => File.ReadAllText($"/proc/{p}/comm").Trim() == "containers-user" && File.ReadAllText($"/proc/{p}/stat").Split(' ')[3] == self))];
    }

    private static bool Try(Func<bool> f)
    {
        try
        {
            return f();
        }
        catch (IOException)
        {
            return false;
        }
    }
}
