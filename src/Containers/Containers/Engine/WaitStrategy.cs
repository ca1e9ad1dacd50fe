using System.Net.Sockets;
using System.Text.RegularExpressions;
using Polly;
using Polly.Retry;

namespace Containers;

/// <summary>
/// When a container counts as ready: a log line, an open TCP port, an HTTP answer, a healthy health check, or any
/// condition; each with a timeout, a polling interval and optionally a number of retries (Polly underneath).
/// Ports are reached at the container's own address: no published port is needed. The one wait model of the SDK:
/// <see cref="ContainerBuilder.WithWaitStrategy"/>, the Hosting resources and the xunit fixtures of Containers.Testing
/// wait through it.
/// </summary>
public sealed class WaitStrategy
{
    private readonly Func<Container, CancellationToken, Task<bool>> condition;

    private WaitStrategy(string description, Func<Container, CancellationToken, Task<bool>> condition)
    {
        Description = description;
        this.condition = condition;
    }

    /// <summary>What is waited for, for error messages.</summary>
    public string Description { get; }

    /// <summary>How long to wait in all (default 60 s).</summary>
    public TimeSpan Timeout { get; private init; } = TimeSpan.FromSeconds(60);

    /// <summary>Time between checks (default 100 ms).</summary>
    public TimeSpan Interval { get; private init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>At most this many checks after the first (default: as many as the timeout allows).</summary>
    public int? Retries { get; private init; }

    /// <summary>Ready when the container's output has matched <paramref name="pattern"/> <paramref name="times"/> times.</summary>
    public static WaitStrategy ForLogMessage(string pattern, int times = 1)
    {
        var regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        return new($"log message /{pattern}/", async (c, ct) =>
        {
            var n = 0;
            await foreach (var line in c.GetLogsAsync(false, null, ct).ConfigureAwait(false))
            {
                if (regex.IsMatch(line.Text) && ++n >= times)
                {
                    return true;
                }
            }

            return false;
        });
    }

    /// <summary>Ready when <paramref name="port"/> accepts TCP connections at the container's address.</summary>
    public static WaitStrategy ForTcpPort(int port) => new($"TCP port {port}", async (c, ct) =>
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await s.ConnectAsync(Address(c), port, ct).ConfigureAwait(false);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    });

    /// <summary>Ready when GET <paramref name="path"/> on <paramref name="port"/> answers 2xx (or satisfies <paramref name="predicate"/>).</summary>
    public static WaitStrategy ForHttp(string path, int port, Func<HttpResponseMessage, bool>? predicate = null) => new($"HTTP GET :{port}{path}", async (c, ct) =>
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync(new Uri($"http://{Address(c)}:{port}{path}"), ct).ConfigureAwait(false);
            return predicate?.Invoke(response) ?? response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    });

    /// <summary>Ready when the container's health check reports healthy (fails at once when it turns unhealthy).</summary>
    public static WaitStrategy ForHealthy() => new("healthy", (c, _) =>
    {
        var s = c.State;
        return s.Health?.Status switch
        {
            "healthy" => Task.FromResult(true),
            "unhealthy" => throw new ContainerException($"container {c.Name} is unhealthy: {s.Health.Log.LastOrDefault()?.Output.Trim()}"),
            null when s.Spec.HealthCheck is null or { IsDisabled: true } => throw new ContainerException($"container {c.Name} has no health check"),
            _ => Task.FromResult(false),
        };
    });

    /// <summary>Ready when <paramref name="check"/> returns true.</summary>
    public static WaitStrategy Until(Func<Container, CancellationToken, Task<bool>> check, string description = "custom condition") => new(description, check);

    /// <summary>A copy with another timeout.</summary>
    public WaitStrategy WithTimeout(TimeSpan timeout) => new(Description, condition) { Timeout = timeout, Interval = Interval, Retries = Retries };

    /// <summary>A copy with another polling interval.</summary>
    public WaitStrategy WithInterval(TimeSpan interval) => new(Description, condition) { Timeout = Timeout, Interval = interval, Retries = Retries };

    /// <summary>A copy that gives up after <paramref name="retries"/> further checks.</summary>
    public WaitStrategy WithRetries(int retries) => new(Description, condition) { Timeout = Timeout, Interval = Interval, Retries = retries };

    /// <summary>Waits; throws <see cref="TimeoutException"/> naming what was awaited when it does not happen in time.</summary>
    public async Task WaitAsync(Container container, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(container);
        var pipeline = new ResiliencePipelineBuilder<bool>()
            .AddTimeout(Timeout)
            .AddRetry(new RetryStrategyOptions<bool>
            {
                ShouldHandle = new PredicateBuilder<bool>().HandleResult(false).Handle<IOException>(),
                MaxRetryAttempts = Retries ?? int.MaxValue,
                Delay = Interval,
                BackoffType = DelayBackoffType.Constant,
            })
            .Build();
        bool ready;
        try
        {
            ready = await pipeline.ExecuteAsync(async ct =>
            {
                if (!container.State.IsActive && container.State.Status != Runtime.ContainerStatus.Created)
                {
                    throw new ContainerException($"container {container.Name} exited with {container.State.ExitCode} while waiting for {Description}");
                }

                return await condition(container, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Polly.Timeout.TimeoutRejectedException e)
        {
            throw new TimeoutException($"container {container.Name}: no {Description} within {Timeout.TotalSeconds:0.#} s", e);
        }

        if (!ready)
        {
            throw new TimeoutException($"container {container.Name}: no {Description} after {Retries} retries");
        }
    }

    private static IPAddress Address(Container c) =>
        c.IPAddress is { } ip ? IPAddress.Parse(ip) : c.State.Spec.NetworkMode == "host" ? IPAddress.Loopback : throw new ContainerException($"container {c.Name} has no address to reach");
}
