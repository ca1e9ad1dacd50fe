using BenchmarkDotNet.Jobs;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Containers.Orchestration.Api;
using Containers.Orchestration.Storage;

namespace Containers.Benchmarks;

/// <summary>
/// What access control costs one request of the Kubernetes API, in process: the authorizer's decision for the
/// superuser group (one look at the groups), for a user a RoleBinding to <c>view</c> allows (the bootstrap policy's
/// bindings and the aggregated view rules searched) and for one nothing allows (everything searched), and a
/// service-account token's check (ES256 verification, the service account looked up) and issue (ES256 signing).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InProcessConfig))]
public class AuthorizationBenchmark
{
    private string root = "";
    private EmbeddedObjectStore store = null!;
    private Authorizer authorizer = null!;
    private ServiceAccountTokens tokens = null!;
    private ECDsa key = null!;
    private RequestAttributes admin = null!, viewer = null!, stranger = null!;
    private string token = "";

    [GlobalSetup]
    public void Setup()
    {
        root = Path.Combine(Path.GetTempPath(), "authorization-benchmark-" + Environment.ProcessId);
        store = EmbeddedObjectStore.Open(root);
        var api = new ObjectApi(store);
        BootstrapPolicy.Reconcile(api);
        api.Create(ResourceType.Find("rbac.authorization.k8s.io", "rolebindings")!, "default", JsonNode.Parse("""
            {"metadata":{"name":"alice-view"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},
             "subjects":[{"kind":"User","name":"alice"}]}
            """)!.AsObject());
        api.Create(ResourceType.Find("", "serviceaccounts")!, "default", JsonNode.Parse("""{"metadata":{"name":"robot"}}""")!.AsObject());
        authorizer = new Authorizer(api);
        key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        tokens = new ServiceAccountTokens(key, api);
        token = tokens.Issue("default", "robot", TimeSpan.FromHours(1)).Token;
        RequestAttributes ListPods(KubeUser user) => RequestAttributes.ForResource(user, "list", ResourceType.Pods, "default");
        admin = ListPods(new KubeUser("kubernetes-admin", ["system:masters", "system:authenticated"]));
        viewer = ListPods(new KubeUser("alice", ["devs", "system:authenticated"]));
        stranger = ListPods(new KubeUser("mallory", ["system:authenticated"]));
        if (!authorizer.Authorize(viewer).Allowed || authorizer.Authorize(stranger).Allowed || tokens.Authenticate(token).User is null)
        {
            throw new InvalidOperationException("the benchmark's set-up does not decide as expected");
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await store.DisposeAsync();
        key.Dispose();
        Directory.Delete(root, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public bool Superuser() => authorizer.Authorize(admin).Allowed;

    [Benchmark]
    public bool RoleBindingToView() => authorizer.Authorize(viewer).Allowed;

    [Benchmark]
    public bool Denied() => authorizer.Authorize(stranger).Allowed;

    [Benchmark]
    public bool ServiceAccountToken() => tokens.Authenticate(token).User is not null;

    [Benchmark]
    public string IssueToken() => tokens.Issue("default", "robot", TimeSpan.FromHours(1)).Token;

    private sealed class InProcessConfig : BenchmarkDotNet.Configs.ManualConfig
    {
        public InProcessConfig() => AddJob(Job.ShortRun.WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance));
    }
}
