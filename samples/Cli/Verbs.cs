using System.Collections.Immutable;
using System.Globalization;
using Containers.Runtime;

namespace Containers.Cli;

/// <summary>
/// Every verb of the <c>containers</c> command line, with docker's names, options and help texts: the one place
/// where a verb, its options and its handler are declared. <c>containers VERB --help</c> prints from here.
/// </summary>
internal static class Verbs
{
    /// <summary>The engine's options for a command line: <c>--root</c> (or CONTAINERS_ROOT), and the detached
    /// monitor as this same program.</summary>
    public static EngineOptions EngineOptionsFor(Args a)
    {
        ImmutableArray<string> monitor = [.. SelfCommand.Monitor];
        ImmutableArray<IVolumeDriver> drivers = [new ReplicatedVolumeDriver()];
        return a.Get("root") is { } root
            ? new EngineOptions { Root = root, MonitorCommand = monitor, PrespawnShim = false, VolumeDrivers = drivers }
            : new EngineOptions { MonitorCommand = monitor, PrespawnShim = false, VolumeDrivers = drivers };
    }

    /// <summary>The exit code for an error a verb threw (docker's: 125 for the engine's, a failed exec's own), or null
    /// for one that is a bug.</summary>
    public static int? ExitCode(Exception e) => e switch
    {
        ContainerStartException s => s.ExitCode,
        ContainerException => 125,
        // helm's own failures exit 1, as helm does ("Error: ..." printed)
        Containers.Helm.HelmException or Containers.Helm.Charts.ChartException or Containers.Helm.Templates.TemplateException or Containers.Helm.Releases.KubeException => 1,
        _ => null,
    };

    /// <summary>The verb tree.</summary>
    /// <summary>
    /// The verb tree; with <paramref name="only"/> naming a top-level verb, the tree of that verb alone (building every
    /// verb's options took a command 1.4 ms of its start).
    /// </summary>
    public static Verb Root(string? only = null)
    {
        var root = new Verb("containers", "[OPTIONS] COMMAND", "A daemonless container engine: containers, images, builds, compose stacks and a Kubernetes-style cluster")
            .Global("--root", "string", "The store's directory (default $CONTAINERS_ROOT, else /var/lib/containers-dotnet)");
        var all = TopLevel();
        bool one = only is not null && Array.Exists(all, t => t.Name == only);
        foreach (var (name, make) in all)
        {
            if (!one || name == only)
            {
                root.With(make());
            }
        }

        return root;
    }

    /// <summary>The first word of <paramref name="args"/> that is not the global <c>--root</c> (or its value): the verb
    /// named, if any.</summary>
    public static string? FirstWord(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--root")
            {
                i++;
            }
            else if (!args[i].StartsWith('-'))
            {
                return args[i];
            }
            else if (!args[i].StartsWith("--root=", StringComparison.Ordinal))
            {
                return null;
            }
        }

