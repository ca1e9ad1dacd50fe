using System.Diagnostics;

namespace Containers.Cli;

/// <summary>
/// <c>CONTAINERS_TRACE=1</c>: where a command's time goes, on standard error: the milestones of <c>run</c> and each
/// step of a container start (<see cref="ContainerDiagnostics.StartStepsSourceName"/>), in milliseconds since the
/// command began. What the issue on the CLI's speed was measured with; nothing is printed without it.
/// <c>CONTAINERS_TRACE=/absolute/file</c> appends the same lines to that file instead, each with the wall clock and the
/// process id, so that processes no terminal sees (a detached container's monitor, the cluster's node agent) can be
/// traced and lined up with each other.
/// </summary>
internal static class CliTrace
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();
    private static ActivityListener? listener;

    /// <summary>Whether tracing is on.</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("CONTAINERS_TRACE") is "1" or ['/', ..];

    private static readonly string? File = Environment.GetEnvironmentVariable("CONTAINERS_TRACE") is ['/', ..] f ? f : null;

    /// <summary>Starts the trace (listens to the start steps) when it is on.</summary>
    public static void Start()
    {
        if (!Enabled)
        {
            return;
        }

        listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ContainerDiagnostics.StartStepsSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a => Write($"{a.DisplayName} ({a.Duration.TotalMilliseconds:0.00} ms)"),
        };
        ActivitySource.AddActivityListener(listener);
        Mark("main " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Take(2)));
    }

    /// <summary>Prints <paramref name="what"/> with the time since the command began, when tracing is on.</summary>
    public static void Mark(string what)
    {
        if (Enabled)
        {
            Write(what);
        }
    }

    private static void Write(string what)
    {
        if (File is null)
        {
            Console.Error.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"trace {Clock.Elapsed.TotalMilliseconds,8:0.00} ms  {what}"));
            return;
        }

        // one write(2) per line with O_APPEND: lines of several processes do not interleave
        var line = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0:0.000} {Environment.ProcessId} {Clock.Elapsed.TotalMilliseconds,8:0.00} ms  {what}\n");
        System.IO.File.AppendAllText(File, line);
    }
}
