using k8s;
using k8s.Autorest;

// Inside a pod: the API's address from KUBERNETES_SERVICE_HOST/PORT, the token and CA from
// /var/run/secrets/kubernetes.io/serviceaccount. Lists the pods of its namespace, then tries what its role does not
// allow (listing Secrets, creating a ConfigMap) and prints each answer's status code.
var config = KubernetesClientConfiguration.InClusterConfig();
using var client = new Kubernetes(config);
string ns = config.Namespace ?? "default";
var pods = await client.CoreV1.ListNamespacedPodAsync(ns).ConfigureAwait(false);
Console.WriteLine($"pods: {string.Join(",", pods.Items.Select(p => p.Metadata.Name).Order(StringComparer.Ordinal))}");
try
{
    await client.CoreV1.ListNamespacedSecretAsync(ns).ConfigureAwait(false);
    Console.WriteLine("secrets: allowed");
}
catch (HttpOperationException e)
{
    Console.WriteLine($"secrets: {(int)e.Response.StatusCode}");
}

try
{
    await client.CoreV1.CreateNamespacedConfigMapAsync(new k8s.Models.V1ConfigMap { Metadata = new() { Name = "from-pod" } }, ns).ConfigureAwait(false);
    Console.WriteLine("configmaps: allowed");
}
catch (HttpOperationException e)
{
    Console.WriteLine($"configmaps: {(int)e.Response.StatusCode}");
}

return 0;
