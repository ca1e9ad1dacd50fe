using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Containers;
using Containers.Cli;
using Containers.Runtime;
using Containers.Runtime.Cgroups;

// containers: a docker-like command line over the Containers SDK. The verbs are declared in Verbs.cs; CommandLineApp
// parses them (System.CommandLine), prints their help and completions, and runs the one named.
// Run by an ordinary user: re-exec as root of the user's container user namespace (rootless; see Rootless).
Rootless.EnterUserNamespace();
CliTrace.Start();

#if CONTAINERS_LITE
if (FullCli.Wants(args))
{
    return FullCli.Exec(args); // the cluster, Helm, the dashboard and the Docker API server are containers-cli's
}
#endif

if (args.Length > 0 && args[0] == "__monitor")
{
    // The detached monitor is this same program (NativeAOT: it starts in milliseconds).
    return await ContainerMonitorHost.RunAsync([.. args.Skip(1)]).ConfigureAwait(false);
}

return await CommandLineApp.InvokeAsync(Verbs.Root(Verbs.FirstWord(args)), args, Verbs.EngineOptionsFor, Verbs.ExitCode).ConfigureAwait(false);

namespace Containers.Cli
{
    /// <summary>The subcommands.</summary>
    internal static class Commands
    {
        public static ContainerSpec ParseRun(Args a)
        {
            var rootfs = a.Get("rootfs");
            var command = a.Positionals;
            string? image = null;
            if (rootfs is null)
            {
                if (command.Count == 0)
                {
                    throw new UsageException("\"run\" requires at least 1 argument: an image (or --rootfs DIR and a command)");
                }

                image = command[0];
                command.RemoveAt(0);
            }
            else if (command.Count == 0 && a.Get("entrypoint") is null)
            {
                throw new UsageException("no command specified");
            }

            ImmutableArray<string>? entrypoint = a.Get("entrypoint") is { } ep ? (ep.Length == 0 ? [] : [ep]) : null;
            if (rootfs is not null && entrypoint is { } e)
            {
                command.InsertRange(0, e); // no image config: the entrypoint is just the command's head
                entrypoint = null;
            }

            var env = new List<string>();
            foreach (var file in a.All("env-file"))
            {
                if (!File.Exists(file))
                {
                    throw new UsageException($"--env-file {file}: no such file");
                }

                env.AddRange(File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(ExpandEnv));
            }

            env.AddRange(a.All("env").Select(ExpandEnv));
            var resources = ResourceLimits.None with
            {
                MemoryBytes = a.Get("memory") is { } m ? ByteSize.Parse(m) : null,
                MemorySwapBytes = a.Get("memory-swap") is { } ms ? (ms == "-1" ? -1 : ByteSize.Parse(ms)) : null,
                NanoCpus = a.Get("cpus") is { } c ? (double.TryParse(c, NumberStyles.Float, CultureInfo.InvariantCulture, out var cpus) && cpus > 0 ? (long)(cpus * 1e9) : throw new InvalidContainerSpecException($"invalid --cpus '{c}'")) : null,
                CpuShares = a.Get("cpu-shares") is { } s ? Number(s, "--cpu-shares") : null,
                PidsLimit = a.Get("pids-limit") is { } p ? Number(p, "--pids-limit") : null,
            };
            var labels = a.All("label").Select(l => l.Split('=', 2)).ToImmutableDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");
            var mounts = a.All("volume").Select(MountSpec.ParseVolume).Concat(a.All("tmpfs").Select(MountSpec.ParseTmpfs)).Concat(a.All("mount").Select(MountSpec.ParseMount)).ToImmutableArray();
            return Containers.Security.SecurityOptions.Apply(new ContainerSpec
            {
                Rootfs = rootfs is null ? "" : Path.GetFullPath(rootfs),
                Image = image,
                Entrypoint = entrypoint,
                ExposedPorts = [.. a.All("expose").Select(p => p.Contains('/', StringComparison.Ordinal) ? p : p + "/tcp")],
                PublishAllPorts = a.Has("publish-all"),
                HealthCheck = a.Has("no-healthcheck") ? HealthCheck.None : a.Get("health-cmd") is { } hc ? new HealthCheck
                {
                    Test = ["CMD-SHELL", hc],
                    Interval = a.Get("health-interval") is { } hi ? Duration(hi, "--health-interval") : TimeSpan.FromSeconds(30),
                    Timeout = a.Get("health-timeout") is { } ht ? Duration(ht, "--health-timeout") : TimeSpan.FromSeconds(30),
                    StartPeriod = a.Get("health-start-period") is { } hs ? Duration(hs, "--health-start-period") : TimeSpan.Zero,
                    Retries = a.Get("health-retries") is { } hr ? (int)Number(hr, "--health-retries") : 3,
                } : null,
                Command = [.. command],
                Name = a.Get("name"),
                Environment = [.. env],
                WorkingDirectory = a.Get("workdir"),
                User = a.Get("user"),
                GroupAdd = [.. a.All("group-add")],
                Hostname = a.Get("hostname"),
                NetworkMode = a.All("network").FirstOrDefault() ?? "bridge",
                Networks = NetworkCommands.Attachments(a.All("network"), a.All("network-alias"), a.Get("ip")),
                Ports = [.. a.All("publish").Select(PortBinding.Parse)],
                Mounts = mounts,
                Resources = resources,
                ReadOnlyRootfs = a.Has("read-only"),
                Tty = a.Has("tty"),
                OpenStdin = a.Has("interactive"),
                AutoRemove = a.Has("rm"),
                CapAdd = [.. a.All("cap-add")],
                Privileged = a.Has("privileged"),
                Init = a.Has("init"),
                Devices = [.. a.All("device").Select(DeviceMapping.Parse)],
                DeviceCgroupRules = [.. a.All("device-cgroup-rule")],
                PidMode = a.Get("pid") ?? "",
                IpcMode = a.Get("ipc") ?? "",
                VolumesFrom = [.. a.All("volumes-from")],
                UsernsMode = a.Get("userns") ?? "",
                UidMap = [.. a.All("uidmap").Select(IdMapping.Parse)],
                GidMap = [.. a.All("gidmap").Select(IdMapping.Parse)],
                CapDrop = [.. a.All("cap-drop")],
                Ulimits = [.. a.All("ulimit").Select(Ulimit.Parse)],
                Restart = a.Get("restart") is { } r ? RestartPolicy.Parse(r) : RestartPolicy.No,
                StopSignal = a.Get("stop-signal") is { } sig ? "SIG" + Signals.Parse(sig) switch { var n => ((PosixSignalName)n).ToString() } : null,
                StopTimeout = a.Get("stop-timeout") is { } st ? TimeSpan.FromSeconds(Number(st, "--stop-timeout")) : TimeSpan.FromSeconds(10),
                Labels = labels,
            }, a.All("security-opt"));
        }

