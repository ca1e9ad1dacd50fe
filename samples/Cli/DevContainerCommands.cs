using System.Text.Json.Nodes;
using Containers.DevContainers;

namespace Containers.Cli;

/// <summary>
/// <c>containers devcontainer up|exec|build|read-configuration|run-user-commands|stop|down</c>: the Dev Containers
/// CLI's commands and options, its JSON outcome line on stdout, progress on stderr.
/// </summary>
internal static class DevContainerCommands
{
    /// <summary>The verb tree of <c>devcontainer</c>.</summary>
    public static Verb Verbs() =>
        new Verb("devcontainer", "COMMAND", "Dev Containers: bring up, build and use the container of a devcontainer.json")
            .With(
                Leaf("up", "[OPTIONS]", "Create and run the dev container", UpAsync)
                    .Flag("--remove-existing-container", "Removes the dev container if it already exists")
                    .Flag("--build-no-cache", "Builds the image with --no-cache")
                    .Flag("--skip-post-create", "Do not run onCreateCommand, updateContentCommand, postCreateCommand, postStartCommand or postAttachCommand")
                    .Flag("--skip-non-blocking-commands", "Stop running user commands after running the command configured with waitFor or the updateContentCommand by default")
                    .Flag("--skip-post-attach", "Do not run postAttachCommand"),
                Leaf("build", "[OPTIONS]", "Build the dev container's image (features included)", BuildAsync)
                    .Flag("--no-cache", "Builds the image with --no-cache")
                    .Value("--image-name", "stringArray", "Image name(s) to tag the image with"),
                Leaf("exec", "[OPTIONS] COMMAND [ARG...]", "Execute a command in the running dev container as its remote user", ExecAsync)
                    .StopsAtFirstArgument()
                    .Flag("-t|--tty", "Allocate a pseudo-TTY"),
                Leaf("read-configuration", "[OPTIONS]", "Print the configuration as JSON", ReadConfigurationAsync)
                    .Flag("--include-merged-configuration", "Include the configuration merged with the image's and the features' metadata"),
                Leaf("run-user-commands", "[OPTIONS]", "Run the user commands (lifecycle commands) that are due in the running dev container", RunUserCommandsAsync)
                    .Flag("--skip-non-blocking-commands", "Stop running user commands after running the command configured with waitFor or the updateContentCommand by default")
                    .Flag("--skip-post-attach", "Do not run postAttachCommand"),
                Leaf("stop", "[OPTIONS]", "Stop the dev container (for compose, its project's containers)", (c, a) => AttachedAsync(c, a, (dev, _) => dev.StopAsync())),
                Leaf("down", "[OPTIONS]", "Remove the dev container (for compose, take its project down)", (c, a) => AttachedAsync(c, a, (dev, _) => dev.DownAsync())));

    private static Verb Leaf(string name, string arguments, string description, Func<CliContext, Args, Task<int>> handler) =>
        new Verb(name, arguments, description)
            .Value("--workspace-folder", "string", "Workspace folder path (default: the current folder)")
            .Value("--config", "string", "devcontainer.json path (default: found in the workspace folder)")
            .Runs(handler);

    private static DevContainerBuilder Builder(CliContext context, Args a, DevContainerOptions? options = null) =>
        DevContainer.FromFolder(a.Get("workspace-folder") ?? Directory.GetCurrentDirectory())
            .WithEngine(context.Engine)
            .WithOptions((options ?? new DevContainerOptions()) with
            {
                ConfigFile = a.Get("config"),
                Registry = context.Options.Registry,
                Log = line => Console.Error.WriteLine(line),
            });

    /// <summary>Runs <paramref name="body"/>; a failure prints the outcome line <c>{"outcome":"error",...}</c> and exits 1, as the reference does.</summary>
    private static async Task<int> Outcome(Func<Task<JsonObject?>> body)
    {
        try
        {
            var result = await body().ConfigureAwait(false);
            if (result is not null)
            {
                var line = new JsonObject { ["outcome"] = "success" };
                foreach (var (k, v) in result)
                {
                    line[k] = v?.DeepClone();
                }

                Console.Out.WriteLine(line.ToJsonString(DevContainerMetadata.Plain));
            }

            return 0;
        }
        catch (ContainerException e)
        {
            Console.Error.WriteLine("Error: " + e.Message);
            Console.Out.WriteLine(new JsonObject
            {
                ["outcome"] = "error",
                ["message"] = e.Message,
                ["description"] = e is DevContainerCommandException c ? $"The {c.CommandName} failed." : "An error occurred setting up the container.",
                ["containerId"] = e is DevContainerCommandException ce ? ce.ContainerId : null,
            }.ToJsonString(DevContainerMetadata.Plain));
            return 1;
        }
    }

