using System.Collections.Immutable;
using Containers.Build;

namespace Containers.Cli;

/// <summary><c>containers build</c>: docker's plain progress (step numbers, CACHED, RUN output, DONE).</summary>
internal static class BuildCommand
{
    public static async Task<int> RunAsync(ContainerEngine engine, Args a)
    {
        if (a.Positionals.Count != 1)
        {
            throw new UsageException("\"build\" requires exactly 1 argument: the context directory");
        }

        if (a.Get("progress") is { } mode && mode is not ("plain" or "tty" or "auto"))
        {
            throw new UsageException($"invalid --progress '{mode}': plain, tty or auto (all print docker's plain progress)");
        }

        var context = a.Positionals[0];
        var buildArgs = a.All("build-arg").Select(kv => kv.Split('=', 2)).ToImmutableDictionary(p => p[0], p => p.Length > 1 ? p[1] : Environment.GetEnvironmentVariable(p[0]) ?? "");
        var secrets = a.All("secret").Select(s => s.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : ""))
            .ToImmutableDictionary(d => d.GetValueOrDefault("id") ?? throw new UsageException("--secret needs id="), d => d.GetValueOrDefault("src") ?? d.GetValueOrDefault("source") ?? throw new UsageException("--secret needs src="));
        long? epoch = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH") is { Length: > 0 } e && long.TryParse(e, System.Globalization.CultureInfo.InvariantCulture, out var sde) ? sde : null;
        var quiet = a.Has("quiet");
        var gate = new Lock();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var progress = new Inline<BuildEvent>(ev =>
        {
            if (!quiet)
            {
                lock (gate)
                {
                    Console.Error.WriteLine($"#{ev.Step} {ev.Text}");
                }
            }
        });
        var result = await engine.BuildAsync(new BuildOptions
        {
            ContextDirectory = Path.GetFullPath(context),
            DockerfilePath = a.Get("file") is { } f ? Path.GetFullPath(f) : null,
            Tags = [.. a.All("tag")],
            BuildArgs = buildArgs,
            Target = a.Get("target"),
            NoCache = a.Has("no-cache"),
            Network = a.Get("network") ?? "default",
            Secrets = secrets,
            SourceDateEpoch = epoch,
        }, progress).ConfigureAwait(false);
        foreach (var w in result.Warnings)
        {
            Console.Error.WriteLine("WARNING: " + w);
        }

        if (!quiet)
        {
            Console.Error.WriteLine($"#{result.Steps + 1} writing image {result.Image.Id} done");
            foreach (var t in result.Image.Names)
            {
                Console.Error.WriteLine($"#{result.Steps + 1} naming to {t} done");
            }

            Console.Error.WriteLine($"Built in {started.Elapsed.TotalSeconds:0.00}s ({result.CachedSteps} cached)");
        }

        Console.WriteLine(result.Image.Id);
        return 0;
    }

    /// <summary>Reports synchronously, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
