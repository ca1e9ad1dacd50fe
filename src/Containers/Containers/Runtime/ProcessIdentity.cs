namespace Containers.Runtime;

/// <summary>A pid with its start time, so a recycled pid is never mistaken for the process we started.</summary>
internal readonly record struct ProcessIdentity(int Pid, long StartTime)
{
    public static ProcessIdentity Self { get; } = Of(Environment.ProcessId);

    /// <summary>The identity of a live process, or (pid, 0) when it is gone.</summary>
    public static ProcessIdentity Of(int pid) => new(pid, ReadStartTime(pid));

    /// <summary>True when the process exists (not a zombie) and started at <see cref="StartTime"/>.</summary>
    public bool IsAlive => Pid > 0 && StartTime != 0 && ReadStartTime(Pid) == StartTime;

    public static long ReadStartTime(int pid)
    {
        try
        {
            // raw read: no FileStream flock on the hot path (the seam's real instance: this is a pure read of procfs)
            var bytes = Linux.RawFile.Read(Linux.LinuxSyscalls.Instance, $"/proc/{pid}/stat");
            if (bytes is null)
            {
                return 0;
            }

            var stat = System.Text.Encoding.ASCII.GetString(bytes);
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[0] == "Z" ? 0 : long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Linux.SyscallException)
        {
            return 0;
        }
    }
}
