using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Containers.Orchestration.Api;

namespace Containers.Tests.Orchestration;

/// <summary>
/// RBAC, service accounts, the Node authorizer and the audit log, through the real kubectl: a user bound to view
/// reads but does not write, read Secrets or exec; a service account's token does what its RoleBinding allows and
/// nothing else, and stops working when it is tampered with or its account is deleted; an unprivileged local user
/// without credentials gets 401; denials read as kube-apiserver's.
/// </summary>
public sealed class AuthorizationTests : RecordedCluster
{
    private Kubectl Admin => new(Cluster.KubeconfigPath);

    private Kubectl As(string user, params string[] groups)
    {
        var dir = Path.Combine(Root, "users", user);
        Directory.CreateDirectory(dir);
        return new Kubectl(Kubeconfig.WriteForUser(Path.Combine(dir, "kubeconfig"), Path.Combine(Root, "cluster", "pki"), Cluster.Url, user, groups, TimeSpan.FromHours(1)));
    }

    /// <summary>A kubeconfig with the cluster's CA and no credentials (for --token).</summary>
    private Kubectl Bare()
    {
        var dir = Path.Combine(Root, "bare");
        Directory.CreateDirectory(dir);
        return new Kubectl(Kubeconfig.Write(Path.Combine(dir, "kubeconfig"), Cluster.Url, ClusterPki.Pem(Cluster.Pki!.Authority), null));
    }