    private static Task<int> UpAsync(CliContext context, Args a) => Outcome(async () =>
    {
        var dev = await Builder(context, a, new DevContainerOptions
        {
            RemoveExistingContainer = a.Has("remove-existing-container"),
            NoCache = a.Has("build-no-cache"),
            SkipLifecycleCommands = a.Has("skip-post-create"),
            SkipNonBlockingCommands = a.Has("skip-non-blocking-commands"),
            SkipPostAttach = a.Has("skip-post-attach"),
        }).UpAsync().ConfigureAwait(false);
        var result = new JsonObject
        {
            ["containerId"] = dev.Container.Id,
            ["remoteUser"] = dev.RemoteUser,
            ["remoteWorkspaceFolder"] = dev.WorkspaceFolder,
        };
        if (dev.ComposeProject is { } project)
        {
            result["composeProjectName"] = project.Name;
        }

        if (!dev.ForwardedPorts.IsEmpty)
        {
            result["forwardedPorts"] = new JsonObject(dev.ForwardedPorts.OrderBy(p => p.Key).Select(p => KeyValuePair.Create(p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), (JsonNode?)$"127.0.0.1:{p.Value}")));
        }

        return result;
    });

    private static Task<int> BuildAsync(CliContext context, Args a) => Outcome(async () =>
    {
        var image = await Builder(context, a, new DevContainerOptions { NoCache = a.Has("no-cache") }).BuildAsync().ConfigureAwait(false);
        var names = new JsonArray(image);
        foreach (var tag in a.All("image-name"))
        {
            context.Engine.Images.Tag(image, tag);
            names.Add((JsonNode)tag);
        }

        return new JsonObject { ["imageName"] = names };
    });

    private static async Task<int> ExecAsync(CliContext context, Args a)
    {
        if (a.Positionals.Count == 0)
        {
            throw new UsageException("\"devcontainer exec\" requires a command");
        }

        var config = Builder(context, a).ReadConfiguration();
        var dev = DevContainer.Attach(context.Engine, config);
        var options = await dev.ExecOptionsAsync(a.Positionals).ConfigureAwait(false);
        var tty = a.Has("tty");
        return await Commands.ExecInAsync(context.Engine, dev.Container.Id, options with { Tty = tty, OpenStdin = true }).ConfigureAwait(false);
    }

    private static Task<int> ReadConfigurationAsync(CliContext context, Args a) => Outcome(() =>
    {
        var config = Builder(context, a).ReadConfiguration();
        var result = new JsonObject
        {
            ["configuration"] = config.Json.DeepClone(),
            ["workspace"] = new JsonObject
            {
                ["workspaceFolder"] = config.WorkspaceFolder,
                ["configFolderPath"] = config.ConfigFolder,
            },
        };
        if (a.Has("include-merged-configuration"))
        {
            // the running container's metadata when there is one, else the image's (when it is here) and the file's
            var state = DevContainer.Find(context.Engine, config).FirstOrDefault();
            var entries = state is not null
                ? DevContainerMetadata.ParseLabel(state.Spec.Labels.GetValueOrDefault(DevContainerMetadata.Label), "container")
                : [.. (config.Image is { } image && context.Engine.Images.Find(image) is { } local ? DevContainerMetadata.ParseLabel(local.Config.Config?.Labels?.GetValueOrDefault(DevContainerMetadata.Label), image) : []), DevContainerMetadata.ConfigEntry(config)];
            var merged = DevContainerMetadata.Of(entries);
            var m = new JsonObject();
            foreach (var name in DevContainerMetadata.LifecycleCommands)
            {
                if (merged.Commands(name) is { IsEmpty: false } commands)
                {
                    m[name + "s"] = new JsonArray([.. commands.Select(c => c.Command.DeepClone())]);
                }
            }

            m["remoteUser"] = merged.RemoteUser;
            m["containerUser"] = merged.ContainerUser;
            m["init"] = merged.Init;
            m["privileged"] = merged.Privileged;
            m["capAdd"] = new JsonArray([.. merged.CapAdd.Select(c => (JsonNode)c)]);
            m["securityOpt"] = new JsonArray([.. merged.SecurityOpt.Select(c => (JsonNode)c)]);
            m["mounts"] = new JsonArray([.. merged.Mounts.Select(c => (JsonNode)c)]);
            m["containerEnv"] = new JsonObject(merged.ContainerEnv.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
            m["remoteEnv"] = new JsonObject(merged.RemoteEnv.Select(kv => KeyValuePair.Create(kv.Key, kv.Value is null ? null : (JsonNode?)kv.Value)));
            m["forwardPorts"] = new JsonArray([.. merged.ForwardPorts.Select(c => (JsonNode)c)]);
            result["mergedConfiguration"] = m;
        }

        Console.Out.WriteLine(result.ToJsonString(DevContainerMetadata.Plain));
        return Task.FromResult<JsonObject?>(null);
    });

    private static Task<int> RunUserCommandsAsync(CliContext context, Args a) => AttachedAsync(context, a, (dev, log) => dev.RunUserCommandsAsync(new DevContainerOptions
    {
        SkipNonBlockingCommands = a.Has("skip-non-blocking-commands"),
        SkipPostAttach = a.Has("skip-post-attach"),
        Log = log,
    }));

    private static Task<int> AttachedAsync(CliContext context, Args a, Func<DevContainer, Action<string>, Task> action) => Outcome(async () =>
    {
        var config = Builder(context, a).ReadConfiguration();
        var state = DevContainer.Find(context.Engine, config).FirstOrDefault() ?? throw new DevContainerException($"no dev container for {config.LocalWorkspaceFolder} ({config.ConfigFile})");
        var dev = a.Name is "stop" or "down" ? DevContainer.Attach(context.Engine, config, requireRunning: false) : DevContainer.Attach(context.Engine, config);
        await action(dev, line => Console.Error.WriteLine(line)).ConfigureAwait(false);
        return new JsonObject { ["containerId"] = state.Id };
    });
}
