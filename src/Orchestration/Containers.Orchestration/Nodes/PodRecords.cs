namespace Containers.Orchestration.Nodes;

/// <summary>What a node agent knows of one pod it runs: its containers' records, its sandbox, its IP and named ports.</summary>
internal sealed class PodRecord(string uid, string podsDirectory)
{
    public string Uid { get; } = uid;

    /// <summary>The pod's directory: <c>PODS/UID</c> (made on each use: a node keeps no path per pod).</summary>
    public string Directory => Path.Combine(podsDirectory, Uid);

    public Dictionary<string, ContainerRecord> Containers { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> NamedPorts { get; } = new(StringComparer.Ordinal);

    public DateTimeOffset? StartTime { get; set; }

    public string? PodIP { get; set; }

    /// <summary>The running sandbox holding the pod's namespaces, or null.</summary>
    public string? SandboxId { get; set; }

    /// <summary>How many sandboxes the pod had (part of the next one's runtime name).</summary>
    public int SandboxAttempt { get; set; }

    public string? LastMountError { get; set; }

    /// <summary>Where this node mounted the pod's replicated volumes, by PersistentVolume name.</summary>
    public Dictionary<string, string> ReplicatedPaths { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The pod's volumes as last made (name to host path), and when their contents were last brought up to date.</summary>
    public Dictionary<string, string>? PreparedVolumes { get; set; }

    /// <summary>When <see cref="PreparedVolumes"/> were last brought up to date.</summary>
    public DateTimeOffset VolumesRefreshedAt { get; set; }

    /// <summary>The digest of what was last written into each configMap, secret, downwardAPI or projected volume's directory, by the directory's name (the volume's: unique in the pod).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> VolumeDigests { get; } = new(1, 2, StringComparer.Ordinal); // a few entries, one writer at a time: not 31 buckets and a lock per core

    /// <summary>The service-account tokens of the pod's projected volumes (VOLUME/PATH), with when each is to be renewed.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, (byte[] Token, long RenewAt)> Tokens { get; } = new(1, 2, StringComparer.Ordinal);

    public ContainerRecord Get(string name, bool init)
    {
        lock (Containers)
        {
            string key = (init ? "init:" : "") + name;
            if (!Containers.TryGetValue(key, out var c))
            {
                c = new ContainerRecord(name);
                Containers[key] = c;
            }

            return c;
        }
    }
}

/// <summary>What a node agent knows of one container of a pod: its runs, restarts and backoff, image pulls, probes and readiness.</summary>
internal sealed class ContainerRecord(string name)
{
    public string Name { get; } = name;

    public string? Id { get; set; }

    /// <summary>The runtime id of its last run, or null.</summary>
    public string? LastRun
    {
        get
        {
            lock (Runs)
            {
                return Runs.LastOrDefault();
            }
        }
    }

    /// <summary>The runtime ids of its runs, oldest first (logs and logs --previous).</summary>
    public List<string> Runs { get; } = [];

    public int RestartCount { get; set; }

    public JsonObject? Terminated { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset NextStart { get; set; }

    public TimeSpan Backoff { get; set; }

    public bool BackoffEvent { get; set; }

    public bool PulledEvent { get; set; }

    public int PullFailures { get; set; }

    public string? WaitingReason { get; set; }

    public string? WaitingMessage { get; set; }

    public string? LastConfigError { get; set; }

    public bool Ready { get; set; }

    public bool Started { get; set; }

    public bool Succeeded { get; set; }

    public bool Finished { get; set; }

    public Dictionary<string, ProbeState> Probes { get; } = new(StringComparer.Ordinal);
}

/// <summary>One probe's last run and its consecutive successes and failures.</summary>
internal sealed class ProbeState
{
    public DateTimeOffset? Last { get; set; }

    public int Failures { get; set; }

    public int Successes { get; set; }

    /// <summary>While a new container warms up: when its startup or readiness probe is tried again (sooner than its period).</summary>
    public DateTimeOffset? Retry { get; set; }

    /// <summary>How many warm-up tries failed (each waits twice as long as the one before).</summary>
    public int WarmUpTries { get; set; }

    /// <summary>Whether the probe ever succeeded for this run of the container (warm-up is over).</summary>
    public bool Succeeded { get; set; }
}