    [Fact]
    public async Task A_user_bound_to_view_lists_pods_but_cannot_create_them_read_secrets_or_exec()
    {
        await Admin.RunAsync("create", "rolebinding", "alice-view", "--clusterrole=view", "--user=alice", "-n", "default");
        await Admin.RunAsync("create", "secret", "generic", "db", "--from-literal=password=hunter2-plaintext");
        await Admin.RunAsync("run", "web", "--image=busybox", "--restart=Never");
        var alice = As("alice", "devs");

        Assert.Contains("web", await alice.RunAsync("get", "pods", "-o", "name"));
        var (created, _, createError) = await alice.TryAsync("run", "other", "--image=busybox", "--restart=Never");
        Assert.NotEqual(0, created);
        Assert.Contains("Error from server (Forbidden): pods is forbidden: User \"alice\" cannot create resource \"pods\" in API group \"\" in the namespace \"default\"", createError);
        var (read, _, readError) = await alice.TryAsync("get", "secret", "db");
        Assert.NotEqual(0, read);
        Assert.Contains("secrets \"db\" is forbidden: User \"alice\" cannot get resource \"secrets\" in API group \"\" in the namespace \"default\"", readError);
        var (exec, _, execError) = await alice.TryAsync("exec", "web", "--", "true");
        Assert.NotEqual(0, exec);
        Assert.Contains("cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\"", execError);
        var (other, _, otherError) = await alice.TryAsync("get", "pods", "-n", "kube-system");
        Assert.NotEqual(0, other);
        Assert.Contains("cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\"", otherError);
        var (nodes, _, nodesError) = await alice.TryAsync("get", "nodes");
        Assert.NotEqual(0, nodes);
        Assert.Contains("nodes is forbidden: User \"alice\" cannot list resource \"nodes\" in API group \"\" at the cluster scope", nodesError);

        // kubectl auth can-i asks the server (SelfSubjectAccessReview); whoami (SelfSubjectReview)
        Assert.Equal("yes", (await alice.TryAsync("auth", "can-i", "list", "pods")).Out.Trim());
        Assert.Equal("no", (await alice.TryAsync("auth", "can-i", "create", "pods")).Out.Trim());
        Assert.Equal("no", (await alice.TryAsync("auth", "can-i", "get", "secrets")).Out.Trim());
        Assert.Equal("no", (await alice.TryAsync("auth", "can-i", "create", "pods", "--subresource=exec")).Out.Trim());
        Assert.Equal("yes", (await Admin.TryAsync("auth", "can-i", "create", "pods")).Out.Trim());
        var list = await alice.RunAsync("auth", "can-i", "--list");
        Assert.Contains("pods", list);
        Assert.DoesNotContain("secrets ", list);
        var whoami = await alice.RunAsync("auth", "whoami", "-o", "json");
        var info = JsonNode.Parse(whoami)!["status"]!["userInfo"]!;
        Assert.Equal("alice", (string?)info["username"]);
        Assert.Contains("devs", info["groups"]!.AsArray().Select(g => (string?)g));

        // the audit log says who did what, and never a Secret's value
        await Cluster.Access!.DisposeAsync(); // flushes it (the server's later requests are not logged)
        var audit = File.ReadAllLines(Path.Combine(Root, "cluster", "audit.log")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Contains(audit, e => (string?)e["user"]!["username"] == "alice" && (string?)e["verb"] == "list" && (string?)e["objectRef"]?["resource"] == "pods" && (int)e["responseStatus"]!["code"]! == 200);
        Assert.Contains(audit, e => (string?)e["user"]!["username"] == "alice" && (string?)e["verb"] == "get" && (string?)e["objectRef"]?["name"] == "db"
            && (int)e["responseStatus"]!["code"]! == 403 && (string?)e["annotations"]!["authorization.k8s.io/decision"] == "forbid");
        Assert.Contains(audit, e => (string?)e["user"]!["username"] == ClusterPki.AdminUser && (string?)e["verb"] == "create" && (string?)e["objectRef"]?["resource"] == "secrets");
        string text = File.ReadAllText(Path.Combine(Root, "cluster", "audit.log"));
        Assert.DoesNotContain("hunter2", text);
        Assert.DoesNotContain(Convert.ToBase64String("hunter2-plaintext"u8.ToArray()), text);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Root, "cluster", "audit.log")));
    }

    [Fact]
    public async Task A_service_account_token_does_what_its_role_binding_allows_and_nothing_else()
    {
        var admin = Admin;
        await admin.RunAsync("create", "serviceaccount", "robot");
        await admin.RunAsync("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods");
        await admin.RunAsync("create", "rolebinding", "robot-reads-pods", "--role=pod-reader", "--serviceaccount=default:robot");
        string token = (await admin.RunAsync("create", "token", "robot")).Trim();
        Assert.Equal(3, token.Split('.').Length);

        var bare = Bare();
        var (listed, _, listError) = await bare.TryAsync("--token=" + token, "get", "pods");
        Assert.True(listed == 0, listError);
        var (cm, _, cmError) = await bare.TryAsync("--token=" + token, "create", "configmap", "x");
        Assert.NotEqual(0, cm);
        Assert.Contains("configmaps is forbidden: User \"system:serviceaccount:default:robot\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\"", cmError);
        var (elsewhere, _, elsewhereError) = await bare.TryAsync("--token=" + token, "get", "pods", "-n", "kube-system");
        Assert.NotEqual(0, elsewhere);
        Assert.Contains("User \"system:serviceaccount:default:robot\" cannot list resource \"pods\"", elsewhereError);
        Assert.Equal("yes", (await bare.TryAsync("--token=" + token, "auth", "can-i", "watch", "pods")).Out.Trim());

        // a token with its payload changed (another namespace claimed): the signature no longer holds
        string[] parts = token.Split('.');
        string payload = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(parts[1].Replace('-', '+').Replace('_', '/').PadRight(parts[1].Length + ((4 - (parts[1].Length % 4)) % 4), '=')));
        string forged = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(payload.Replace("\"namespace\":\"default\"", "\"namespace\":\"kube-system\"", StringComparison.Ordinal))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var (tampered, _, tamperedError) = await bare.TryAsync("--token=" + parts[0] + "." + forged + "." + parts[2], "get", "pods");
        Assert.NotEqual(0, tampered);
        Assert.Contains("You must be logged in to the server", tamperedError);

        // TokenReview says whose it is; a deleted service account's token is refused
        var review = await PostAsync("/apis/authentication.k8s.io/v1/tokenreviews", new JsonObject { ["apiVersion"] = "authentication.k8s.io/v1", ["kind"] = "TokenReview", ["spec"] = new JsonObject { ["token"] = token } });
        Assert.Equal("system:serviceaccount:default:robot", (string?)review["status"]!["user"]!["username"]);
        Assert.Contains("system:serviceaccounts:default", review["status"]!["user"]!["groups"]!.AsArray().Select(g => (string?)g));
        await admin.RunAsync("delete", "serviceaccount", "robot");
        var (deleted, _, deletedError) = await bare.TryAsync("--token=" + token, "get", "pods");
        Assert.NotEqual(0, deleted);
        Assert.Contains("You must be logged in to the server", deletedError);
        var (short_, _, shortError) = await admin.TryAsync("create", "token", "default", "--duration=5m");
        Assert.NotEqual(0, short_);
        Assert.Contains("may not specify a duration less than 10 minutes", shortError);
    }

    [Fact]
    public async Task Every_namespace_gets_a_default_service_account_and_pods_get_its_token_volume()
    {
        var admin = Admin;
        await admin.RunAsync("create", "namespace", "team");
        await admin.WaitForAsync("default", TimeSpan.FromSeconds(20), "get", "serviceaccount", "default", "-n", "team", "-o", "jsonpath={.metadata.name}");
        await admin.WaitForAsync("kube-root-ca.crt", TimeSpan.FromSeconds(20), "get", "configmap", "kube-root-ca.crt", "-n", "team", "-o", "jsonpath={.metadata.name}");
        await admin.RunAsync("run", "app", "-n", "team", "--image=busybox", "--restart=Never");
        var pod = JsonNode.Parse(await admin.RunAsync("get", "pod", "app", "-n", "team", "-o", "json"))!;
        Assert.Equal("default", (string?)pod["spec"]!["serviceAccountName"]);
        var volume = pod["spec"]!["volumes"]!.AsArray().Single(v => ((string?)v!["name"])!.StartsWith("kube-api-access-", StringComparison.Ordinal))!;
        Assert.Equal(3607, (int)volume["projected"]!["sources"]![0]!["serviceAccountToken"]!["expirationSeconds"]!);
        Assert.Equal(ServiceAccountAdmissionPath, (string?)pod["spec"]!["containers"]![0]!["volumeMounts"]![0]!["mountPath"]);

        await admin.RunAsync("create", "serviceaccount", "quiet", "-n", "team");
        await admin.RunAsync("patch", "serviceaccount", "quiet", "-n", "team", "-p", "{\"automountServiceAccountToken\":false}");
        await admin.RunAsync("run", "quiet", "-n", "team", "--image=busybox", "--restart=Never", "--overrides={\"spec\":{\"serviceAccountName\":\"quiet\"}}");
        var quiet = JsonNode.Parse(await admin.RunAsync("get", "pod", "quiet", "-n", "team", "-o", "json"))!;
        Assert.Null(quiet["spec"]!["volumes"]);

        // the kubernetes Service of the API itself
        var svc = JsonNode.Parse(await admin.RunAsync("get", "service", "kubernetes", "-n", "default", "-o", "json"))!;
        Assert.Equal("10.96.0.1", (string?)svc["spec"]!["clusterIP"]);
        Assert.Equal(443, (int)svc["spec"]!["ports"]![0]!["port"]!);
        Assert.Equal($"127.0.0.1:{new Uri(Cluster.Url).Port}", (await admin.RunAsync("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}")).Trim());
    }

    private const string ServiceAccountAdmissionPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    [Fact]
    public async Task Aggregated_cluster_roles_take_the_rules_of_the_roles_they_select()
    {
        var admin = Admin;
        var manifest = Path.Combine(Root, "widget-reader.yaml");
        File.WriteAllText(manifest, """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: widget-reader
              labels:
                rbac.authorization.k8s.io/aggregate-to-view: "true"
            rules:
            - apiGroups: ["example.com"]
              resources: ["widgets"]
              verbs: ["get", "list"]
            """);
        await admin.RunAsync("apply", "-f", manifest);
        foreach (string role in new[] { "view", "edit", "admin" })
        {
            await admin.WaitForAsync("widgets", TimeSpan.FromSeconds(20), "get", "clusterrole", role, "-o", "jsonpath={.rules[?(@.apiGroups[0]==\"example.com\")].resources[0]}");
        }

        Assert.Contains("cluster-admin", await admin.RunAsync("get", "clusterrolebinding", "cluster-admin", "-o", "wide"));
        Assert.Contains("system:masters", await admin.RunAsync("get", "clusterrolebinding", "cluster-admin", "-o", "jsonpath={.subjects[0].name}"));
        var (bad, _, badError) = await admin.TryAsync("create", "rolebinding", "broken", "--role=x", "--user=u", "--dry-run=server", "-o", "yaml");
        Assert.True(bad == 0, badError); // a binding to a role that does not exist is allowed, as in Kubernetes (it grants nothing)
    }

    [Fact]
    public async Task A_namespace_admin_cannot_grant_what_they_do_not_hold()
    {
        var admin = Admin;
        await admin.RunAsync("create", "namespace", "team");
        await admin.RunAsync("create", "rolebinding", "carol-admin", "--clusterrole=admin", "--user=carol", "-n", "team");
        var carol = As("carol");
        await carol.RunAsync("create", "rolebinding", "dave-view", "--clusterrole=view", "--user=dave", "-n", "team");
        await carol.RunAsync("create", "role", "secret-reader", "--verb=get", "--resource=secrets", "-n", "team");
        var (escalated, _, escalatedError) = await carol.TryAsync("create", "rolebinding", "carol-root", "--clusterrole=cluster-admin", "--user=carol", "-n", "team");
        Assert.NotEqual(0, escalated);
        Assert.Contains("is attempting to grant RBAC permissions not currently held", escalatedError);
        var (nodes, _, nodesError) = await carol.TryAsync("create", "role", "node-reader", "--verb=list", "--resource=nodes", "-n", "team");
        Assert.NotEqual(0, nodes);
        Assert.Contains("Resources:[\"nodes\"]", nodesError);
        var (patched, _, patchError) = await carol.TryAsync("patch", "role", "secret-reader", "-n", "team", "--type=json", "-p", "[{\"op\":\"add\",\"path\":\"/rules/0/verbs/-\",\"value\":\"escalate\"}]");
        Assert.NotEqual(0, patched);
        Assert.Contains("not currently held", patchError);
        var (outside, _, _) = await carol.TryAsync("create", "rolebinding", "dave-view", "--clusterrole=view", "--user=dave", "-n", "default");
        Assert.NotEqual(0, outside);
    }

    [Fact]
    public async Task Credentials_that_do_not_hold_get_401_and_an_unprivileged_user_cannot_use_the_admin_kubeconfig()
    {
        // a certificate of the cluster CA that has expired
        using var expired = Cluster.Pki!.IssueClientCertificate("mallory", ["system:masters"], Cluster.Pki.Authority.NotBefore, TimeSpan.FromMinutes(1));
        using (var handler = new HttpClientHandler { ClientCertificateOptions = ClientCertificateOption.Manual, ServerCertificateCustomValidationCallback = (_, cert, _, _) => Cluster.Pki.ValidatesServer(cert) })
        {
            handler.ClientCertificates.Add(expired);
            using var http = new HttpClient(handler);
            using var refused = await http.GetAsync(new Uri(Cluster.Url + "/api/v1/pods"));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        // nobody (uid 65534), with the cluster's address and CA but no credentials, and unable to read the admin's
        var dir = Path.Combine(Root, "nobody");
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)0x1FF); // 0777: its discovery cache goes there
        File.SetUnixFileMode(Root, (UnixFileMode)0x1ED); // 0755
        string kubeconfig = Kubeconfig.Write(Path.Combine(dir, "kubeconfig"), Cluster.Url, ClusterPki.Pem(Cluster.Pki.Authority), null);
        File.SetUnixFileMode(kubeconfig, (UnixFileMode)0x1A4); // 0644: nothing secret in it
        File.WriteAllText(Path.Combine(dir, "ca.crt"), ClusterPki.Pem(Cluster.Pki.Authority));
        var (curlCode, curlOut, _) = await AsNobodyAsync(dir, "curl", "-s", "--cacert", Path.Combine(dir, "ca.crt"), "-w", "\n%{http_code}", Cluster.Url + "/api/v1/namespaces/default/pods");
        Assert.Equal(0, curlCode);
        Assert.EndsWith("\n401", curlOut, StringComparison.Ordinal);
        Assert.Contains("\"reason\":\"Unauthorized\"", curlOut);
        var (code, _, error) = await AsNobodyAsync(dir, "kubectl", "--kubeconfig", kubeconfig, "--token=guessed", "get", "pods");
        Assert.NotEqual(0, code);
        Assert.True(error.Contains("You must be logged in to the server", StringComparison.Ordinal), error);
        var (adminCode, _, adminError) = await AsNobodyAsync(dir, "kubectl", "--kubeconfig", Cluster.KubeconfigPath, "get", "pods");
        Assert.NotEqual(0, adminCode);
        Assert.Contains("permission denied", adminError);
        var (keyCode, _, _) = await AsNobodyAsync(dir, "cat", Path.Combine(Root, "cluster", "pki", "sa.key"));
        Assert.NotEqual(0, keyCode);
    }

    [Fact]
    public async Task A_node_reads_only_the_secrets_of_its_own_pods()
    {
        var admin = Admin;
        await admin.RunAsync("create", "secret", "generic", "mine", "--from-literal=k=v");
        await admin.RunAsync("create", "secret", "generic", "theirs", "--from-literal=k=v");
        await admin.RunAsync("run", "user", "--image=busybox", "--restart=Never", "--overrides={\"spec\":{\"volumes\":[{\"name\":\"s\",\"secret\":{\"secretName\":\"mine\"}}]}}");
        await admin.WaitForAsync("node-1", TimeSpan.FromSeconds(20), "get", "pod", "user", "-o", "jsonpath={.spec.nodeName}");
        using var node = Cluster.Pki!.IssueClientCertificate("system:node:node-1", ["system:nodes"]);
        using var handler = new HttpClientHandler { ClientCertificateOptions = ClientCertificateOption.Manual, ServerCertificateCustomValidationCallback = (_, cert, _, _) => Cluster.Pki.ValidatesServer(cert) };
        handler.ClientCertificates.Add(node);
        using var http = new HttpClient(handler);
        using (var mine = await http.GetAsync(new Uri(Cluster.Url + "/api/v1/namespaces/default/secrets/mine")))
        {
            Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        }

        using (var theirs = await http.GetAsync(new Uri(Cluster.Url + "/api/v1/namespaces/default/secrets/theirs")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, theirs.StatusCode);
            var status = JsonNode.Parse(await theirs.Content.ReadAsStringAsync())!;
            Assert.Equal("secrets \"theirs\" is forbidden: User \"system:node:node-1\" cannot get resource \"secrets\" in API group \"\" in the namespace \"default\": no relationship found between node 'node-1' and this object", (string?)status["message"]);
        }

        using (var all = await http.GetAsync(new Uri(Cluster.Url + "/api/v1/secrets")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, all.StatusCode);
        }

        using (var other = await http.PatchAsync(new Uri(Cluster.Url + "/api/v1/nodes/node-2"), new StringContent("{}", System.Text.Encoding.UTF8, "application/merge-patch+json")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        }

        using (var pods = await http.GetAsync(new Uri(Cluster.Url + "/api/v1/pods")))
        {
            Assert.Equal(HttpStatusCode.OK, pods.StatusCode);
        }
    }

    [Fact]
    public async Task Controllers_act_as_their_own_service_accounts_and_do_only_what_their_roles_allow()
    {
        var admin = Admin;
        var accounts = await admin.RunAsync("get", "serviceaccounts", "-n", "kube-system", "-o", "name");
        foreach (string account in new[] { "replicaset-controller", "deployment-controller", "endpoint-controller", "generic-garbage-collector", "namespace-controller", "node-controller" })
        {
            Assert.Contains("serviceaccount/" + account, accounts);
        }

        var binding = JsonNode.Parse(await admin.RunAsync("get", "clusterrolebinding", "system:controller:replicaset-controller", "-o", "json"))!;
        Assert.Equal("system:controller:replicaset-controller", (string?)binding["roleRef"]!["name"]);
        Assert.Equal("ServiceAccount", (string?)binding["subjects"]![0]!["kind"]);

        // take "create pods" from the ReplicaSet controller's role: a Deployment gets its ReplicaSet, but no pods
        var role = JsonNode.Parse(await admin.RunAsync("get", "clusterrole", "system:controller:replicaset-controller", "-o", "json"))!;
        var rules = role["rules"]!.AsArray();
        int podsRule = rules.Select((r, i) => (r, i)).Single(x => x.r!["resources"]!.AsArray().Any(v => (string?)v == "pods")).i;
        string verbs = string.Join(",", rules[podsRule]!["verbs"]!.AsArray().Select(v => "\"" + (string?)v + "\""));
        string without = string.Join(",", rules[podsRule]!["verbs"]!.AsArray().Select(v => (string?)v).Where(v => v != "create").Select(v => "\"" + v + "\""));
        await admin.RunAsync("patch", "clusterrole", "system:controller:replicaset-controller", "--type=json", "-p", $"[{{\"op\":\"replace\",\"path\":\"/rules/{podsRule}/verbs\",\"value\":[{without}]}}]");
        await admin.RunAsync("create", "deployment", "web", "--image=busybox", "--replicas=2");
        await admin.WaitForAsync("1", TimeSpan.FromSeconds(20), "get", "replicasets", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.generation}");
        string message = "";
        for (var until = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < until && !message.Contains("forbidden", StringComparison.Ordinal); await Task.Delay(200))
        {
            message = await admin.RunAsync("get", "events", "--field-selector=reason=FailedCreate", "-o", "jsonpath={.items[*].message}");
        }

        Assert.Contains("pods is forbidden: User \"system:serviceaccount:kube-system:replicaset-controller\" cannot create resource \"pods\" in API group \"\" in the namespace \"default\"", message);
        Assert.Equal("", (await admin.RunAsync("get", "pods", "-l", "app=web", "-o", "name")).Trim());

        // given back, the controller's retries create them (and the scheduler, as system:kube-scheduler, binds them)
        await admin.RunAsync("patch", "clusterrole", "system:controller:replicaset-controller", "--type=json", "-p", $"[{{\"op\":\"replace\",\"path\":\"/rules/{podsRule}/verbs\",\"value\":[{verbs}]}}]");
        await admin.WaitForAsync("node-1 node-1", TimeSpan.FromSeconds(60), "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.nodeName}");
    }

    [Fact]
    public async Task Impersonation_needs_the_impersonate_verb_and_then_acts_as_the_impersonated_user()
    {
        var admin = Admin;
        await admin.RunAsync("create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", "default");
        await admin.RunAsync("create", "serviceaccount", "robot");

        // the admin (system:masters) may impersonate anyone: the request is then bob's, with bob's rights
        Assert.Equal("yes", (await admin.TryAsync("auth", "can-i", "list", "pods", "--as=bob")).Out.Trim());
        Assert.Equal("no", (await admin.TryAsync("auth", "can-i", "create", "pods", "--as=bob")).Out.Trim());
        await admin.RunAsync("get", "pods", "--as=bob");
        var (created, _, createError) = await admin.TryAsync("create", "configmap", "x", "--as=bob");
        Assert.NotEqual(0, created);
        Assert.Contains("configmaps is forbidden: User \"bob\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"default\"", createError);
        var whoami = JsonNode.Parse(await admin.RunAsync("auth", "whoami", "-o", "json", "--as=bob", "--as-group=devs"))!["status"]!["userInfo"]!;
        Assert.Equal("bob", (string?)whoami["username"]);
        Assert.Equal(new[] { "devs", "system:authenticated" }, whoami["groups"]!.AsArray().Select(g => (string)g!).Order(StringComparer.Ordinal).ToArray());
        var robot = JsonNode.Parse(await admin.RunAsync("auth", "whoami", "-o", "json", "--as=system:serviceaccount:default:robot"))!["status"]!["userInfo"]!;
        Assert.Contains("system:serviceaccounts:default", robot["groups"]!.AsArray().Select(g => (string?)g));

        // alice may not impersonate, until a role gives her the verb on that user only
        var alice = As("alice");
        // kubectl's discovery shows a denied impersonation as "Forbidden: unknown", as against kube-apiserver; --raw shows the Status
        var (denied, _, deniedError) = await alice.TryAsync("get", "pods", "--as=bob");
        Assert.NotEqual(0, denied);
        Assert.Contains("Error from server (Forbidden)", deniedError);
        const string Pods = "/api/v1/namespaces/default/pods";
        var (raw, _, rawError) = await alice.TryAsync("get", "--raw", Pods, "--as=bob");
        Assert.NotEqual(0, raw);
        Assert.Contains("users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope", rawError);
        await admin.RunAsync("create", "clusterrole", "impersonate-bob", "--verb=impersonate", "--resource=users", "--resource-name=bob");
        await admin.RunAsync("create", "clusterrolebinding", "alice-impersonates-bob", "--clusterrole=impersonate-bob", "--user=alice");
        await alice.RunAsync("get", "pods", "--as=bob");
        var (group, _, groupError) = await alice.TryAsync("get", "--raw", Pods, "--as=bob", "--as-group=system:masters");
        Assert.NotEqual(0, group);
        Assert.Contains("groups \"system:masters\" is forbidden: User \"alice\" cannot impersonate resource \"groups\" in API group \"\" at the cluster scope", groupError);
        var (other, _, otherError) = await alice.TryAsync("get", "--raw", Pods, "--as=carol");
        Assert.NotEqual(0, other);
        Assert.Contains("users \"carol\" is forbidden", otherError);

        // a group without a user is a bad request, as kube-apiserver says
        using var http = Cluster.CreateAdminHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Cluster.Url + "/api/v1/namespaces/default/pods"));
        request.Headers.Add("Impersonate-Group", "devs");
        using var answer = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        Assert.Contains("requested [Impersonate-Group=devs] without impersonating a user", await answer.Content.ReadAsStringAsync());

        // the audit log names who asked and whom they impersonated
        await Cluster.Access!.DisposeAsync();
        var audit = File.ReadAllLines(Path.Combine(Root, "cluster", "audit.log")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Contains(audit, e => (string?)e["user"]!["username"] == "alice" && (string?)e["impersonatedUser"]?["username"] == "bob" && (string?)e["verb"] == "list");
    }

    private async Task<JsonNode> PostAsync(string path, JsonObject body)
    {
        using var http = Cluster.CreateAdminHttpClient();
        using var answer = await http.PostAsync(new Uri(Cluster.Url + path), new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        string text = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.Created, text);
        return JsonNode.Parse(text)!;
    }

    private static async Task<(int Code, string Out, string Err)> AsNobodyAsync(string home, params string[] command)
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--" }.Concat(command))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["HOME"] = home;
        psi.Environment.Remove("KUBECONFIG");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }
}
