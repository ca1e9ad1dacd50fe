namespace Containers.Tests.Security;

/// <summary>Seccomp on real containers: Docker's default profile by default, capabilities opening what they gate, unconfined, custom profiles, exec'd processes filtered too.</summary>
public sealed class SeccompTests
{
    [Fact]
    public async Task The_default_profile_refuses_what_dockers_refuses_and_cap_add_opens_it()
    {
        await using var t = new TestEngine();
        // unshare(CLONE_NEWUSER) needs no capability in the kernel: only the filter refuses it
        var r = await t.RunAsync(t.Busybox("sh", "-c", "unshare -U true; echo unshare=$?; grep Seccomp: /proc/self/status"));
        Assert.Contains("unshare=1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t2", r.Stdout, StringComparison.Ordinal);

        r = await t.RunAsync(t.Busybox("sh", "-c", "unshare -U true; echo unshare=$?; grep Seccomp: /proc/self/status").WithSeccompUnconfined());
        Assert.Contains("unshare=0", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t0", r.Stdout, StringComparison.Ordinal);

        r = await t.RunAsync(t.Busybox("sh", "-c", "unshare -U true; echo unshare=$?").WithCapAdd("SYS_ADMIN"));
        Assert.Contains("unshare=0", r.Stdout, StringComparison.Ordinal);

        // with no_new_privs the filter goes in last, after the capabilities; the decisions are the same
        r = await t.RunAsync(t.Busybox("sh", "-c", "unshare -U true; echo unshare=$?").WithNoNewPrivileges().WithUser("1000"));
        Assert.Contains("unshare=1", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_custom_profile_applies_to_the_payload_and_to_exec()
    {
        await using var t = new TestEngine();
        const string NoMkdir = """
            {"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}
            """;
        var r = await t.RunAsync(t.Busybox("sh", "-c", "mkdir /made; echo mkdir=$?; unshare -U true; echo unshare=$?").WithSeccompProfile(NoMkdir));
        Assert.Contains("mkdir=1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("unshare=0", r.Stdout, StringComparison.Ordinal); // the custom profile replaces the default one

        await using var c = await t.Busybox("sleep", "60").WithSeccompProfile(NoMkdir).StartAsync();
        var exec = await c.ExecAsync(["sh", "-c", "mkdir /viaexec 2>&1; echo mkdir=$?"]);
        Assert.Contains("Permission denied", exec.Stdout, StringComparison.Ordinal); // errnoRet 13: EACCES
        Assert.Contains("mkdir=1", exec.Stdout, StringComparison.Ordinal);
        await c.RemoveAsync(force: true);
    }

    [Fact]
    public void A_broken_profile_is_refused_naming_what_is_wrong()
    {
        var e = Assert.Throws<InvalidContainerSpecException>(() => new ContainerEngine(new EngineOptions { Root = "/nonexistent-unused" }).FromRootfs("/").WithSeccompProfile("""{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_EXPLODE"}]}"""));
        Assert.Equal("seccomp profile given with --security-opt seccomp: syscalls[0].action: unknown action SCMP_ACT_EXPLODE", e.Message);
        e = Assert.Throws<InvalidContainerSpecException>(() => new ContainerEngine(new EngineOptions { Root = "/nonexistent-unused" }).FromRootfs("/").WithSeccompProfile("{not json"));
        Assert.StartsWith("seccomp profile given with --security-opt seccomp: not JSON:", e.Message, StringComparison.Ordinal);
    }
}