        return null;
    }

    private static (string Name, Func<Verb> Make)[] TopLevel() =>
    [
        ("run", () => Run()),
        ("ps", () => new Verb("ps", "[OPTIONS]", "List containers")
            .Flag("-a|--all", "Show all containers (default shows just running)")
            .Flag("-q|--quiet", "Only display container IDs")
            .Flag("--no-trunc", "Don't truncate output")
            .Value("--format", "string", "Format output: json")
            .Runs(Commands.Ps)),
        ("logs", () => new Verb("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container")
            .Flag("-f|--follow", "Follow log output")
            .Value("-n|--tail", "string", "Number of lines to show from the end of the logs", "all")
            .Flag("-t|--timestamps", "Show timestamps")
            .Runs(Commands.LogsAsync)),
        ("exec", () => new Verb("exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container")
            .StopsAtFirstArgument()
            .Flag("-d|--detach", "Detached mode: run command in the background")
            .Value("-e|--env", "list", "Set environment variables")
            .Flag("-i|--interactive", "Keep STDIN open even if not attached")
            .Flag("--privileged", "Give extended privileges to the command (every capability)")
            .Flag("-t|--tty", "Allocate a pseudo-TTY")
            .Value("-u|--user", "string", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
            .Value("-w|--workdir", "string", "Working directory inside the container")
            .Runs(Commands.ExecAsync)),
        ("stop", () => new Verb("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers")
            .Value("-t|--time", "int", "Seconds to wait before killing the container (default: its stop timeout)")
            .Runs((e, a) => Commands.ForEach(e, a, async (c, o) => await c.StopAsync(o.Get("time") is { } t ? TimeSpan.FromSeconds(Seconds(t, "--time")) : null).ConfigureAwait(false)))),
        ("kill", () => new Verb("kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers")
            .Value("-s|--signal", "string", "Signal to send to the container", "KILL")
            .Runs((e, a) => Commands.ForEach(e, a, (c, o) => c.KillAsync(o.Get("signal") ?? "KILL")))),
        ("rm", () => new Verb("rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers")
            .Flag("-f|--force", "Force the removal of a running container (uses SIGKILL)")
            .Runs((e, a) => Commands.ForEach(e, a, (c, o) => c.RemoveAsync(o.Has("force"))))),
        ("pause", () => new Verb("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers")
            .Runs((e, a) => Commands.ForEach(e, a, (c, _) => c.PauseAsync()))),
        ("unpause", () => new Verb("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers")
            .Runs((e, a) => Commands.ForEach(e, a, (c, _) => c.UnpauseAsync()))),
        ("inspect", () => new Verb("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on containers and images, as JSON")
            .Value("-f|--format", "string", "Format output using a Go template ('{{.State.Pid}}', '{{json .Config}}'), or json")
            .Value("--type", "string", "Only inspect objects of the given type: container or image")
            .Runs(Commands.Inspect)),
        ("stats", () => new Verb("stats", "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics")
            .Flag("-a|--all", "Show all containers (default shows just running)")
            .Flag("--no-stream", "Disable streaming stats and only pull the first result")
            .Value("--format", "string", "Format output")
            .Runs(Commands.StatsAsync)),
        ("build", () => Build()),
        ("pull", () => Pull()),
        ("push", () => Push()),
        ("images", () => ImagesList("images")),
        ("rmi", () => ImagesRemove("rmi")),
        ("tag", () => Tag()),
        ("history", () => History()),
        ("save", () => Save()),
        ("load", () => Load()),
        ("import", () => Import()),
        ("commit", () => Commit()),
        ("image", () => new Verb("image", "COMMAND", "Manage images")
            .With(ImagesList("ls").Alias("list"), ImagesRemove("rm"), ImageInspect(), ImagePrune(), Pull(), Push(), Tag(), History(), Save(), Load(), Import())),
        ("network", () => Network()),
        ("volume", () => Volume()),
        ("compose", () => ComposeVerbs.Compose()),
        ("devcontainer", () => DevContainerCommands.Verbs()),
#if CONTAINERS_LITE
        ("cluster", () => FullCli.Verb("cluster", FullCli.ClusterHelp)),
        ("helm", () => FullCli.Verb("helm", FullCli.HelmHelp)),
        ("dashboard", () => FullCli.Verb("dashboard", FullCli.DashboardHelp)),
        ("system", () => FullCli.Verb("system", FullCli.SystemHelp)),
#else
        ("cluster", () => Cluster()),
        ("helm", () => Helm()),
        ("dashboard", () => DashboardCommand.Verb()),
        ("system", () => new Verb("system", "COMMAND", FullCli.SystemHelp)
            .With(new Verb("service", "[OPTIONS]", "Serve the Docker Engine API until Ctrl+C, for docker, Docker.DotNet and Testcontainers")
                .Value("--socket", "string", "The unix socket to serve (default ROOT/docker.sock)")
                .Value("--tcp", "[host:]port", "Also serve on this TCP port (127.0.0.1 unless a host is given); needs --tlsverify, or --insecure-loopback")
                .Flag("--tlsverify", "Serve --tcp with TLS and require client certificates signed by --tlscacert")
                .Value("--tlscacert", "string", "The CA that client certificates must chain to (PEM)")
                .Value("--tlscert", "string", "The server's certificate (PEM)")
                .Value("--tlskey", "string", "The server's private key (PEM)")
                .Flag("--insecure-loopback", "Serve --tcp without TLS on 127.0.0.1: every local user can then use the engine as root")
                .Runs(SystemCommands.ServiceAsync))),
#endif
        ("completion", () => new Verb("completion", "bash|zsh", "Print the shell completion script (bash: source <(containers completion bash))")
            .Runs((CliContext _, Args a) =>
            {
                Console.Out.Write(CommandLineApp.CompletionScript(a.Positionals.Count == 1 ? a.Positionals[0] : throw new UsageException("\"completion\" requires exactly 1 argument: bash or zsh", a.Verb)));
                return Task.FromResult(0);
            })),
        ("__complete", () => new Verb("__complete", "WORDS...", "The completions of a command line's last word, for the completion scripts")
            .StopsAtFirstArgument()
            .Hide()
            .Runs((CliContext _, Args a) =>
            {
                foreach (var c in CommandLineApp.Complete(Root(), a.Positionals))
                {
                    Console.Out.WriteLine(c);
                }

                return Task.FromResult(0);
            })),
    ];

    private static Verb Run() =>
        new Verb("run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image (or from a root filesystem: --rootfs DIR COMMAND)")
            .StopsAtFirstArgument()
            .Value("--cap-add", "list", "Add Linux capabilities")
            .Value("--cap-drop", "list", "Drop Linux capabilities")
            .Value("--cpu-shares", "int", "CPU shares (relative weight)")
            .Value("--cpus", "decimal", "Number of CPUs")
            .Flag("-d|--detach", "Run container in background and print container ID")
            .Value("--device", "list", "Add a host device to the container (HOST[:CONTAINER][:rwm])")
            .Value("--device-cgroup-rule", "list", "Add a rule to the cgroup allowed devices list ('c 42:* rmw')")
            .Value("--entrypoint", "string", "Overwrite the default ENTRYPOINT of the image")
            .Value("-e|--env", "list", "Set environment variables")
            .Value("--env-file", "list", "Read in a file of environment variables")
            .Value("--expose", "list", "Expose a port or a range of ports")
            .Value("--group-add", "list", "Add additional groups to join")
            .Value("--health-cmd", "string", "Command to run to check health")
            .Value("--health-interval", "duration", "Time between running the check (ms|s|m|h)", "30s")
            .Value("--health-retries", "int", "Consecutive failures needed to report unhealthy", "3")
            .Value("--health-start-period", "duration", "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)", "0s")
            .Value("--health-timeout", "duration", "Maximum time to allow one check to run (ms|s|m|h)", "30s")
            .Value("-h|--hostname", "string", "Container host name")
            .Flag("--init", "Run an init inside the container that forwards signals and reaps processes")
            .Flag("-i|--interactive", "Keep STDIN open even if not attached")
            .Value("--ip", "string", "IPv4 address (e.g., 172.30.100.104)")
            .Value("--ipc", "string", "IPC mode to use (private, shareable, none, host, container:NAME|ID)")
            .Value("-l|--label", "list", "Set meta data on a container")
            .Value("-m|--memory", "bytes", "Memory limit")
            .Value("--memory-swap", "bytes", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
            .Value("--mount", "mount", "Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=S,target=T[,readonly])")
            .Value("--name", "string", "Assign a name to the container")
            .Value("--net|--network", "network", "Connect a container to a network: none, host, bridge or a network's name (repeatable)", "bridge")
            .Value("--net-alias|--network-alias", "list", "Add network-scoped alias for the container")
            .Flag("--no-healthcheck", "Disable any container-specified HEALTHCHECK")
            .Value("--pid", "string", "PID namespace to use (host, container:NAME|ID)")
            .Value("--pids-limit", "int", "Tune container pids limit (set -1 for unlimited)")
            .Value("--platform", "string", "Set platform if server is multi-platform capable (os/arch)")
            .Flag("--privileged", "Give extended privileges to this container (every capability and host device, no seccomp, /sys writable)")
            .Value("-p|--publish", "list", "Publish a container's port(s) to the host ([IP:][HOST:]PORT[/udp])")
            .Flag("-P|--publish-all", "Publish all exposed ports to random ports")
            .Value("--pull", "string", "Pull image before running (\"always\", \"missing\", \"never\")", "missing")
            .Flag("--read-only", "Mount the container's root filesystem as read only")
            .Value("--restart", "string", "Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)", "no")
            .Flag("--rm", "Automatically remove the container and its associated anonymous volumes when it exits")
            .Value("--rootfs", "string", "Run from this root filesystem directory instead of an image")
            .Value("--security-opt", "list", "Security Options (no-new-privileges, seccomp=unconfined|PROFILE.json; Docker's default seccomp profile otherwise)")
            .Value("--stop-signal", "string", "Signal to stop the container", "SIGTERM")
            .Value("--stop-timeout", "int", "Timeout (in seconds) to stop a container", "10")
            .Value("--tmpfs", "list", "Mount a tmpfs directory (DST[:OPTS])")
            .Flag("-t|--tty", "Allocate a pseudo-TTY")
            .Value("--uidmap", "list", "A range of the container's user namespace uid map (CONTAINER:HOST:SIZE)")
            .Value("--gidmap", "list", "A range of its gid map (CONTAINER:HOST:SIZE; the uid map when not given)")
            .Value("--ulimit", "ulimit", "Ulimit options (name=soft[:hard])")
            .Value("-u|--user", "string", "Username or UID (format: <name|uid>[:<group|gid>])")
            .Value("--userns", "string", "User namespace to use (host, auto[:size=N], container:NAME|ID, or private with --uidmap; the engine's userns-remap when not given)")
            .Value("-v|--volume", "list", "Bind mount a volume (SRC|VOLUME:DST[:ro], or DST for an anonymous volume)")
            .Value("--volumes-from", "list", "Mount volumes from the specified container(s) (NAME|ID[:ro|rw])")
            .Value("-w|--workdir", "string", "Working directory inside the container")
            .Runs(Commands.RunAsync);

    private static Verb Build() =>
        new Verb("build", "[OPTIONS] PATH", "Build an image from a Dockerfile")
            .Value("--build-arg", "list", "Set build-time variables")
            .Value("-f|--file", "string", "Name of the Dockerfile (default: \"PATH/Dockerfile\")")
            .Value("--network", "string", "Set the networking mode for the RUN instructions during build (default, none, host)", "default")
            .Flag("--no-cache", "Do not use cache when building the image")
            .Value("--platform", "string", "Set platform if server is multi-platform capable")
            .Value("--progress", "string", "Set type of progress output (auto, plain, tty): all print docker's plain progress", "auto")
            .Flag("--pull", "Always attempt to pull a newer version of the image")
            .Flag("-q|--quiet", "Suppress the build output and print image ID on success")
            .Value("--secret", "stringArray", "Secret file to expose to the build (id=ID,src=PATH)")
            .Value("-t|--tag", "list", "Name and optionally a tag in the \"name:tag\" format")
            .Value("--target", "string", "Set the target build stage to build")
            .Runs(BuildCommand.RunAsync);

    private static Verb Pull() =>
        new Verb("pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry")
            .Flag("-a|--all-tags", "Download all tagged images in the repository")
            .Value("--platform", "string", "Set platform if server is multi-platform capable (os/arch)")
            .Flag("-q|--quiet", "Suppress verbose output")
            .Runs(ImageCommands.PullAsync);

    private static Verb Push() =>
        new Verb("push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry")
            .Flag("-q|--quiet", "Suppress verbose output")
            .Runs(ImageCommands.PushAsync);

    private static Verb ImagesList(string name) =>
        new Verb(name, "[OPTIONS] [REPOSITORY[:TAG]]", "List images")
            .Flag("-a|--all", "Show all images (default hides intermediate images)")
            .Flag("--digests", "Show digests")
            .Value("-f|--filter", "filter", "Filter output based on conditions provided")
            .Value("--format", "string", "Format output: json")
            .Flag("--no-trunc", "Don't truncate output")
            .Flag("-q|--quiet", "Only show image IDs")
            .Runs(ImageCommands.Images);

    private static Verb ImagesRemove(string name) =>
        new Verb(name, "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images")
            .Flag("-f|--force", "Force removal of the image")
            .Flag("--no-prune", "Do not delete untagged parents")
            .Runs(ImageCommands.Remove);

    private static Verb ImageInspect() =>
        new Verb("inspect", "[OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images")
            .Value("-f|--format", "string", "Format output: json")
            .Runs(ImageCommands.Inspect);

    private static Verb ImagePrune() =>
        new Verb("prune", "[OPTIONS]", "Remove unused images")
            .Flag("-a|--all", "Remove all unused images, not just dangling ones")
            .Value("--filter", "filter", "Provide filter values")
            .Flag("-f|--force", "Do not prompt for confirmation")
            .Runs(ImageCommands.Prune);

    private static Verb Tag() =>
        new Verb("tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
            .Runs(ImageCommands.Tag);

    private static Verb History() =>
        new Verb("history", "[OPTIONS] IMAGE", "Show the history of an image")
            .Value("--format", "string", "Format output: json")
            .Flag("-H|--human", "Print sizes and dates in human readable format (default true)")
            .Flag("--no-trunc", "Don't truncate output")
            .Flag("-q|--quiet", "Only show image IDs")
            .Runs(ImageCommands.History);

    private static Verb Save() =>
        new Verb("save", "[OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)")
            .Value("-o|--output", "string", "Write to a file, instead of STDOUT")
            .Runs(ImageCommands.SaveAsync);

    private static Verb Load() =>
        new Verb("load", "[OPTIONS]", "Load an image from a tar archive (docker save or OCI layout) or STDIN")
            .Value("-i|--input", "string", "Read from tar archive file, instead of STDIN")
            .Flag("-q|--quiet", "Suppress the load output")
            .Runs(ImageCommands.LoadAsync);

    private static Verb Import() =>
        new Verb("import", "[OPTIONS] file|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a filesystem image")
            .Value("-c|--change", "list", "Apply Dockerfile instruction to the created image")
            .Value("-m|--message", "string", "Set commit message for imported image")
            .Value("--platform", "string", "Set platform if server is multi-platform capable")
            .Runs(ImageCommands.ImportAsync);

    private static Verb Commit() =>
        new Verb("commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes")
            .Value("-a|--author", "string", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
            .Value("-c|--change", "list", "Apply Dockerfile instruction to the created image")
            .Value("-m|--message", "string", "Commit message")
            .Flag("-p|--pause", "Pause container during commit (default true)")
            .Runs(ImageCommands.CommitAsync);

    private static Verb Network() =>
        new Verb("network", "COMMAND", "Manage networks")
            .With(
                new Verb("connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network")
                    .Value("--alias", "list", "Add network-scoped alias for the container")
                    .Value("--driver-opt", "list", "driver options for the network")
                    .Value("--ip", "string", "IPv4 address (e.g., \"172.30.100.104\")")
                    .Value("--ip6", "string", "IPv6 address (not supported)")
                    .Value("--link", "list", "Add link to another container")
                    .Runs(NetworkCommands.Run),
                new Verb("create", "[OPTIONS] NETWORK", "Create a network")
                    .Flag("--attachable", "Enable manual container attachment")
                    .Value("-d|--driver", "string", "Driver to manage the Network (only bridge)", "bridge")
                    .Value("--gateway", "string", "IPv4 Gateway for the master subnet")
                    .Flag("--internal", "Restrict external access to the network")
                    .Value("--ip-range", "string", "Allocate container ip from a sub-range")
                    .Value("-l|--label", "list", "Set metadata on a network")
                    .Value("-o|--opt", "map", "Set driver specific options")
                    .Value("--subnet", "string", "Subnet in CIDR format that represents a network segment")
                    .Runs(NetworkCommands.Run),
                new Verb("disconnect", "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network")
                    .Flag("-f|--force", "Force the container to disconnect from a network")
                    .Runs(NetworkCommands.Run),
                Inspect("NETWORK", NetworkCommands.Run)
                    .Flag("-v|--verbose", "Verbose output for diagnostics"),
                List("NETWORK", "driver=bridge", NetworkCommands.Run)
                    .Flag("--no-trunc", "Do not truncate the output"),
                Prune("Remove all unused networks", NetworkCommands.Run)
                    .Flag("--default-bridge", "Also remove the default bridge's interface and its rules, when no container uses it"),
                Remove("NETWORK", "Do not error if the network does not exist", NetworkCommands.Run));

    private static Verb Volume() =>
        new Verb("volume", "COMMAND", "Manage volumes")
            .With(
                new Verb("create", "[OPTIONS] [VOLUME]", "Create a volume")
                    .Value("-d|--driver", "string", "Specify volume driver name: local, or replicated (replicas kept in step, snapshots, backups; options size, replicas, replica-dirs, fstype)", "local")
                    .Value("-l|--label", "list", "Set metadata for a volume")
                    .Value("-o|--opt", "map", "Set driver specific options")
                    .Runs(VolumeCommands.Run),
                ReplicatedVerb(new Verb("snapshot", "VOLUME [SNAPSHOT]", "Take a crash-consistent snapshot of a replicated volume (in use or not)")),
                ReplicatedVerb(new Verb("snapshots", "VOLUME", "List a replicated volume's snapshots")),
                ReplicatedVerb(new Verb("restore", "VOLUME SNAPSHOT | VOLUME --from TARGET BACKUP", "Put a replicated volume back to a snapshot, or restore a backup into it (not while in use)")
                    .Value("--from", "string", "Restore a backup from this target (a directory or s3://BUCKET/PREFIX; S3 credentials from AWS_* variables)")
                    .Value("--source-volume", "string", "The volume the backup was taken of (default: this one)")),
                ReplicatedVerb(new Verb("backup", "VOLUME TARGET", "Back a replicated volume up (a new snapshot, incremental over the last backup) to a directory or s3://BUCKET/PREFIX")
                    .Value("--name", "string", "The backup's name (default backup-TIME)")),
                ReplicatedVerb(new Verb("serve", "VOLUME", "Attach a replicated volume and keep it while containers use it (started by container starts)")).Hide(),
                Inspect("VOLUME", VolumeCommands.Run),
                List("VOLUME", "dangling=true", VolumeCommands.Run),
                Prune("Remove unused local volumes", VolumeCommands.Run)
                    .Flag("-a|--all", "Remove all unused volumes, not just anonymous ones"),
                Remove("VOLUME", "Force the removal of one or more volumes", VolumeCommands.Run));

    // the replicated volumes' verbs are the full CLI's (they need the volume engine): the lite one hands them over
    private static Verb ReplicatedVerb(Verb verb) =>
#if CONTAINERS_LITE
        verb.Runs((CliContext _, Args _) => Task.FromResult(FullCli.Exec(Environment.GetCommandLineArgs()[1..])));
#else
        verb.Runs(verb.Name == "serve" ? ReplicatedVolumeCommands.ServeAsync : ReplicatedVolumeCommands.RunAsync);
#endif

    // inspect, ls, prune and rm of networks and volumes: the same verbs, as docker's
    private static Verb Inspect(string what, Func<ContainerEngine, Args, int> run) =>
        new Verb("inspect", $"[OPTIONS] {what} [{what}...]", $"Display detailed information on one or more {what.ToLowerInvariant()}s")
            .Value("-f|--format", "string", "Format output: json")
            .Runs(run);

    private static Verb List(string what, string filterExample, Func<ContainerEngine, Args, int> run) =>
        new Verb("ls", "[OPTIONS]", $"List {what.ToLowerInvariant()}s")
            .Alias("list")
            .Value("-f|--filter", "filter", $"Provide filter values (e.g. \"{filterExample}\")")
            .Value("--format", "string", "Format output")
            .Flag("-q|--quiet", $"Only display {what.ToLowerInvariant()} {(what == "VOLUME" ? "names" : "IDs")}")
            .Runs(run);

    private static Verb Prune(string description, Func<ContainerEngine, Args, int> run) =>
        new Verb("prune", "[OPTIONS]", description)
            .Value("--filter", "filter", "Provide filter values")
            .Flag("-f|--force", "Do not prompt for confirmation")
            .Runs(run);

    private static Verb Remove(string what, string force, Func<ContainerEngine, Args, int> run) =>
        new Verb("rm", $"[OPTIONS] {what} [{what}...]", $"Remove one or more {what.ToLowerInvariant()}s")
            .Alias("remove")
            .Flag("-f|--force", force)
            .Runs(run);

#if !CONTAINERS_LITE
    private static Verb Cluster() =>
        new Verb("cluster", "COMMAND", FullCli.ClusterHelp)
            .With(
                new Verb("up", "[OPTIONS]", "Run the control plane and N nodes (in the foreground, or detached with -d); writes ROOT/kubeconfig")
                    .Flag("-d|--detach", "Run in the background; \"cluster down\" stops it")
                    .Value("--event-ttl", "duration", "How long events are kept after their last write, as kube-apiserver's --event-ttl", "1h")
                    .Value("--ingress-http-port", "port", "The host port the built-in Ingress controller serves HTTP on; \"off\" for none", "80")
                    .Value("--ingress-https-port", "port", "The host port the built-in Ingress controller serves HTTPS on; \"off\" for none", "443")
                    .Value("--nodes", "int", "The number of nodes (1 to 100)", "1")
                    .Value("--pod-subnet", "string", "The pods' IPv4 network", "10.244.0.0/16")
                    .Value("--port", "int", "The Kubernetes API's port on 127.0.0.1", "6443")
                    .Value("--service-cidr", "string", "The services' IPv4 network (/12 to /28)", "10.96.0.0/16")
                    .Value("--token-auth-file", "string", "Static bearer tokens, as kube-apiserver's: token,user,uid,\"group1,group2\" a line")
                    .Value("--audit-log-path", "string", "Where the audit log goes (JSON lines, audit.k8s.io/v1 at the Metadata level); \"-\" for none", "ROOT/cluster/audit.log")
                    .Value("--etcd", "strings", "Keep the objects in etcd at these client URLs (comma-separated; remembered for the next up) instead of the embedded store")
                    .Value("--lb-pool", "string", "Addresses for LoadBalancer Services: ranges (10.0.0.200-10.0.0.220) and networks (10.0.0.240/28), comma-separated")
                    .Value("--lb-interface", "string", "The LAN interface LoadBalancer addresses are held and announced (gratuitous ARP) on")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)),
                new Verb("server", "--etcd URLS --advertise-address IP [OPTIONS]", "Run one control-plane machine of several on etcd: the API server, and the controllers, scheduler and virtual IP behind leader election on Leases")
                    .ControlPlaneOptions()
                    .Value("--token", "string", "A bootstrap token (abcdef.0123456789abcdef) machines may join with (\"cluster join --token\")")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)),
                new Verb("join", "--server URL --token TOKEN --node-interface IF [OPTIONS]", "Make this machine a worker of a running cluster (a node certificate from the bootstrap token, then its node agent, service proxy and pod routes), or with --control-plane one more control-plane machine, in the foreground")
                    .Value("--server", "string", "The cluster's API server, https://VIP:6443 (required)")
                    .Value("--token", "string", "A bootstrap token of the cluster (required the first time; a worker's certificate is kept in ROOT/cluster/node)")
                    .Flag("--control-plane", "Join as a control-plane machine: the token vouches for the cluster's CA, then it runs as \"cluster server\" (with --etcd and --advertise-address) and refuses a store that holds another CA")
                    .ControlPlaneOptions()
                    .Value("--service-cidr", "string", "The cluster's services' network", "the control plane's, from cluster-info")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)),
                new Verb("token", "COMMAND", "Bootstrap tokens machines join with (kubeadm token)")
                    .With(new Verb("create", "[OPTIONS]", "Create a bootstrap token and print it (run on a control-plane machine)")
                        .Value("--ttl", "duration", "How long the token is valid; 0 for ever", "24h")
                        .Value("--description", "string", "What the token is for")
                        .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a))),
                new Verb("migrate", "--to-etcd URLS", "Copy a stopped cluster's objects from the embedded store into etcd (each read back and compared); the next up runs on etcd")
                    .Value("--to-etcd", "strings", "The etcd members' client URLs, comma-separated (required)")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)),
                new Verb("kubeconfig", "[OPTIONS]", "Write a kubeconfig for another user: a client certificate of the cluster CA (CN the user, O the groups), as kubeadm kubeconfig user")
                    .Value("--user", "string", "The user name (required)")
                    .Value("--group", "stringArray", "A group of the user (repeatable)")
                    .Value("--expiration", "duration", "How long the certificate is valid", "8760h")
                    .Value("-o|--output", "string", "Where to write it (mode 0600); standard output when not given")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)),
                new Verb("down", "[OPTIONS]", "Stop a detached cluster; its state is kept for the next up, and its pods keep running")
                    .Flag("--stop-pods", "Also stop the pods' containers (the next up starts them again)")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)),
                new Verb("delete", "", "Stop the cluster and remove everything it made: its pods, the pod network with its bridge and rules, its state and the kubeconfig")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)),
                new Verb("status", "", "Whether a cluster runs on this root, its API's URL and its nodes")
                    .Runs((c, a) => ClusterCommands.RunAsync(c.Options, a)));

    /// <summary>The options of a control-plane machine (<c>cluster server</c>, <c>cluster join --control-plane</c>); a worker that joins takes the node ones.</summary>
    private static Verb ControlPlaneOptions(this Verb v) => v
        .Value("--etcd", "strings", "The etcd members' client URLs, comma-separated (required on a control-plane machine)")
        .Value("--advertise-address", "string", "This machine's address on the LAN (required on a control-plane machine; a worker takes --node-interface's)")
        .Value("--bind-address", "string", "The address the API listens on", "0.0.0.0")
        .Value("--port", "int", "The Kubernetes API's port", "6443")
        .Value("--vip", "string", "A virtual IP for the API (address[/prefix]), held by the leader and moved when it dies; the kubeconfig points at it")
        .Value("--vip-interface", "string", "The LAN interface the virtual IP is held on")
        .Value("--nodes", "int", "Nodes a control-plane machine also runs (0 to 100)", "0")
        .Value("--lb-pool", "string", "Addresses for LoadBalancer Services (ranges or networks, comma-separated), held by the virtual IP's holder")
        .Value("--lb-interface", "string", "The LAN interface LoadBalancer addresses are held and announced on")
        .Value("--pod-subnet", "string", "The pods' IPv4 network of this machine's nodes (a subnet of its own, inside --cluster-cidr, when the machines' pod networks are joined); a worker without one gets a /24 from the control plane")
        .Value("--node-interface", "string", "Join this machine's pod network to the other machines' through this LAN interface: host routes to every other node's pod subnet")
        .Value("--cluster-cidr", "string", "The network all machines' pod subnets are part of (pod-to-pod traffic inside it is not masqueraded; workers that join without a pod subnet get a /24 of it)", "10.244.0.0/16")
        .Value("--name", "string", "This machine's name (its node's, and in the Leases' holder identities)", "the host name")
        .Value("--leader-elect-lease-duration", "duration", "How long a leader's lease lasts without renewal", "15s")
        .Value("--leader-elect-renew-deadline", "duration", "How long a leader tries to renew before it stops leading", "10s")
        .Value("--leader-elect-retry-period", "duration", "How often candidates try and the leader renews", "2s")
        .Value("--node-status-update-frequency", "duration", "How often this machine's nodes post their status (kubelet's heartbeat)", "10s")
        .Value("--metric-resolution", "duration", "How often pods' usage is sampled on this machine's nodes, and read from other machines' nodes by an API server (kubectl top)", "15s")
        .Value("--node-monitor-grace-period", "duration", "How long a node may stay silent before it is marked NotReady (Ready=Unknown) and tainted unreachable", "40s")
        .Value("--default-not-ready-toleration-seconds", "int", "How long pods stay on a NotReady node before they are evicted (added to pods without such a toleration)", "300")
        .Value("--default-unreachable-toleration-seconds", "int", "How long pods stay on an unreachable node before they are evicted (added to pods without such a toleration)", "300");

    private static Verb ValuesFlags(this Verb v) => v
        .Value("-f|--values", "strings", "Specify values in a YAML file (can specify multiple)")
        .Value("--set", "stringArray", "Set values on the command line (can specify multiple or separate values with commas: key1=val1,key2=val2)")
        .Value("--set-string", "stringArray", "Set STRING values on the command line")
        .Value("--set-file", "stringArray", "Set values from respective files specified via the command line (key1=path1)")
        .Value("--set-json", "stringArray", "Set JSON values on the command line (key1=jsonval1)")
        .Value("--set-literal", "stringArray", "Set a literal STRING value on the command line")
        .Value("--version", "string", "Specify a version constraint for the chart version to use")
        .Flag("--devel", "Use development versions, too (equivalent to version '>0.0.0-0')");

    private static Verb ReleaseFlags(this Verb v) => v
        .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
        .Flag("--create-namespace", "Create the release namespace if not present")
        .Flag("--atomic", "If set, the operation deletes (install) or rolls back (upgrade) the release on failure; sets --wait")
        .Flag("--wait", "Wait until all Pods, PVCs, Services, Deployments, StatefulSets and DaemonSets are ready")
        .Flag("--wait-for-jobs", "With --wait, also wait until all Jobs have completed")
        .Value("--timeout", "duration", "Time to wait for any individual Kubernetes operation (like Jobs for hooks)", "5m0s")
        .Flag("--dry-run", "Simulate the operation")
        .Flag("--no-hooks", "Prevent hooks from running")
        .Flag("--skip-crds", "Do not install CRDs")
        .Value("--description", "string", "Add a custom description")
        .Value("-o|--output", "format", "Prints the output in the specified format: table, json");

    private static Verb Helm() =>
        new Verb("helm", "COMMAND", FullCli.HelmHelp)
            .With(
                new Verb("install", "[NAME] [CHART] [flags]", "Install a chart (a directory, a .tgz, a URL, REPO/CHART or oci://...)")
                    .ValuesFlags().ReleaseFlags().Flag("-g|--generate-name", "Generate the name (and omit the NAME parameter)")
                    .Runs(HelmCommands.InstallAsync),
                new Verb("upgrade", "[RELEASE] [CHART] [flags]", "Upgrade a release to a new chart version or new values")
                    .ValuesFlags().ReleaseFlags()
                    .Flag("-i|--install", "If a release by this name doesn't already exist, run an install")
                    .Flag("--reuse-values", "Reuse the last release's values and merge in any overrides")
                    .Flag("--reset-values", "Reset the values to the ones built into the chart")
                    .Runs(HelmCommands.UpgradeAsync),
                new Verb("uninstall", "RELEASE_NAME [...] [flags]", "Uninstall a release: its resources, and its history unless kept")
                    .Alias("delete").Alias("un")
                    .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                    .Flag("--keep-history", "Remove all associated resources and mark the release as deleted, but retain the release history")
                    .Flag("--no-hooks", "Prevent hooks from running during uninstallation")
                    .Value("--timeout", "duration", "Time to wait for any individual Kubernetes operation", "5m0s")
                    .Value("--description", "string", "Add a custom description")
                    .Runs(HelmCommands.UninstallAsync),
                new Verb("rollback", "<RELEASE> [REVISION] [flags]", "Roll back a release to a previous revision (the previous one when none is given)")
                    .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                    .Flag("--wait", "Wait until the resources are ready")
                    .Flag("--no-hooks", "Prevent hooks from running during rollback")
                    .Flag("--dry-run", "Simulate a rollback")
                    .Value("--timeout", "duration", "Time to wait for any individual Kubernetes operation", "5m0s")
                    .Runs(HelmCommands.RollbackAsync),
                new Verb("list", "[flags]", "List releases")
                    .Alias("ls")
                    .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                    .Flag("-A|--all-namespaces", "List releases across all namespaces")
                    .Flag("-a|--all", "Show all releases without any filter applied")
                    .Flag("-q|--short", "Output short (quiet) listing format")
                    .Value("-o|--output", "format", "Prints the output in the specified format: table, json, yaml", "table")
                    .Runs(HelmCommands.ListAsync),
                new Verb("history", "RELEASE_NAME [flags]", "Fetch release history")
                    .Alias("hist")
                    .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                    .Value("--max", "int", "Maximum number of revisions to include in history", "256")
                    .Runs(HelmCommands.HistoryAsync),
                new Verb("status", "RELEASE_NAME [flags]", "Display the status of the named release")
                    .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                    .Value("--revision", "int", "Display the status of the named release with revision")
                    .Value("-o|--output", "format", "Prints the output in the specified format: table, json", "table")
                    .Runs(HelmCommands.StatusAsync),
                new Verb("get", "COMMAND", "Download extended information of a named release")
                    .With(
                        new Verb("values", "RELEASE_NAME [flags]", "Download the values file for a named release")
                            .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                            .Value("--revision", "int", "Get the named release with revision")
                            .Flag("-a|--all", "Dump all (computed) values")
                            .Value("-o|--output", "format", "Prints the output in the specified format: table, json", "table")
                            .Runs(HelmCommands.GetAsync),
                        new Verb("manifest", "RELEASE_NAME [flags]", "Download the manifest for a named release")
                            .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                            .Value("--revision", "int", "Get the named release with revision")
                            .Runs(HelmCommands.GetAsync),
                        new Verb("notes", "RELEASE_NAME [flags]", "Download the notes for a named release")
                            .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                            .Value("--revision", "int", "Get the named release with revision")
                            .Runs(HelmCommands.GetAsync),
                        new Verb("hooks", "RELEASE_NAME [flags]", "Download all hooks for a named release")
                            .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                            .Value("--revision", "int", "Get the named release with revision")
                            .Runs(HelmCommands.GetAsync)),
                new Verb("template", "[NAME] [CHART] [flags]", "Locally render templates")
                    .ValuesFlags()
                    .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                    .Flag("--include-crds", "Include CRDs in the templated output")
                    .Flag("--no-hooks", "Prevent hooks from being printed")
                    .Flag("--is-upgrade", "Set .Release.IsUpgrade instead of .Release.IsInstall")
                    .Flag("--strict", "Fail on missing values (missingkey=error)")
                    .Value("--kube-version", "string", "Kubernetes version used for Capabilities.KubeVersion")
                    .Value("-s|--show-only", "stringArray", "Only show manifests rendered from the given templates")
                    .Runs(HelmCommands.TemplateAsync),
                new Verb("test", "[RELEASE] [flags]", "Run the tests (hooks annotated helm.sh/hook: test) of a release")
                    .Value("-n|--namespace", "string", "Namespace scope for this request", "default")
                    .Value("--timeout", "duration", "Time to wait for any individual Kubernetes operation", "5m0s")
                    .Runs(HelmCommands.TestAsync),
                new Verb("create", "NAME", "Create a new chart with the given name (helm create's scaffold)")
                    .Runs(HelmCommands.CreateAsync),
                new Verb("lint", "PATH [flags]", "Examine a chart for possible issues")
                    .ValuesFlags()
                    .Value("-n|--namespace", "string", "Namespace to put the release into", "default")
                    .Flag("--strict", "Fail on lint warnings")
                    .Runs(HelmCommands.LintAsync),
                new Verb("package", "[CHART_PATH] [...] [flags]", "Package a chart directory into a chart archive")
                    .Value("-d|--destination", "string", "Location to write the chart", ".")
                    .Runs(HelmCommands.PackageAsync),
                new Verb("show", "COMMAND", "Show information of a chart")
                    .Alias("inspect")
                    .With(
                        new Verb("all", "[CHART] [flags]", "Show all information of the chart").Value("--version", "string", "The chart version").Flag("--devel", "Use development versions, too").Runs(HelmCommands.ShowAsync),
                        new Verb("chart", "[CHART] [flags]", "Show the chart's definition").Value("--version", "string", "The chart version").Flag("--devel", "Use development versions, too").Runs(HelmCommands.ShowAsync),
                        new Verb("values", "[CHART] [flags]", "Show the chart's values").Value("--version", "string", "The chart version").Flag("--devel", "Use development versions, too").Runs(HelmCommands.ShowAsync),
                        new Verb("readme", "[CHART] [flags]", "Show the chart's README").Value("--version", "string", "The chart version").Flag("--devel", "Use development versions, too").Runs(HelmCommands.ShowAsync),
                        new Verb("crds", "[CHART] [flags]", "Show the chart's CRDs").Value("--version", "string", "The chart version").Flag("--devel", "Use development versions, too").Runs(HelmCommands.ShowAsync)),
                new Verb("pull", "[chart URL | repo/chartname] [...] [flags]", "Download a chart from a repository, a URL or an OCI registry")
                    .Alias("fetch")
                    .Value("--version", "string", "Specify a version constraint for the chart version to use")
                    .Flag("--devel", "Use development versions, too")
                    .Value("-d|--destination", "string", "Location to write the chart", ".")
                    .Flag("--untar", "If set to true, will untar the chart after downloading it")
                    .Value("--untardir", "string", "If untar is specified, this flag specifies the directory to untar into", ".")
                    .Runs(HelmCommands.PullAsync),
                new Verb("push", "[chart] [remote] [flags]", "Push a chart archive to an OCI registry (oci://...)")
                    .Runs(HelmCommands.PushAsync),
                new Verb("dependency", "COMMAND", "Manage a chart's dependencies: charts/ from Chart.yaml, with Chart.lock")
                    .Alias("dep").Alias("dependencies")
                    .With(
                        new Verb("list", "CHART [flags]", "List the dependencies for the given chart").Alias("ls").Runs(HelmCommands.DependencyAsync),
                        new Verb("update", "CHART [flags]", "Update charts/ based on the contents of Chart.yaml, and write Chart.lock").Alias("up").Runs(HelmCommands.DependencyAsync),
                        new Verb("build", "CHART [flags]", "Rebuild charts/ based on the Chart.lock file").Runs(HelmCommands.DependencyAsync)),
                new Verb("repo", "COMMAND", "Add, list, remove, update, and index chart repositories")
                    .With(
                        new Verb("add", "[NAME] [URL] [flags]", "Add a chart repository").Flag("--force-update", "Replace (overwrite) the repo if it already exists").Runs(HelmCommands.RepoAsync),
                        new Verb("update", "[REPO1 [REPO2 ...]] [flags]", "Update information of available charts locally from chart repositories").Alias("up").Runs(HelmCommands.RepoAsync),
                        new Verb("list", "[flags]", "List chart repositories").Alias("ls").Runs(HelmCommands.RepoAsync),
                        new Verb("remove", "[REPO1 [REPO2 ...]] [flags]", "Remove one or more chart repositories").Alias("rm").Runs(HelmCommands.RepoAsync),
                        new Verb("index", "[DIR] [flags]", "Generate an index file given a directory containing packaged charts").Value("--url", "string", "URL of the chart repository").Runs(HelmCommands.RepoAsync)));
#endif

    private static int Seconds(string s, string flag) =>
        int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw new UsageException($"invalid argument \"{s}\" for \"{flag}\" flag: not a number");
}