        public static async Task<int> RunAsync(CliContext context, Args a)
        {
            var spec = ParseRun(a);
            var pull = a.Get("pull") switch
            {
                null or "missing" => Containers.Images.PullPolicy.Missing,
                "always" => Containers.Images.PullPolicy.Always,
                "never" => Containers.Images.PullPolicy.Never,
                var p => throw new UsageException($"invalid --pull '{p}': missing, always or never"),
            };
            // an attached run starts its container at once: its shim is spawned while the engine is made (FirstStart)
            await using var engine = new ContainerEngine(context.Options with { PullPolicy = Containers.Images.PullPolicy.Never, FirstStart = a.Has("detach") ? null : spec });
            CliTrace.Mark("engine ready");
            if (spec.Image is { } image && (pull == Containers.Images.PullPolicy.Always || (pull == Containers.Images.PullPolicy.Missing && engine.Images.Find(image) is null)))
            {
                if (pull == Containers.Images.PullPolicy.Missing)
                {
                    await Console.Error.WriteLineAsync($"Unable to find image '{image}' locally").ConfigureAwait(false);
                }

                await ImageCommands.PullWithProgressAsync(engine, image, a.Get("platform") is { } pf ? Containers.Images.Oci.Platform.Parse(pf) : null, quiet: false, printName: false).ConfigureAwait(false);
            }

            if (a.Has("detach"))
            {
                var detached = await engine.StartDetachedAsync(spec).ConfigureAwait(false);
                Console.WriteLine(detached.Id);
                return 0;
            }

            using var stdout = Console.OpenStandardOutput();
            using var stderr = Console.OpenStandardError();
            var gate = new Lock();
            using var raw = spec.Tty && spec.OpenStdin ? new RawTerminal() : null; // before the first output, or it gets cooked
            var container = await engine.StartAsync(spec, (stream, bytes) =>
            {
                lock (gate)
                {
                    var s = stream == "stderr" ? stderr : stdout;
                    s.Write(bytes.Span);
                    s.Flush();
                }
            }).ConfigureAwait(false);
            CliTrace.Mark("started");

            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, ctx =>
            {
                ctx.Cancel = true;
                _ = container.KillAsync("SIGINT");
            });
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                _ = container.KillAsync("SIGTERM");
            });
            if (spec.OpenStdin && (container.Terminal ?? container.StandardInput) is { } input)
            {
                _ = Task.Run(async () =>
                {
                    using var stdin = StdinStream(); // not Console.OpenStandardInput: that initialises .NET's terminal handling, which undoes raw mode
                    try
                    {
                        await stdin.CopyToAsync(input).ConfigureAwait(false);
                        if (!spec.Tty)
                        {
                            input.Close();
                        }
                    }
                    catch (IOException)
                    {
                    }
                });
            }

            var exit = await container.WaitAsync().ConfigureAwait(false);
            CliTrace.Mark("exited");
            if (!spec.AutoRemove)
            {
                container.Keep();
                // The container stays (exited) for logs and inspect, as with docker run without --rm.
                return exit.ExitCode;
            }

            await container.RemoveAsync(force: true).ConfigureAwait(false);
            CliTrace.Mark("removed");
            return exit.ExitCode;
        }

        public static int Ps(ContainerEngine engine, Args a)
        {
            var list = engine.List(a.Has("all"));
            if (a.Has("quiet"))
            {
                foreach (var s in list)
                {
                    Console.WriteLine(s.Id[..12]);
                }

                return 0;
            }

            if (a.Get("format") == "json")
            {
                foreach (var s in list)
                {
                    Console.WriteLine(new System.Text.Json.Nodes.JsonObject
                    {
                        ["ID"] = s.Id[..12],
                        ["Image"] = s.Spec.Image ?? s.Spec.Rootfs,
                        ["Command"] = string.Join(' ', s.Spec.ProcessArgv()),
                        ["CreatedAt"] = s.Created.ToString("u", CultureInfo.InvariantCulture),
                        ["State"] = s.Status.ToString().ToLowerInvariant(),
                        ["Status"] = Status(s),
                        ["Ports"] = string.Join(", ", s.Ports),
                        ["Names"] = s.Name,
                        ["Labels"] = string.Join(',', s.Spec.Labels.Select(kv => $"{kv.Key}={kv.Value}")),
                    }.ToJsonString());
                }

                return 0;
            }

            var rows = list.Select(s => new[]
            {
                s.Id[..12], Truncate(s.Spec.Image ?? s.Spec.Rootfs, 20), Truncate("\"" + string.Join(' ', s.Spec.ProcessArgv()) + "\"", 22),
                Ago(s.Created), Status(s), string.Join(", ", s.Ports), s.Name,
            }).ToList();
            rows.Insert(0, ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]);
            PrintTable(rows);
            return 0;
        }

        public static async Task<int> LogsAsync(ContainerEngine engine, Args a)
        {
            var c = engine.Get(Single(a, "logs"));
            int? tail = a.Get("tail") is { } t && t != "all" ? (int)Number(t, "--tail") : null;
            using var stdout = Console.OpenStandardOutput();
            using var stderr = Console.OpenStandardError();
            await foreach (var e in c.GetLogsAsync(a.Has("follow"), tail).ConfigureAwait(false))
            {
                var text = a.Has("timestamps") ? e.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffff'Z' ", CultureInfo.InvariantCulture) + e.Text : e.Text;
                var bytes = System.Text.Encoding.UTF8.GetBytes(text);
                var s = e.Stream == "stderr" ? stderr : stdout;
                await s.WriteAsync(bytes).ConfigureAwait(false);
                await s.FlushAsync().ConfigureAwait(false);
            }

            return 0;
        }

        public static async Task<int> ExecAsync(ContainerEngine engine, Args a)
        {
            if (a.Positionals.Count < 2)
            {
                throw new UsageException("\"exec\" requires a container and a command");
            }

            return await ExecInAsync(engine, a.Positionals[0], new ExecOptions
            {
                Command = [.. a.Positionals.Skip(1)],
                Environment = [.. a.All("env").Select(ExpandEnv)],
                User = a.Get("user"),
                WorkingDirectory = a.Get("workdir"),
                Tty = a.Has("tty"),
                OpenStdin = a.Has("interactive"),
                Privileged = a.Has("privileged"),
            }).ConfigureAwait(false);
        }

        /// <summary>Runs <paramref name="options"/> in <paramref name="container"/> with this process's terminal and
        /// streams (docker exec; compose exec); returns the command's exit code.</summary>
        public static async Task<int> ExecInAsync(ContainerEngine engine, string container, ExecOptions options)
        {
            await using var exec = await engine.Get(container).StartExecAsync(options).ConfigureAwait(false);
            using var stdout = Console.OpenStandardOutput();
            using var stderr = Console.OpenStandardError();
            using var raw = options.Tty && options.OpenStdin ? new RawTerminal() : null;
            var pumps = new List<Task>();
            if (exec.Terminal is { } term)
            {
                pumps.Add(CopyQuietly(term, stdout));
            }
            else
            {
                pumps.Add(CopyQuietly(exec.StandardOutput, stdout));
                pumps.Add(CopyQuietly(exec.StandardError, stderr));
            }

            if (options.OpenStdin)
            {
                var input = exec.Terminal ?? exec.StandardInput;
                _ = Task.Run(async () =>
                {
                    using var stdin = StdinStream(); // not Console.OpenStandardInput: that initialises .NET's terminal handling, which undoes raw mode
                    await CopyQuietly(stdin, input).ConfigureAwait(false);
                    if (exec.Terminal is null)
                    {
                        input.Close();
                    }
                });
            }

            var code = await exec.WaitAsync().ConfigureAwait(false);
            await Task.WhenAny(Task.WhenAll(pumps), Task.Delay(1000)).ConfigureAwait(false);
            return code;
        }

        public static async Task<int> ForEach(ContainerEngine engine, Args a, Func<Container, Args, Task> action)
        {
            if (a.Positionals.Count == 0)
            {
                throw new UsageException("requires at least one container");
            }

            var failed = false;
            foreach (var name in a.Positionals)
            {
                try
                {
                    await action(engine.Get(name), a).ConfigureAwait(false);
                    Console.WriteLine(name);
                }
                catch (ContainerException e)
                {
                    await Console.Error.WriteLineAsync("containers: " + e.Message).ConfigureAwait(false);
                    failed = true;
                }
            }

            return failed ? 1 : 0;
        }

        public static int Inspect(ContainerEngine engine, Args a)
        {
            var json = Containers.DockerApi.Models.DockerJsonContext.Indented;
            var docs = new System.Text.Json.Nodes.JsonArray([.. a.Positionals.Select(n => a.Get("type") == "image" || (a.Get("type") != "container" && !engine.List(all: true).Any(s => s.Name == n || s.Id.StartsWith(n, StringComparison.Ordinal)))
                ? JsonSerializer.SerializeToNode(Containers.DockerApi.DockerInspect.Image(engine.Images.Get(n)), json.ImageInspect)
                : JsonSerializer.SerializeToNode(Containers.DockerApi.DockerInspect.Container(engine, engine.Get(n).State), json.ContainerInspectResponse))]);
            if (a.Get("format") is { Length: > 0 } format && format != "json")
            {
                foreach (var doc in docs)
                {
                    Console.WriteLine(GoTemplateFormat.Render(format, doc)); // docker prints one line per object
                }

                return 0;
            }

            Console.WriteLine(docs.ToJsonString(json.Options));
            return 0;
        }

        public static async Task<int> StatsAsync(ContainerEngine engine, Args a)
        {
            var targets = a.Positionals.Count > 0 ? a.Positionals.Select(engine.Get).ToList() : engine.List().Select(s => engine.Get(s.Id)).ToList();
            do
            {
                var before = new Dictionary<string, long>();
                foreach (var c in targets.Where(c => c.State.IsActive))
                {
                    before[c.Id] = (await c.GetStatsAsync().ConfigureAwait(false)).CpuUsageNanoseconds;
                }

                var sw = System.Diagnostics.Stopwatch.StartNew();
                await Task.Delay(500).ConfigureAwait(false);
                var rows = new List<string[]> { new[] { "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS" } };
                foreach (var c in targets.Where(c => before.ContainsKey(c.Id)))
                {
                    CgroupStatsRow(rows, c, await c.GetStatsAsync().ConfigureAwait(false), before[c.Id], sw.Elapsed);
                }

                PrintTable(rows);
            }
            while (!a.Has("no-stream"));
            return 0;
        }

        private static void CgroupStatsRow(List<string[]> rows, Container c, Containers.Runtime.Cgroups.CgroupStats s, long cpuBefore, TimeSpan elapsed)
        {
            var cpu = (s.CpuUsageNanoseconds - cpuBefore) / (elapsed.TotalMilliseconds * 1e6) * 100;
            var limit = s.MemoryLimitBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
            rows.Add([c.Id[..12], c.Name, cpu.ToString("0.00", CultureInfo.InvariantCulture) + "%", $"{Human(s.MemoryUsageBytes)} / {Human(limit)}",
                (100.0 * s.MemoryUsageBytes / limit).ToString("0.00", CultureInfo.InvariantCulture) + "%", s.Pids.ToString(CultureInfo.InvariantCulture)]);
        }

        private static FileStream StdinStream() => new(new Microsoft.Win32.SafeHandles.SafeFileHandle(0, ownsHandle: false), FileAccess.Read, 1);

        private static async Task CopyQuietly(Stream from, Stream to)
        {
            var buf = new byte[16384];
            try
            {
                int n;
                while ((n = await from.ReadAsync(buf).ConfigureAwait(false)) > 0)
                {
                    await to.WriteAsync(buf.AsMemory(0, n)).ConfigureAwait(false);
                    await to.FlushAsync().ConfigureAwait(false);
                }
            }
            catch (IOException)
            {
            }
        }

        private static string Single(Args a, string cmd) =>
            a.Positionals.Count == 1 ? a.Positionals[0] : throw new UsageException($"\"{cmd}\" requires exactly one container");

        private static long Number(string s, string flag) =>
            long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw new InvalidContainerSpecException($"invalid {flag} '{s}': not a number");

        private static TimeSpan Duration(string s, string flag) => GoDuration.Parse(s, flag);

        private static string ExpandEnv(string e) => e.Contains('=', StringComparison.Ordinal) ? e : $"{e}={Environment.GetEnvironmentVariable(e)}";

        internal static string Status(ContainerState s) => s.Status switch
        {
            ContainerStatus.Running => "Up " + Duration(DateTimeOffset.UtcNow - (s.StartedAt ?? s.Created)) + (s.Health is { } h ? $" ({(h.Status == "starting" ? "health: starting" : h.Status)})" : ""),
            ContainerStatus.Paused => "Up " + Duration(DateTimeOffset.UtcNow - (s.StartedAt ?? s.Created)) + " (Paused)",
            ContainerStatus.Restarting => $"Restarting ({s.ExitCode})",
            ContainerStatus.Exited => $"Exited ({s.ExitCode}) {Duration(DateTimeOffset.UtcNow - (s.FinishedAt ?? s.Created))} ago",
            _ => s.Status.ToString(),
        };

        private static string Ago(DateTimeOffset t) => Duration(DateTimeOffset.UtcNow - t) + " ago";

        private static string Duration(TimeSpan d) => d.TotalSeconds < 60 ? $"{(int)d.TotalSeconds} seconds"
            : d.TotalMinutes < 60 ? $"{(int)d.TotalMinutes} minutes"
            : d.TotalHours < 48 ? $"{(int)d.TotalHours} hours" : $"{(int)d.TotalDays} days";

        private static string Human(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.##}GiB"
            : bytes >= 1L << 20 ? $"{bytes / (double)(1L << 20):0.##}MiB" : $"{bytes / 1024.0:0.##}KiB";

        private static string Truncate(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";

        internal static void PrintTable(List<string[]> rows)
        {
            var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
            foreach (var r in rows)
            {
                Console.WriteLine(string.Join("   ", r.Select((c, i) => i == r.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd());
            }
        }
    }

    /// <summary>Signal names by number, for --stop-signal normalisation.</summary>
    internal enum PosixSignalName
    {
        HUP = 1, INT, QUIT, ILL, TRAP, ABRT, BUS, FPE, KILL, USR1, SEGV, USR2, PIPE, ALRM, TERM, STKFLT, CHLD, CONT, STOP, TSTP, TTIN, TTOU, URG, XCPU, XFSZ, VTALRM, PROF, WINCH, IO, PWR, SYS,
    }
}
