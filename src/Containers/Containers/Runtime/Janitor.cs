namespace Containers.Runtime;

/// <summary>
/// The start-up sweep: containers whose monitor process died (kill -9 of the engine, a crash) are killed,
/// their cgroups and addresses released, their state set to exited, and removed when they were --rm.
/// </summary>
internal static class Janitor
{
    /// <summary>Removes the cgroups of pooled shims whose process died (<c>pool-PID-STARTTIME-N</c>).</summary>
    private static void SweepPoolCgroups(RuntimeContext ctx)
    {
        IReadOnlyList<string> names;
        try
        {
            names = ctx.Cgroups.List();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (var name in names.Where(n => n.StartsWith(ShimPool.PoolPrefix, StringComparison.Ordinal)))
        {
            var parts = name[ShimPool.PoolPrefix.Length..].Split('-');
            if (parts.Length == 3 && int.TryParse(parts[0], out var pid) && long.TryParse(parts[1], out var start) && !new ProcessIdentity(pid, start).IsAlive)
            {
                try
                {
                    ctx.Cgroups.Open(name).Delete();
                }
                catch (ContainerException e)
                {
                    ctx.Logger.LogWarning("could not remove the stale cgroup {Name}: {Error}", name, e.Message);
                }
            }
        }
    }

    /// <summary>
    /// Sweeps the root. <paramref name="housekeeping"/>: also deletes what is left in its trash and the cgroups of dead
    /// pooled shims, here and now (else <see cref="Housekeeping"/> does, beside the caller's work).
    /// </summary>
    public static void Sweep(RuntimeContext ctx, bool housekeeping = true)
    {
        ctx.Store.Locked(() =>
        {
            foreach (var s in ctx.Store.List())
            {
                if (s.Spec.IsBuildStep && !s.IsActive && s.Status != ContainerStatus.Created)
                {
                    // a build's step that ended but was not removed: its build died between the step's exit and its commit
                    if (!new ProcessIdentity(s.MonitorPid, s.MonitorStartTime).IsAlive)
                    {
                        ctx.Store.Delete(s.Id);
                    }

                    continue;
                }

                if (!(s.IsActive || s.Status == ContainerStatus.Created) || new ProcessIdentity(s.MonitorPid, s.MonitorStartTime).IsAlive)
                {
                    continue;
                }

                if (s.Status == ContainerStatus.Created)
                {
                    // never started, or its starter died mid-start: release what a start may have made, keep the record
                    ctx.Cgroups.Open(s.Spec.CgroupKey(s.Id)).Delete();
                    Release(ctx, s);
                    if (s.Spec.AutoRemove || s.Spec.IsBuildStep)
                    {
                        ctx.Store.Delete(s.Id);
                    }

                    continue;
                }

                var container = new ProcessIdentity(s.Pid, s.PidStartTime);
                var killed = container.IsAlive && ctx.Sys.Kill(s.Pid, 9);
                ctx.Cgroups.Open(s.Spec.CgroupKey(s.Id)).Delete();
                Release(ctx, s);
                ctx.Logger.LogWarning("swept container {Name}: its monitor {Pid} is gone", s.Name, s.MonitorPid);
                if (s.Spec.AutoRemove || s.Spec.IsBuildStep)
                {
                    ctx.Store.Delete(s.Id);
                    continue;
                }

                var updated = s with
                {
                    Status = ContainerStatus.Exited,
                    ExitCode = killed ? 137 : 255,
                    Error = "the process supervising this container exited unexpectedly",
                    Pid = 0,
                    Networks = [],
                    FinishedAt = ctx.Time.GetUtcNow(),
                };
                Linux.RawFile.Replace(ctx.Sys, Path.Combine(ctx.Store.Dir(s.Id), "state.json"), ContainerStateJson.Write(updated));
            }

            return 0;
        });
        foreach (var bridge in ctx.Networks.Bridges())
        {
            bridge.Ipam.ReleaseDead();
        }

        if (housekeeping)
        {
            Housekeeping(ctx);
        }
    }

    /// <summary>What no start waits for: the trash emptied, the cgroups of dead pooled shims removed.</summary>
    public static void Housekeeping(RuntimeContext ctx)
    {
        SweepPoolCgroups(ctx);
        ctx.Store.EmptyTrash();
    }

    private static void Release(RuntimeContext ctx, ContainerState s)
    {
        if (!s.Ports.IsDefaultOrEmpty)
        {
            ctx.PortForwarding.RemoveAll(s.Id);
        }

        ctx.Bridge.Detach(s.Id);
        foreach (var e in s.Networks)
        {
            ctx.Release(s.Id, e);
        }

        if (s.Spec.IpcMode == "shareable")
        {
            ContainerSupervisor.UnmountShareableShm(ctx.Sys, ctx.Store.ShmDir(s.Id)); // its run's host mount of /dev/shm
        }
    }
}
