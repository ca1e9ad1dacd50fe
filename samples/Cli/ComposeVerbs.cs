namespace Containers.Cli;

/// <summary>The <c>compose</c> verbs, with docker compose's names, options and help texts.</summary>
internal static class ComposeVerbs
{
    /// <summary><c>compose [OPTIONS] COMMAND</c>.</summary>
    public static Verb Compose() =>
        new Verb("compose", "[OPTIONS] COMMAND", "Define and run multi-container applications")
            .Value("--env-file", "stringArray", "Specify an alternate environment file")
            .Value("-f|--file", "stringArray", "Compose configuration files")
            .Value("--profile", "stringArray", "Specify a profile to enable")
            .Value("--project-directory", "string", "Specify an alternate working directory (default: the path of the first specified Compose file)")
            .Value("-p|--project-name", "string", "Project name")
            .With(
                Leaf("build", "[OPTIONS] [SERVICE...]", "Build or rebuild services")
                    .Value("--build-arg", "stringArray", "Set build-time variables for services")
                    .Flag("--no-cache", "Do not use cache when building the image")
                    .Flag("--pull", "Always attempt to pull a newer version of the image")
                    .Flag("-q|--quiet", "Don't print anything to STDOUT"),
                Leaf("config", "[OPTIONS] [SERVICE...]", "Parse, resolve and render compose file in canonical format")
                    .Value("--format", "string", "Format the output. Values: [yaml | json]", "yaml")
                    .Flag("-q|--quiet", "Only validate the configuration, don't print anything")
                    .Flag("--services", "Print the service names, one per line"),
                Leaf("down", "[OPTIONS] [SERVICES]", "Stop and remove containers, networks")
                    .Flag("--remove-orphans", "Remove containers for services not defined in the Compose file")
                    .Value("--rmi", "string", "Remove images used by services. \"local\" remove only images that don't have a custom tag (\"local\"|\"all\")")
                    .Value("-t|--timeout", "int", "Specify a shutdown timeout in seconds")
                    .Flag("-v|--volumes", "Remove named volumes declared in the \"volumes\" section of the Compose file and anonymous volumes attached to containers"),
                Leaf("events", "[OPTIONS] [SERVICE...]", "Receive real time events from containers")
                    .Flag("--json", "Output events as a stream of json objects"),
                Leaf("exec", "[OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container")
                    .StopsAtFirstArgument()
                    .Flag("-d|--detach", "Detached mode: Run command in the background")
                    .Value("-e|--env", "stringArray", "Set environment variables")
                    .Value("--index", "int", "Index of the container if service has multiple replicas", "1")
                    .Flag("-i|--interactive", "Keep STDIN open even if not attached (default true)")
                    .Flag("-T|--no-TTY", "Disable pseudo-TTY allocation. By default 'compose exec' allocates a TTY")
                    .Flag("-t|--tty", "Allocate a pseudo-TTY (default true)")
                    .Value("-u|--user", "string", "Run the command as this user")
                    .Value("-w|--workdir", "string", "Path to workdir directory for this command"),
                Leaf("kill", "[OPTIONS] [SERVICE...]", "Force stop service containers")
                    .Flag("--remove-orphans", "Remove containers for services not defined in the Compose file")
                    .Value("-s|--signal", "string", "SIGNAL to send to the container", "SIGKILL"),
                Leaf("logs", "[OPTIONS] [SERVICE...]", "View output from containers")
                    .Flag("-f|--follow", "Follow log output")
                    .Flag("--no-color", "Produce monochrome output")
                    .Flag("--no-log-prefix", "Don't print prefix in logs")
                    .Value("-n|--tail", "string", "Number of lines to show from the end of the logs for each container", "all")
                    .Flag("-t|--timestamps", "Show timestamps"),
                Leaf("port", "[OPTIONS] SERVICE PRIVATE_PORT", "Print the public port for a port binding")
                    .Value("--index", "int", "Index of the container if service has multiple replicas", "1")
                    .Value("--protocol", "string", "tcp or udp", "tcp"),
                Leaf("ps", "[OPTIONS] [SERVICE...]", "List containers")
                    .Flag("-a|--all", "Show all stopped containers (including those created by the run command)")
                    .Value("--format", "string", "Format the output. Values: [table | json]", "table")
                    .Flag("-q|--quiet", "Only display IDs")
                    .Flag("--services", "Display services")
                    .Value("--status", "stringArray", "Filter services by status"),
                Leaf("pull", "[OPTIONS] [SERVICE...]", "Pull service images")
                    .Flag("--ignore-pull-failures", "Pull what it can and ignores images with pull failures")
                    .Flag("-q|--quiet", "Pull without printing progress information"),
                Leaf("push", "[OPTIONS] [SERVICE...]", "Push service images"),
                Leaf("restart", "[OPTIONS] [SERVICE...]", "Restart service containers")
                    .Value("-t|--timeout", "int", "Specify a shutdown timeout in seconds"),
                Leaf("rm", "[OPTIONS] [SERVICE...]", "Removes stopped service containers")
                    .Flag("-f|--force", "Don't ask to confirm removal")
                    .Flag("-s|--stop", "Stop the containers, if required, before removing")
                    .Flag("-v|--volumes", "Remove any anonymous volumes attached to containers"),
                Leaf("run", "[OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service")
                    .StopsAtFirstArgument()
                    .Flag("--build", "Build image before starting container")
                    .Flag("-d|--detach", "Run container in background and print container ID")
                    .Value("--entrypoint", "string", "Override the entrypoint of the image")
                    .Value("-e|--env", "stringArray", "Set environment variables")
                    .Value("--name", "string", "Assign a name to the container")
                    .Flag("--no-deps", "Don't start linked services")
                    .Flag("-T|--no-TTY", "Disable pseudo-TTY allocation (default: auto-detected)")
                    .Flag("--rm", "Automatically remove the container when it exits")
                    .Value("-u|--user", "string", "Run as specified username or uid")
                    .Value("-w|--workdir", "string", "Working directory inside the container"),
                Leaf("scale", "[SERVICE=REPLICAS...]", "Scale services")
                    .Flag("--no-deps", "Don't start linked services"),
                Leaf("start", "[SERVICE...]", "Start services"),
                Leaf("stop", "[OPTIONS] [SERVICE...]", "Stop services")
                    .Value("-t|--timeout", "int", "Specify a shutdown timeout in seconds"),
                Leaf("up", "[OPTIONS] [SERVICE...]", "Create and start containers")
                    .Flag("--abort-on-container-exit", "Stops all containers if any container was stopped. Incompatible with -d")
                    .Flag("--build", "Build images before starting containers")
                    .Flag("-d|--detach", "Detached mode: Run containers in the background")
                    .Value("--exit-code-from", "string", "Return the exit code of the selected service container. Implies --abort-on-container-exit")
                    .Flag("--force-recreate", "Recreate containers even if their configuration and image haven't changed")
                    .Flag("--no-build", "Don't build an image, even if it's policy")
                    .Flag("--no-color", "Produce monochrome output")
                    .Flag("--no-deps", "Don't start linked services")
                    .Flag("--quiet-pull", "Pull without printing progress information")
                    .Flag("--remove-orphans", "Remove containers for services not defined in the Compose file")
                    .Value("--scale", "scale", "Scale SERVICE to NUM instances. Overrides the scale setting in the Compose file if present")
                    .Value("-t|--timeout", "int", "Use this timeout in seconds for container shutdown when containers are already running")
                    .Value("--wait-timeout", "int", "Maximum duration in seconds to wait for the project to be running|healthy", "300")
                    .Flag("--wait", "Wait for services to be running|healthy. Implies detached mode"),
                Leaf("wait", "SERVICE [SERVICE...] [OPTIONS]", "Block until containers of all (or specified) services stop")
                    .Flag("--down-project", "Drops project when the first container stops"));

    private static Verb Leaf(string name, string arguments, string description) =>
        new Verb(name, arguments, description).Runs(ComposeCommands.RunAsync);
}
