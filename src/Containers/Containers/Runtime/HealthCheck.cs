namespace Containers.Runtime;

/// <summary>
/// A container health check, as docker runs it: <see cref="Test"/> is <c>["CMD", args...]</c>,
/// <c>["CMD-SHELL", "command"]</c> or <c>["NONE"]</c>; it is exec'd in the container every <see cref="Interval"/>
/// and the container is unhealthy after <see cref="Retries"/> consecutive failures.
/// </summary>
public sealed record HealthCheck
{
    /// <summary>A check that disables the image's.</summary>
    public static HealthCheck None { get; } = new() { Test = ["NONE"] };

    /// <summary>The test.</summary>
    public ImmutableArray<string> Test { get; init; } = [];

    /// <summary>Time between checks (default 30 s).</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Time one check may take (default 30 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Grace period after start during which failures do not count (default 0).</summary>
    public TimeSpan StartPeriod { get; init; }

    /// <summary>Time between checks during the start period (default 5 s).</summary>
    public TimeSpan StartInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Consecutive failures before the container is unhealthy (default 3).</summary>
    public int Retries { get; init; } = 3;

    /// <summary>True when this check is disabled (<c>NONE</c> or empty).</summary>
    public bool IsDisabled => Test.IsDefaultOrEmpty || Test[0] == "NONE";

    /// <summary>The command to exec: CMD's arguments, or <c>/bin/sh -c command</c> for CMD-SHELL.</summary>
    public ImmutableArray<string> Command => Test.IsDefaultOrEmpty ? [] : Test[0] switch
    {
        "CMD" => Test[1..],
        "CMD-SHELL" => ["/bin/sh", "-c", string.Join(' ', Test[1..])],
        "NONE" => [],
        _ => Test,
    };
}

/// <summary>The health of a container with a health check, as docker reports it in inspect.</summary>
public sealed record HealthState
{
    /// <summary><c>starting</c>, <c>healthy</c> or <c>unhealthy</c>.</summary>
    public string Status { get; init; } = "starting";

    /// <summary>Consecutive failed checks.</summary>
    public int FailingStreak { get; init; }

    /// <summary>The last results (at most 5), oldest first.</summary>
    public ImmutableArray<HealthLogEntry> Log { get; init; } = [];
}

/// <summary>One health check run.</summary>
/// <param name="Start">When it started.</param>
/// <param name="End">When it ended.</param>
/// <param name="ExitCode">0 healthy, 1 unhealthy, -1 when it could not run or timed out.</param>
/// <param name="Output">Its output (truncated to 4 KiB).</param>
public sealed record HealthLogEntry(DateTimeOffset Start, DateTimeOffset End, int ExitCode, string Output);
