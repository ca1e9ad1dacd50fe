namespace Containers.Runtime;

/// <summary>Linux capability names and Docker's default set.</summary>
public static class Capabilities
{
    /// <summary>Every capability name in kernel order (index = number).</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE",
        "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
        "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ];

    /// <summary>Docker's default capability set.</summary>
    public static IReadOnlyList<string> DockerDefault { get; } =
        ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"];

    /// <summary>
    /// The capabilities of a container's processes: every held one when privileged (Docker ignores --cap-drop
    /// then), else the default set with its additions and drops. Throws <see cref="InvalidContainerSpecException"/>
    /// for an unknown name.
    /// </summary>
    public static IReadOnlyList<int> Of(ContainerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Privileged ? Resolve(["ALL"], []) : Resolve(spec.CapAdd, spec.CapDrop);
    }

    /// <summary>The default set with <paramref name="add"/> and <paramref name="drop"/> applied, as capability numbers.
    /// Throws <see cref="InvalidContainerSpecException"/> for an unknown name.</summary>
    public static IReadOnlyList<int> Resolve(IEnumerable<string> add, IEnumerable<string> drop)
    {
        var set = new HashSet<string>(DockerDefault);
        foreach (var d in drop.Select(Normalize))
        {
            if (d == "ALL")
            {
                set.Clear();
            }
            else
            {
                set.Remove(d);
            }
        }

        foreach (var a in add.Select(Normalize))
        {
            if (a == "ALL")
            {
                set.UnionWith(All.Where((_, i) => (Held >> i & 1) != 0)); // every one this process can give
            }
            else
            {
                set.Add(a);
            }
        }

        return set.Select(n => All.IndexOf(n)).Order().ToArray();
    }

    /// <summary>
    /// The capabilities this process holds (its permitted set, as a bit mask): ALL means these, as a machine or an
    /// outer container may withhold some, and no process can give what it does not have.
    /// </summary>
    internal static ulong Held => held ??= ReadHeld();

    private static ulong? held;

    private static ulong ReadHeld()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapPrm:", StringComparison.Ordinal));
            return line is not null && ulong.TryParse(line[7..].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture, out var mask) ? mask : ulong.MaxValue;
        }
        catch (IOException)
        {
            return ulong.MaxValue;
        }
    }

    private static string Normalize(string name)
    {
        var n = name.ToUpperInvariant();
        if (n.StartsWith("CAP_", StringComparison.Ordinal))
        {
            n = n[4..];
        }

        return n == "ALL" || All.Contains(n) ? n : throw new InvalidContainerSpecException($"unknown capability '{name}'");
    }

    private static int IndexOf(this IReadOnlyList<string> list, string item)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == item)
            {
                return i;
            }
        }

        return -1;
    }
}
