using System.Globalization;
using System.Text.Json.Nodes;
using Containers.Compose;
using Containers.Runtime;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Containers.Cli;

/// <summary>What compose prints: attached output with coloured prefixes, logs, events and the rendered model.</summary>
internal static partial class ComposeCommands
{
    private static readonly string[] Colors = ["\u001b[36m", "\u001b[33m", "\u001b[32m", "\u001b[35m", "\u001b[34m", "\u001b[96m", "\u001b[93m", "\u001b[92m"];

    private static void Event(bool json, ContainerState c, string action) => Console.WriteLine(json
        ? new JsonObject
        {
            ["time"] = DateTimeOffset.UtcNow.ToString("o", CultureInfo.InvariantCulture),
            ["type"] = "container",
            ["action"] = action,
            ["id"] = c.Id,
            ["service"] = Service(c),
            ["attributes"] = new JsonObject { ["name"] = c.Name, ["image"] = c.Spec.Image },
        }.ToJsonString()
        : $"{DateTimeOffset.UtcNow:o} container {action} {c.Id} (image={c.Spec.Image}, name={c.Name})");

    /// <summary>Follows every container's output with coloured <c>name  | </c> prefixes until they all exit (or one does, with <paramref name="abortOnExit"/>), or Ctrl+C stops the stack.</summary>
    private static async Task<int> AttachAsync(ComposeEngine compose, ComposeProject project, bool abortOnExit, string? exitCodeFrom, bool color)
    {
        using var cts = new CancellationTokenSource();
        using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, ctx =>
        {
            ctx.Cancel = true;
            cts.Cancel();
        });
        var containers = compose.Ps(project.Name).Where(c => c.Spec.Labels.GetValueOrDefault(ComposeEngine.OneOffLabel) != "True").ToList();
        var logs = PrintLogsAsync(compose.Engine, project, containers, follow: true, tail: null, color, prefix: true, cts.Token);
        var waits = containers.Select(c => compose.Engine.Get(c.Id).WaitAsync(cts.Token)).ToList();
        try
        {
            if (abortOnExit)
            {
                await Task.WhenAny(waits).ConfigureAwait(false);
            }
            else
            {
                await Task.WhenAll(waits).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }

        await Console.Error.WriteLineAsync(cts.IsCancellationRequested ? "Gracefully stopping... (press Ctrl+C again to force)" : "Aborting on container exit...").ConfigureAwait(false);
        foreach (var c in containers)
        {
            var h = compose.Engine.Get(c.Id);
            if (h.State.IsActive)
            {
                await h.StopAsync().ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"Container {c.Name}  Stopped").ConfigureAwait(false);
            }
        }

        // every follower ends by itself once its container has exited and its log is drained; then the rest is cut
        try
        {
            await logs.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }

        await cts.CancelAsync().ConfigureAwait(false);

        if (exitCodeFrom is not null)
        {
            return compose.Ps(project.Name).FirstOrDefault(c => Service(c) == exitCodeFrom)?.ExitCode ?? 1;
        }

        return compose.Ps(project.Name).Where(c => containers.Any(x => x.Id == c.Id)).Select(c => c.ExitCode).FirstOrDefault(code => code != 0);
    }

    private static async Task PrintLogsAsync(ContainerEngine engine, ComposeProject project, List<ContainerState> containers, bool follow, int? tail, bool color, bool prefix, CancellationToken ct)
    {
        var width = containers.Count == 0 ? 0 : containers.Max(c => c.Name.Length);
        var gate = new Lock();
        var services = project.Services.Keys.Order(StringComparer.Ordinal).ToList();
        await Task.WhenAll(containers.Select(async c =>
        {
            var colour = color && !Console.IsOutputRedirected ? Colors[Math.Max(0, services.IndexOf(Service(c))) % Colors.Length] : "";
            var reset = colour.Length > 0 ? "\u001b[0m" : "";
            var head = prefix ? $"{colour}{c.Name.PadRight(width)}  | {reset}" : "";
            try
            {
                await foreach (var line in engine.Get(c.Id).GetLogsAsync(follow, tail, ct).ConfigureAwait(false))
                {
                    lock (gate)
                    {
                        Console.Out.Write(head + line.Text.TrimEnd('\n') + "\n");
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        })).ConfigureAwait(false);
        await Console.Out.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The resolved model as YAML, written event by event (no reflection: NativeAOT-safe).</summary>
    private static string ToYaml(JsonNode node)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        var emitter = new Emitter(writer);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        Emit(emitter, node);
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    private static void Emit(IEmitter e, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                e.Emit(new MappingStart());
                foreach (var (k, v) in o)
                {
                    e.Emit(new Scalar(k));
                    Emit(e, v);
                }

                e.Emit(new MappingEnd());
                break;
            case JsonArray a:
                e.Emit(new SequenceStart(null, null, false, SequenceStyle.Block));
                foreach (var v in a)
                {
                    Emit(e, v);
                }

                e.Emit(new SequenceEnd());
                break;
            case null:
                e.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                break;
            case JsonValue v when v.TryGetValue<string>(out var s):
                e.Emit(new Scalar(null, null, s, ScalarStyle.Any, true, true));
                break;
            default:
                e.Emit(new Scalar(null, null, node.ToJsonString(), ScalarStyle.Plain, true, false));
                break;
        }
    }

    /// <summary>docker compose's progress lines on stderr.</summary>
    private sealed class Progress(TextWriter writer) : IProgress<string>
    {
        public void Report(string value) => writer.WriteLine(" ✔ " + value);
    }
}
