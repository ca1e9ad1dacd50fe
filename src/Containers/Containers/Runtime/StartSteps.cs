namespace Containers.Runtime;

/// <summary>
/// A container start as named steps, as youki's builder: each step that makes something pushes its undo, and when a
/// later step fails the undos run in reverse, so nothing of the start is left (addresses, terminal, shim, cgroup,
/// DNS). An undo that fails is logged and the others still run; the start's own error is the one thrown.
/// </summary>
internal sealed class StartSteps(ILogger logger, string containerId)
{
    private readonly Stack<(string Step, Func<ValueTask> Undo)> undos = new();
    private System.Diagnostics.Activity? activity;

    /// <summary>The step running, or the last one that ran (what a failure happened in).</summary>
    public string Current { get; private set; } = "";

    /// <summary>Runs step <paramref name="name"/>; its <paramref name="undo"/> (given its result) runs if a later step fails.</summary>
    public T Do<T>(string name, Func<T> step, Action<T>? undo = null)
    {
        Begin(name);
        var result = step();
        End();
        if (undo is not null)
        {
            undos.Push((name, () =>
            {
                undo(result);
                return ValueTask.CompletedTask;
            }));
        }

        return result;
    }

    /// <summary>Runs the asynchronous step <paramref name="name"/>; its <paramref name="undo"/> runs if a later step fails.</summary>
    public async Task<T> DoAsync<T>(string name, Func<Task<T>> step, Func<T, ValueTask>? undo = null)
    {
        Begin(name);
        var result = await step().ConfigureAwait(false);
        End();
        if (undo is not null)
        {
            undos.Push((name, () => undo(result)));
        }

        return result;
    }

    /// <summary>Runs step <paramref name="name"/>; <paramref name="undo"/>, when given, runs if a later step fails.</summary>
    public void Do(string name, Action step, Action? undo = null)
    {
        Begin(name);
        step();
        End();
        if (undo is not null)
        {
            undos.Push((name, () =>
            {
                undo();
                return ValueTask.CompletedTask;
            }));
        }
    }

    /// <summary>Runs the asynchronous step <paramref name="name"/>, which makes nothing to undo.</summary>
    public async Task DoAsync(string name, Func<Task> step)
    {
        Begin(name);
        await step().ConfigureAwait(false);
        End();
    }

    /// <summary>Undoes what the steps so far made, newest first.</summary>
    public async ValueTask UndoAsync()
    {
        if (activity is not null)
        {
            activity.SetStatus(System.Diagnostics.ActivityStatusCode.Error); // the step that failed
            End();
        }

        while (undos.TryPop(out var undo))
        {
            try
            {
                await undo.Undo().ConfigureAwait(false);
            }
            catch (Exception e) when (e is ContainerException or IOException or UnauthorizedAccessException or InvalidOperationException)
            {
                logger.LogWarning(e, "container {Id}: undoing '{Step}' of a failed start failed", containerId, undo.Step);
            }
        }
    }

    /// <summary>The start succeeded: what it made now belongs to the run.</summary>
    public void Commit()
    {
        undos.Clear();
    }

    private void Begin(string name)
    {
        Current = name;
        if (ContainerDiagnostics.StartSteps.HasListeners())
        {
            activity = ContainerDiagnostics.StartSteps.StartActivity(name);
            activity?.SetTag("container.id", containerId);
        }
    }

    private void End()
    {
        activity?.Dispose();
        activity = null;
    }
}
