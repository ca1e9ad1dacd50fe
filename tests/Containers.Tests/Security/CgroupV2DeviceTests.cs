using Containers.Runtime.Cgroups;

namespace Containers.Tests.Security;

/// <summary>cgroup v2's device control (an eBPF program per group) on the machine's real v2 hierarchy: the unified one beside v1 here, the only one on a v2 host.</summary>
public sealed class CgroupV2DeviceTests
{
    [Fact]
    public async Task A_v2_group_opens_only_the_default_devices_and_what_is_allowed_after()
    {
        var mount = File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).FirstOrDefault(f => f.Length > 2 && f[2] == "cgroup2")?[1];
        Assert.True(mount is not null, "no cgroup2 hierarchy is mounted");
        var manager = new CgroupV2Manager(mount, Containers.Linux.LinuxSyscalls.Instance);
        var group = manager.Create("devices-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            Assert.Equal("kmsg=refused zero=ok", await ProbeAsync(group)); // /dev/kmsg (1:11) is outside the defaults; /dev/zero (1:5) inside

            group.AllowDevices(["c 1:11 r"]);
            Assert.Equal("kmsg=ok zero=ok", await ProbeAsync(group));
        }
        finally
        {
            group.Delete();
        }
    }

    /// <summary>A shell moved into <paramref name="group"/> before it reads one byte of /dev/kmsg and of /dev/zero.</summary>
    private static async Task<string> ProbeAsync(ICgroup group)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh", ["-c", "read go; err=$(dd if=/dev/kmsg of=/dev/null bs=8192 count=1 2>&1 >/dev/null); case \"$err\" in *'not permitted'*) k=refused;; *) k=ok;; esac; head -c 1 /dev/zero >/dev/null 2>&1 && z=ok || z=refused; echo kmsg=$k zero=$z"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        using var sh = System.Diagnostics.Process.Start(psi)!;
        group.AddProcess(sh.Id);
        await sh.StandardInput.WriteLineAsync("go");
        sh.StandardInput.Close();
        var output = await sh.StandardOutput.ReadToEndAsync();
        await sh.WaitForExitAsync();
        return output.Trim();
    }
}
