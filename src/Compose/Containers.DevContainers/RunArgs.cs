using Containers.Networking;

namespace Containers.DevContainers;

/// <summary><c>runArgs</c>: the <c>docker run</c> options a devcontainer.json may pass, applied to the container's spec.</summary>
internal static class RunArgs
{
    private static readonly ImmutableHashSet<string> Flags = ["--privileged", "--init", "--read-only", "-t", "--tty", "-i", "--interactive", "--rm"];

    /// <summary>Applies <paramref name="args"/> to <paramref name="spec"/>.</summary>
    /// <exception cref="DevContainerException">An option that is not known, or a value that does not parse (named).</exception>
    public static ContainerSpec Apply(ContainerSpec spec, IReadOnlyList<string> args, string origin)
    {
        var securityOpts = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string name, value = "";
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                name = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else if (arg.StartsWith('-') && !arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2 && !Flags.Contains(arg))
            {
                name = arg[..2]; // -e=X or -eX
                value = arg[2..].TrimStart('=');
            }
            else
            {
                name = arg;
                if (!Flags.Contains(name))
                {
                    if (i + 1 >= args.Count)
                    {
                        throw new DevContainerException($"{origin}: runArgs: '{name}' needs a value");
                    }

                    value = args[++i];
                }
            }

            try
            {
                spec = name switch
                {
                    "--privileged" => spec with { Privileged = true },
                    "--init" => spec with { Init = true },
                    "--read-only" => spec with { ReadOnlyRootfs = true },
                    "-t" or "--tty" => spec with { Tty = true },
                    "-i" or "--interactive" or "--rm" => spec,
                    "--cap-add" => spec with { CapAdd = spec.CapAdd.Add(value) },
                    "--cap-drop" => spec with { CapDrop = spec.CapDrop.Add(value) },
                    "-e" or "--env" => spec with { Environment = spec.Environment.Add(value.Contains('=', StringComparison.Ordinal) ? value : $"{value}={Environment.GetEnvironmentVariable(value)}") },
                    "-l" or "--label" => spec with { Labels = spec.Labels.SetItem(value.Split('=', 2)[0], value.Split('=', 2) is [_, var v] ? v : "") },
                    "-p" or "--publish" => spec with { Ports = spec.Ports.Add(PortBinding.Parse(value)) },
                    "-v" or "--volume" => spec with { Mounts = spec.Mounts.Add(MountSpec.ParseVolume(value)) },
                    "--mount" => spec with { Mounts = spec.Mounts.Add(MountSpec.ParseMount(value)) },
                    "--tmpfs" => spec with { Mounts = spec.Mounts.Add(MountSpec.ParseTmpfs(value)) },
                    "--network" or "--net" => spec with { NetworkMode = value, Networks = value is "bridge" or "host" or "none" || value.StartsWith("container:", StringComparison.Ordinal) ? [] : [new NetworkAttachment(value)] },
                    "--name" => spec with { Name = value },
                    "-h" or "--hostname" => spec with { Hostname = value },
                    "-u" or "--user" => spec with { User = value },
                    "-w" or "--workdir" => spec with { WorkingDirectory = value },
                    "-m" or "--memory" => spec with { Resources = spec.Resources with { MemoryBytes = ByteSize.Parse(value) } },
                    "--cpus" => spec with { Resources = spec.Resources with { NanoCpus = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var c) && c > 0 ? (long)(c * 1e9) : throw new DevContainerException($"{origin}: runArgs: invalid --cpus '{value}'") } },
                    "--pids-limit" => spec with { Resources = spec.Resources with { PidsLimit = long.Parse(value, CultureInfo.InvariantCulture) } },
                    "--device" => spec with { Devices = spec.Devices.Add(DeviceMapping.Parse(value)) },
                    "--userns" => spec with { UsernsMode = value },
                    "--ipc" => spec with { IpcMode = value },
                    "--pid" => spec with { PidMode = value },
                    "--group-add" => spec with { GroupAdd = spec.GroupAdd.Add(value) },
                    "--ulimit" => spec with { Ulimits = spec.Ulimits.Add(Ulimit.Parse(value)) },
                    "--security-opt" => Collect(spec, securityOpts, value),
                    _ => throw new DevContainerException($"{origin}: runArgs: '{name}' is not supported (supported: --cap-add, --cap-drop, --security-opt, --privileged, --init, -e, -l, -p, -v, --mount, --tmpfs, --network, --name, -h, -u, -w, -m, --cpus, --pids-limit, --device, --userns, --ipc, --pid, --group-add, --ulimit, --read-only)"),
                };
            }
            catch (Exception e) when (e is FormatException or InvalidContainerSpecException or OverflowException)
            {
                throw new DevContainerException($"{origin}: runArgs: {name} {value}: {e.Message}", e);
            }
        }

        return securityOpts.Count > 0 ? Security.SecurityOptions.Apply(spec, securityOpts) : spec;
    }

    private static ContainerSpec Collect(ContainerSpec spec, List<string> into, string value)
    {
        into.Add(value);
        return spec;
    }
}
