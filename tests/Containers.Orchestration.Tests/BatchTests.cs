using System.Text.Json.Nodes;
using Containers.Orchestration;
using Containers.Orchestration.Api;
using Containers.Orchestration.Controllers;
using Containers.Orchestration.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using KJson = Containers.Orchestration.Api.Json;

namespace Containers.Tests.Orchestration;

/// <summary>
/// Jobs and CronJobs through the real kubectl, with the recording runtime double on the nodes: the test plays the
/// containers' exits. CronJob schedules run on virtual time.
/// </summary>
public sealed class BatchTests : ClusterTestRoot
{
    private readonly RecordingPodRuntime runtime = new();

    public BatchTests()
        : base("batch")
    {
    }

    private Task<Cluster> StartAsync() => new ClusterBuilder(Root).WithNodes(2).WithPort(0).WithRuntime(runtime).StartAsync(CancellationToken.None);

    /// <summary>The running containers of the pods whose names start with <paramref name="prefix"/>.</summary>
    private List<(string Id, PodContainerSpecView Spec)> RunningOf(string prefix) =>
        [.. runtime.Running.Where(s => s.PodName.StartsWith(prefix, StringComparison.Ordinal))
            .Select(s => (runtime.Find(s.PodName, s.ContainerName)!, new PodContainerSpecView(s.PodName, s.Hostname, s.Environment.ToDictionary(kv => kv.Key, kv => kv.Value))))
            .Where(x => x.Item1 is not null)];

    private sealed record PodContainerSpecView(string PodName, string Hostname, Dictionary<string, string> Env);

    [Fact]
    public async Task A_job_of_five_completions_two_at_a_time_completes_after_a_pod_fails_once()
    {
        await using var cluster = await StartAsync();
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("work", """
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: work
            spec:
              completions: 5
              parallelism: 2
              template:
                spec:
                  restartPolicy: Never
                  containers:
                  - name: worker
                    image: worker:v1
            """));

        int exited = 0, maxRunning = 0;
        bool failedOnce = false;
        while (true)
        {
            var (_, done, _) = await k.TryAsync("get", "job", "work", "-o", "jsonpath={.status.conditions[?(@.type==\"Complete\")].status}");
            if (done.Trim() == "True")
            {
                break;
            }

            var running = RunningOf("work-");
            maxRunning = Math.Max(maxRunning, running.Count);
            if (running.Count > 0)
            {
                runtime.Exit(running[0].Id, failedOnce ? 0 : 1);
                failedOnce = true;
                exited++;
            }

            Assert.True(exited <= 8, "more pods ran than 5 completions and 1 failure need");
            await Task.Delay(100);
        }

        Assert.Equal(2, maxRunning);
        Assert.Equal("5 1 0", (await k.RunAsync("get", "job", "work", "-o", "jsonpath={.status.succeeded} {.status.failed} {.status.active}")).Trim());
        Assert.Equal("True", (await k.RunAsync("get", "job", "work", "-o", "jsonpath={.status.conditions[?(@.type==\"SuccessCriteriaMet\")].status}")).Trim());
        string table = await k.RunAsync("get", "jobs");
        Assert.Contains("Complete", table, StringComparison.Ordinal);
        Assert.Contains("5/5", table, StringComparison.Ordinal);

