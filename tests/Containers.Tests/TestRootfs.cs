using System.Diagnostics;

namespace Containers.Tests;

/// <summary>A busybox root filesystem made once per test run from Debian's busybox-static (no network).</summary>
public static class TestRootfs
{
    private static readonly Lazy<string> Dir = new(Build);

    public static string Path => Dir.Value;

    /// <summary>
    /// Where a tar of the rootfs goes when a test needs one (TestImages): removed with the rootfs, first thing at exit
    /// (the test host may be stopped before later exit handlers run).
    /// </summary>
    public static string TarballPath { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"containers-tests-busybox-{Environment.ProcessId}.tar");

    private static string Build()
    {
        var busybox = "/bin/busybox";
        if (!File.Exists(busybox))
        {
            throw new InvalidOperationException("busybox-static is required: apt-get install busybox-static");
        }

        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"containers-tests-rootfs-{Environment.ProcessId}");
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, true);
        }

        foreach (var d in new[] { "bin", "etc", "tmp", "root", "home/app", "var/www", "proc", "sys", "dev" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(dir, d));
        }

        File.Copy(busybox, System.IO.Path.Combine(dir, "bin/busybox"));
        var list = Process.Start(new ProcessStartInfo(busybox, "--list") { RedirectStandardOutput = true })!;
        var applets = list.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        list.WaitForExit();
        foreach (var a in applets.Where(a => a != "busybox"))
        {
            File.CreateSymbolicLink(System.IO.Path.Combine(dir, "bin", a), "busybox");
        }

        // busybox-static resolves names through glibc's NSS modules, loaded at run time: ship the host's (same glibc)
        // so wget http://service:port works in the test containers as in any Debian image
        foreach (var lib in new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libnss_dns.so.2", "/lib/x86_64-linux-gnu/libnss_files.so.2", "/lib/x86_64-linux-gnu/libresolv.so.2", "/lib64/ld-linux-x86-64.so.2" })
        {
            if (File.Exists(lib))
            {
                Directory.CreateDirectory(dir + System.IO.Path.GetDirectoryName(lib));
                File.Copy(lib, dir + lib);
            }
        }

        File.WriteAllText(System.IO.Path.Combine(dir, "etc/nsswitch.conf"), "hosts: files dns\n");
        File.WriteAllText(System.IO.Path.Combine(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
        File.WriteAllText(System.IO.Path.Combine(dir, "etc/group"), "root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n");
        File.WriteAllText(System.IO.Path.Combine(dir, "var/www/index.html"), "hello from busybox httpd\n");
        File.SetUnixFileMode(System.IO.Path.Combine(dir, "tmp"), (UnixFileMode)0x3ff);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            File.Delete(TarballPath);
            // This assembly's bridge is made on demand by the engine; it and its NAT and forwarding rules go with the run.
            // The test host is killed soon after it is asked to exit (under load, while `ip link del` waited on the
            // kernel, which left the rules, the machine state and half the rootfs). So first a detached shell (setsid -f: orphaned at once, so killing the test host's process tree does not take
            // it along) that waits for this process to be gone, then deletes every iptables rule naming the bridge, the
            // bridge and the directories: it runs even when the host is killed during the in-process removal below (a
            // full run left the DockerApi tests' bridge, state and rootfs that way: killed before it got here)
            try
            {
                using var cleanup = Process.Start("setsid", ["-f", "sh", "-c",
                    "i=0; while kill -0 \"$4\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
                    + "for t in nat filter; do iptables-save -t $t 2>/dev/null | grep -E -- \"(-i|-o) $1( |$)\" | sed 's/^-A /-D /' | while read -r r; do eval \"iptables -t $t $r\" 2>/dev/null; done; done; "
                    + "[ -d /sys/class/net/\"$1\" ] && ip link del \"$1\"; rm -rf \"$2\" \"$3\"",
                    "cleanup", TestBridge.Name, TestBridge.MachineState, dir, Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }
            catch (System.ComponentModel.Win32Exception)
            {
            }

            // the engine's own removal of its rules, while this process still lives (the shell above checks after it)
            var quiet = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
            new Containers.Networking.BridgeFirewall(Containers.Linux.LinuxSyscalls.Instance, TestBridge.MachineState, quiet).Remove(TestBridge.Name);
            new Containers.Networking.LocalPortForwarding(quiet).RemoveBridge(TestBridge.Name);

            // The containers-dotnet parents are made on demand: remove them when the run leaves them empty.
            foreach (var hierarchy in Directory.EnumerateDirectories("/sys/fs/cgroup"))
            {
                try
                {
                    Directory.Delete(System.IO.Path.Combine(hierarchy, "containers-dotnet"));
                }
                catch (IOException)
                {
                }
            }
        };
        return dir;
    }
}
