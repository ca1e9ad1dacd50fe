using Containers.Orchestration.Controllers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Containers.Tests.Orchestration.Controllers;

/// <summary>The controllers' work queue on a fake clock: dedup, one worker per key, requeue after, per-key exponential backoff.</summary>
public sealed class WorkQueueTests
{
    private sealed class Recorder(Func<string, int, Task<ReconcileResult>>? act = null) : IReconciler<string>
    {
        private readonly Dictionary<string, int> calls = [];
        private int running;

        public List<string> Seen { get; } = [];

        public int MaxConcurrent { get; private set; }

        public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
        {
            int n;
            lock (Seen)
            {
                Seen.Add(key);
                n = calls[key] = calls.GetValueOrDefault(key) + 1;
                MaxConcurrent = Math.Max(MaxConcurrent, ++running);
            }

            try
            {
                return act is null ? default : await act(key, n);
            }
            finally
            {
                lock (Seen)
                {
                    running--;
                }
            }
        }

        public int Count(string key)
        {
            lock (Seen)
            {
                return Seen.Count(k => k == key);
            }
        }
    }

    /// <summary>A fake clock that counts the timers made on it (a back-off's timer is made after the failing reconcile returns: the test waits for it before moving the clock).</summary>
    private sealed class CountingTime : FakeTimeProvider
    {
        private int timers;

        public int Timers => Volatile.Read(ref timers);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Interlocked.Increment(ref timers);
            return base.CreateTimer(callback, state, dueTime, period);
        }
    }

    private static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    [Fact]
    public async Task A_key_added_many_times_while_waiting_runs_once()
    {
        var time = new FakeTimeProvider();
        var queue = new WorkQueue<string>(time);
        foreach (var key in new[] { "a", "a", "b", "a", "b" })
        {
            queue.Add(key);
        }

        var r = new Recorder();
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(r, 2, NullLogger.Instance, stop.Token);
        await Until(() => r.Seen.Count == 2);
        await Task.Delay(50);
        Assert.Equal(["a", "b"], r.Seen.Order());
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task A_key_added_while_it_runs_runs_again_after_and_never_twice_at_once()
    {
        var time = new FakeTimeProvider();
        var queue = new WorkQueue<string>(time);
        var gate = new TaskCompletionSource();
        var r = new Recorder(async (_, n) =>
        {
            if (n == 1)
            {
                await gate.Task;
            }

            return default;
        });
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(r, 4, NullLogger.Instance, stop.Token);
        queue.Add("a");
        await Until(() => r.Count("a") == 1);
        queue.Add("a"); // while it runs: marked dirty, not given to another worker
        queue.Add("a");
        await Task.Delay(50);
        Assert.Equal(1, r.Count("a"));
        gate.SetResult();
        await Until(() => r.Count("a") == 2);
        await Task.Delay(50);
        Assert.Equal(2, r.Count("a"));
        Assert.Equal(1, r.MaxConcurrent);
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task RequeueAfter_waits_on_the_clock()
    {
        var time = new CountingTime();
        var queue = new WorkQueue<string>(time);
        var r = new Recorder((_, n) => Task.FromResult(n == 1 ? new ReconcileResult(TimeSpan.FromSeconds(30)) : default));
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(r, 1, NullLogger.Instance, stop.Token);
        queue.Add("a");
        await Until(() => r.Count("a") == 1);
        await Until(() => time.Timers == 1); // the requeue is on the clock
        time.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(50);
        Assert.Equal(1, r.Count("a"));
        time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => r.Count("a") == 2);
        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Failures_back_off_per_key_doubling_from_5ms_and_a_success_resets_it()
    {
        var time = new CountingTime();
        var queue = new WorkQueue<string>(time);
        var r = new Recorder((_, n) => n <= 4 ? throw new InvalidOperationException("fails " + n) : Task.FromResult(default(ReconcileResult)));
        using var stop = new CancellationTokenSource();
        var run = queue.RunAsync(r, 1, NullLogger.Instance, stop.Token);
        queue.Add("a");
        await Until(() => r.Count("a") == 1);

        // the n-th failure waits 5 ms * 2^n: 10, 20, 40, 80 ms
        int timers = 0;
        foreach (var (wait, calls) in new[] { (10, 2), (20, 3), (40, 4), (80, 5) })
        {
            await Until(() => time.Timers == timers + 1); // the back-off of the last failure is on the clock
            timers++;
            time.Advance(TimeSpan.FromMilliseconds(wait - 1));
            await Task.Delay(30);
            Assert.Equal(calls - 1, r.Count("a"));
            time.Advance(TimeSpan.FromMilliseconds(1));
            await Until(() => r.Count("a") == calls);
        }

        await stop.CancelAsync();
        await run;
    }
}