        // every finished pod was counted and let go: none keeps the tracking finalizer
        Assert.Equal("", (await k.RunAsync("get", "pods", "-o", "jsonpath={.items[*].metadata.finalizers}")).Trim());
        Assert.InRange((await k.RunAsync("get", "pods", "-l", "job-name=work", "-o", "name")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, 6, 7); // a surplus pod is deleted, as kube's
        string events = await k.RunAsync("get", "events", "--field-selector", "involvedObject.name=work");
        Assert.Contains("Job completed", events, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubectl_create_job_runs_and_wait_for_complete_returns()
    {
        await using var cluster = await StartAsync();
        var k = new Kubectl(cluster.KubeconfigPath);
        Assert.Contains("job.batch/hello created", await k.RunAsync("create", "job", "hello", "--image=busybox:v1", "--", "echo", "hi"), StringComparison.Ordinal);
        await UntilAsync(() => RunningOf("hello-").Count == 1, "the job's pod to run");
        var (id, spec) = RunningOf("hello-")[0];
        Assert.Equal("hello", KJson.Str(JsonNode.Parse(await k.RunAsync("get", "pod", spec.PodName, "-o", "json")), "metadata", "labels", "job-name"));
        runtime.Exit(id, 0);
        Assert.Contains("condition met", await k.RunAsync("wait", "--for=condition=complete", "job/hello", "--timeout=60s"), StringComparison.Ordinal);
        Assert.Contains("1/1", await k.RunAsync("get", "job", "hello"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_indexed_jobs_pods_see_their_index_and_a_failjob_rule_fails_a_job_that_its_ttl_then_removes()
    {
        await using var cluster = await StartAsync();
        var k = new Kubectl(cluster.KubeconfigPath);
        await k.RunAsync("apply", "-f", Manifest("indexed", """
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: idx
            spec:
              completions: 3
              parallelism: 3
              completionMode: Indexed
              template:
                spec:
                  restartPolicy: Never
                  containers:
                  - name: part
                    image: worker:v1
            ---
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: fragile
            spec:
              backoffLimit: 6
              ttlSecondsAfterFinished: 5
              podFailurePolicy:
                rules:
                - action: FailJob
                  onExitCodes:
                    operator: In
                    values: [42]
              template:
                spec:
                  restartPolicy: Never
                  containers:
                  - name: main
                    image: worker:v1
            """));

        await UntilAsync(() => RunningOf("idx-").Count == 3, "three indexed pods");
        var parts = RunningOf("idx-");
        Assert.Equal(["0", "1", "2"], parts.Select(p => p.Spec.Env["JOB_COMPLETION_INDEX"]).Order(StringComparer.Ordinal));
        foreach (var (id, spec) in parts)
        {
            Assert.Equal("idx-" + spec.Env["JOB_COMPLETION_INDEX"], spec.Hostname);
            Assert.StartsWith($"idx-{spec.Env["JOB_COMPLETION_INDEX"]}-", spec.PodName, StringComparison.Ordinal);
        }

        // index 1 fails: it is run again, under the same index
        runtime.Exit(parts.Single(p => p.Spec.Env["JOB_COMPLETION_INDEX"] == "1").Id, 3);
        runtime.Exit(parts.Single(p => p.Spec.Env["JOB_COMPLETION_INDEX"] == "0").Id, 0);
        runtime.Exit(parts.Single(p => p.Spec.Env["JOB_COMPLETION_INDEX"] == "2").Id, 0);
        await k.WaitForAsync("0,2", TimeSpan.FromSeconds(30), "get", "job", "idx", "-o", "jsonpath={.status.completedIndexes}");
        await UntilAsync(() => RunningOf("idx-1-").Count == 1, "index 1 again, after its back-off");
        runtime.Exit(RunningOf("idx-1-")[0].Id, 0);
        await k.RunAsync("wait", "--for=condition=complete", "job/idx", "--timeout=60s");
        Assert.Equal("0-2 3 1", (await k.RunAsync("get", "job", "idx", "-o", "jsonpath={.status.completedIndexes} {.status.succeeded} {.status.failed}")).Trim());

        // exit code 42 matches the FailJob rule: the job fails at once, whatever its backoffLimit
        await UntilAsync(() => RunningOf("fragile-").Count == 1, "the fragile job's pod");
        runtime.Exit(RunningOf("fragile-")[0].Id, 42);
        var (waited, _, why) = await k.TryAsync("wait", "--for=condition=failed", "job/fragile", "--timeout=30s");
        Assert.True(waited == 0, why + (await k.TryAsync("get", "job,pods", "-o", "yaml")).Out);
        var failed = await k.RunAsync("get", "job", "fragile", "-o", "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}|{.status.conditions[?(@.type==\"Failed\")].message}");
        Assert.StartsWith("PodFailurePolicy|Container main for pod default/fragile-", failed, StringComparison.Ordinal);
        Assert.EndsWith("failed with exit code 42 matching FailJob rule at index 0", failed.Trim(), StringComparison.Ordinal);

        // ttlSecondsAfterFinished: 5: the job goes, and its pod with it
        await k.WaitForAsync("", TimeSpan.FromSeconds(30), "get", "jobs", "fragile", "--ignore-not-found", "-o", "name");
        await k.WaitForAsync("", TimeSpan.FromSeconds(30), "get", "pods", "-l", "job-name=fragile", "-o", "name");
    }

    [Fact]
    public async Task Bad_jobs_and_cronjobs_get_kubernetes_errors_naming_the_field()
    {
        await using var cluster = await StartAsync();
        var k = new Kubectl(cluster.KubeconfigPath);
        var (exit, _, err) = await k.TryAsync("apply", "-f", Manifest("negative", """
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: negative
            spec:
              completions: -1
              template:
                spec:
                  restartPolicy: Always
                  containers:
                  - name: c
                    image: worker:v1
            """));
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.completions: Invalid value: -1: must be greater than or equal to 0", err, StringComparison.Ordinal);
        Assert.Contains("spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"", err, StringComparison.Ordinal);

        await k.RunAsync("create", "job", "fixed", "--image=worker:v1");
        (exit, _, err) = await k.TryAsync("set", "image", "job/fixed", "fixed=worker:v2");
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.template: Invalid value", err, StringComparison.Ordinal);
        Assert.Contains("field is immutable", err, StringComparison.Ordinal);

        (exit, _, err) = await k.TryAsync("create", "cronjob", "bad", "--image=worker:v1", "--schedule=*/5 * * *");
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.schedule: Invalid value: \"*/5 * * *\"", err, StringComparison.Ordinal);
        (exit, _, err) = await k.TryAsync("apply", "-f", Manifest("zone", """
            apiVersion: batch/v1
            kind: CronJob
            metadata:
              name: zoned
            spec:
              schedule: "@hourly"
              timeZone: Mars/Olympus_Mons
              jobTemplate:
                spec:
                  template:
                    spec:
                      restartPolicy: OnFailure
                      containers:
                      - name: c
                        image: worker:v1
            """));
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.timeZone: Invalid value: \"Mars/Olympus_Mons\": unknown time zone Mars/Olympus_Mons", err, StringComparison.Ordinal);
        Assert.Equal("fixed", (await k.RunAsync("get", "jobs", "-o", "jsonpath={.items[*].metadata.name}")).Trim()); // nothing half-made
        Assert.Equal("", (await k.RunAsync("get", "cronjobs", "-o", "name")).Trim());
    }

    [Fact]
    public async Task A_cronjob_is_created_by_kubectl_and_a_job_made_from_it_runs()
    {
        await using var cluster = await StartAsync();
        var k = new Kubectl(cluster.KubeconfigPath);
        Assert.Contains("cronjob.batch/nightly created", await k.RunAsync("create", "cronjob", "nightly", "--image=worker:v1", "--schedule=@daily", "--", "backup"), StringComparison.Ordinal);
        string table = await k.RunAsync("get", "cj");
        Assert.Contains("@daily", table, StringComparison.Ordinal);
        Assert.Contains("job.batch/manual created", await k.RunAsync("create", "job", "manual", "--from=cronjob/nightly"), StringComparison.Ordinal);
        await UntilAsync(() => RunningOf("manual-").Count == 1, "the job made from the cronjob");
        Assert.Equal("nightly", (await k.RunAsync("get", "job", "manual", "-o", "jsonpath={.metadata.ownerReferences[0].name}")).Trim());
        runtime.Exit(RunningOf("manual-")[0].Id, 0);
        await k.RunAsync("wait", "--for=condition=complete", "job/manual", "--timeout=60s");

        // deleting the cronjob takes the job it owns, and the job's pod
        await k.RunAsync("delete", "cronjob", "nightly");
        await k.WaitForAsync("", TimeSpan.FromSeconds(30), "get", "jobs", "-o", "name");
        await k.WaitForAsync("", TimeSpan.FromSeconds(30), "get", "pods", "-o", "name");
    }

    [Fact]
    public async Task A_day_of_a_five_minute_forbid_schedule_on_virtual_time_never_overlaps()
    {
        var start = new DateTimeOffset(2026, 3, 1, 0, 0, 1, TimeSpan.Zero); // a second past each minute: the controller's timers are due
        var time = new FakeTimeProvider(start);
        string dir = Path.Combine(Root, "store");
        await using var store = EmbeddedObjectStore.Open(dir);
        var api = new ObjectApi(store, time);
        await using var controllers = await ControllerManager.StartAsync(api, new ControllerOptions { EventTtl = null }, NullLoggerFactory.Instance);
        var cronJobs = ResourceType.Find("batch", "cronjobs")!;
        var jobs = ResourceType.Find("batch", "jobs")!;
        api.Create(cronJobs, "default", (JsonObject)JsonNode.Parse("""
            {"metadata":{"name":"tick"},"spec":{"schedule":"*/5 * * * *","timeZone":"Europe/Berlin","concurrencyPolicy":"Forbid","startingDeadlineSeconds":60,
             "successfulJobsHistoryLimit":2,
             "jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"worker:v1"}]}}}}}}
            """)!);

        // each job runs 7 minutes: the run at :05 finds :00's still going and is skipped, so one runs every 10 minutes
        var finishAt = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        int maxActive = 0;
        var created = new List<string>();
        for (int minute = 1; minute <= 24 * 60; minute++)
        {
            time.SetUtcNow(start.AddMinutes(minute));
            var now = time.GetUtcNow();
            foreach (var (name, at) in finishAt.Where(f => f.Value <= now).ToList())
            {
                await FinishAsync(name);
                finishAt.Remove(name);
            }

            if (minute % 10 == 0)
            {
                string expected = $"tick-{now.ToUnixTimeSeconds() / 60}"; // the scheduled minute
                await UntilAsync(() => api.TryGet(jobs, "default", expected) is not null, $"job {expected} at {now:HH:mm}", seconds: 10);
                finishAt[expected] = now.AddMinutes(7);
                created.Add(expected);
            }

            int active = api.List(jobs, "default").Items.Count(j => !KJson.Items(j, "status", "conditions").Any(c => KJson.Str(c, "type") == "Complete"));
            maxActive = Math.Max(maxActive, active);
        }

        // let the controllers settle, then check: one job every ten minutes, never two at once, two kept in history
        await UntilAsync(() => api.List(jobs, "default").Items.Count <= 3, "the history limit's deletions");
        Assert.Equal(144, created.Count);
        Assert.Equal(1, maxActive);
        var cj = api.Get(cronJobs, "default", "tick");
        Assert.NotNull(KJson.Str(cj, "status", "lastScheduleTime"));
        var kept = api.List(jobs, "default").Items.Select(j => KJson.Name(j)).ToList();
        Assert.All(kept, n => Assert.True(long.Parse(n["tick-".Length..], System.Globalization.CultureInfo.InvariantCulture) % 10 == 0, n));
        var any = api.Get(jobs, "default", created[^1]);
        Assert.EndsWith("+01:00", KJson.Str(any, "metadata", "annotations", "batch.kubernetes.io/cronjob-scheduled-timestamp"), StringComparison.Ordinal); // Berlin in March, before DST

        async Task FinishAsync(string name)
        {
            // plays the kubelet: the job's pod succeeds (no nodes run here), so the job controller completes the job
            List<JsonObject> Pods() => [.. api.List(ResourceType.Pods, "default").Items.Where(p => KJson.Str(p, "metadata", "labels", "job-name") == name)];
            await UntilAsync(() => Pods().Count == 1, $"the pod of {name}", seconds: 10);
            api.Mutate(ResourceType.Pods, "default", KJson.Name(Pods()[0]), p =>
            {
                p["status"] = new JsonObject { ["phase"] = "Succeeded" };
                return true;
            }, "status");

            // complete in the controllers' cache, before the next schedule looks at it
            await UntilAsync(() => controllers.Informers.For(jobs).Get("default", name) is { } j && KJson.Items(j, "status", "conditions").Any(c => KJson.Str(c, "type") == "Complete"), $"{name} complete", seconds: 10);
        }
    }
}
