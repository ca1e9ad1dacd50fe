namespace Containers;

/// <summary>How an image's config fills a container spec, by docker's rules.</summary>
internal static class ImageDefaults
{
    private const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static ContainerSpec Apply(ContainerSpec spec, LocalImage image, IReadOnlyList<string> lowerDirs)
    {
        var c = image.Config.Config ?? new Images.Oci.ContainerConfig();
        var entrypoint = spec.Entrypoint ?? c.Entrypoint ?? [];
        var cmd = !spec.Command.IsDefaultOrEmpty ? spec.Command : spec.Entrypoint is not null ? [] : c.Cmd ?? [];
        var env = Merge(c.Env ?? [], spec.Environment);
        if (!env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal)))
        {
            env = env.Insert(0, DefaultPath);
        }

        var labels = (c.Labels ?? ImmutableSortedDictionary<string, string>.Empty).ToImmutableDictionary().SetItems(spec.Labels);
        var mounts = spec.Mounts.AddRange((c.Volumes?.Keys ?? []).Where(v => !spec.Mounts.Any(m => m.Target.TrimEnd('/') == v.TrimEnd('/')))
            .Select(v => new MountSpec(MountType.Volume, "", v))); // the image's VOLUMEs: anonymous volumes
        return spec with
        {
            Rootfs = lowerDirs[0],
            LowerLayers = [.. lowerDirs.Skip(1)],
            ImageId = image.Id.ToString(),
            Entrypoint = entrypoint,
            Command = [.. entrypoint, .. cmd],
            Environment = env,
            WorkingDirectory = spec.WorkingDirectory ?? (string.IsNullOrEmpty(c.WorkingDir) ? null : c.WorkingDir),
            User = spec.User ?? (string.IsNullOrEmpty(c.User) ? null : c.User),
            StopSignal = spec.StopSignal ?? (string.IsNullOrEmpty(c.StopSignal) ? null : c.StopSignal),
            ExposedPorts = [.. spec.ExposedPorts.Union(c.ExposedPorts?.Keys ?? [])],
            HealthCheck = spec.HealthCheck ?? (c.Healthcheck is { } h ? FromImage(h) : null),
            Labels = labels,
            Mounts = mounts,
        };
    }

    /// <summary><c>-P</c>: every exposed port not already published gets an ephemeral host port.</summary>
    public static ContainerSpec PublishAll(ContainerSpec spec)
    {
        if (!spec.PublishAllPorts || spec.ExposedPorts.IsDefaultOrEmpty)
        {
            return spec;
        }

        var ports = spec.Ports.ToBuilder();
        foreach (var exposed in spec.ExposedPorts)
        {
            var parts = exposed.Split('/');
            if (!int.TryParse(parts[0], out var port))
            {
                throw new InvalidContainerSpecException($"invalid exposed port '{exposed}'");
            }

            var protocol = parts.Length > 1 ? parts[1] : "tcp";
            if (!ports.Any(p => p.ContainerPort == port && p.Protocol == protocol))
            {
                ports.Add(new PortBinding(port, 0, "0.0.0.0", protocol));
            }
        }

        return spec with { Ports = ports.ToImmutable(), PublishAllPorts = false };
    }

    private static HealthCheck FromImage(Images.Oci.HealthcheckConfig h) => new()
    {
        Test = h.Test,
        Interval = h.Interval > 0 ? TimeSpan.FromTicks(h.Interval / 100) : TimeSpan.FromSeconds(30),
        Timeout = h.Timeout > 0 ? TimeSpan.FromTicks(h.Timeout / 100) : TimeSpan.FromSeconds(30),
        StartPeriod = TimeSpan.FromTicks(h.StartPeriod / 100),
        StartInterval = h.StartInterval > 0 ? TimeSpan.FromTicks(h.StartInterval / 100) : TimeSpan.FromSeconds(5),
        Retries = h.Retries > 0 ? h.Retries : 3,
    };

    private static ImmutableArray<string> Merge(ImmutableArray<string> image, ImmutableArray<string> user)
    {
        var result = image.ToBuilder();
        foreach (var e in user)
        {
            var name = e.Split('=')[0];
            result.RemoveAll(x => x.Split('=')[0] == name);
            result.Add(e);
        }

        return result.ToImmutable();
    }
}
