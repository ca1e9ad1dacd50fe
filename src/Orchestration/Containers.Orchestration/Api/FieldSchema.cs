using System.Text.Json.Nodes;

namespace Containers.Orchestration.Api;

/// <summary>How the API server treats fields its kinds do not have (the <c>fieldValidation</c> query parameter).</summary>
public enum FieldValidation
{
    /// <summary>Drop them silently.</summary>
    Ignore,

    /// <summary>Drop them and say so in a <c>Warning</c> header (kube-apiserver's default).</summary>
    Warn,

    /// <summary>Refuse the request (400, "strict decoding error: unknown field ..."), as kubectl asks by default.</summary>
    Strict,
}

/// <summary>
/// The field names of the kinds served, as in k8s.io/api (v1.32), for <c>fieldValidation</c>: a field an object's kind
/// does not have is reported with its path as kube-apiserver's strict decoder names it
/// (<c>spec.template.spec.containers[0].imagePullPolcy</c>) and is dropped unless the request is refused. Statuses, and
/// a few deep or rarely written parts (affinity, security contexts, volume sources other than the common ones, topology
/// spread constraints), are not checked: anything under them is kept as sent.
/// </summary>
public static class FieldSchema
{
    // name        a scalar (or anything: its value is not checked)
    // name:*      anything below is accepted
    // name:{}     a map with free keys
    // name:T      an object of type T;  name:[T] an array of T;  name:[] an array of scalars
    private const string Definitions = """
        ObjectMeta: name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp deletionGracePeriodSeconds labels:{} annotations:{} ownerReferences:[OwnerReference] finalizers:[] managedFields:*
        OwnerReference: apiVersion kind name uid controller blockOwnerDeletion
        LabelSelector: matchLabels:{} matchExpressions:[LabelSelectorRequirement]
        LabelSelectorRequirement: key operator values:[]
        LocalObjectReference: name
        Pod: apiVersion kind metadata:ObjectMeta spec:PodSpec status:*
        PodTemplateSpec: metadata:ObjectMeta spec:PodSpec
        PodSpec: volumes:[Volume] initContainers:[Container] containers:[Container] ephemeralContainers:* restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy nodeSelector:{} serviceAccountName serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID hostIPC shareProcessNamespace securityContext:* imagePullSecrets:[LocalObjectReference] hostname subdomain affinity:* schedulerName tolerations:[Toleration] hostAliases:[HostAlias] priorityClassName priority dnsConfig:* readinessGates:* runtimeClassName enableServiceLinks preemptionPolicy overhead:{} topologySpreadConstraints:* setHostnameAsFQDN os:* hostUsers schedulingGates:* resourceClaims:* resources:*
        Container: name image command:[] args:[] workingDir ports:[ContainerPort] envFrom:[EnvFromSource] env:[EnvVar] resources:ResourceRequirements resizePolicy:* restartPolicy volumeMounts:[VolumeMount] volumeDevices:* livenessProbe:Probe readinessProbe:Probe startupProbe:Probe lifecycle:Lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy securityContext:* stdin stdinOnce tty
        ContainerPort: name hostPort containerPort protocol hostIP
        EnvVar: name value valueFrom:EnvVarSource
        EnvVarSource: fieldRef:ObjectFieldSelector resourceFieldRef:ResourceFieldSelector configMapKeyRef:KeySelector secretKeyRef:KeySelector
        ObjectFieldSelector: apiVersion fieldPath
        ResourceFieldSelector: containerName resource divisor
        KeySelector: name key optional
        EnvFromSource: prefix configMapRef:OptionalReference secretRef:OptionalReference
        OptionalReference: name optional
        ResourceRequirements: limits:{} requests:{} claims:*
        VolumeMount: name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr
        Probe: exec:ExecAction httpGet:HTTPGetAction tcpSocket:TCPSocketAction grpc:* initialDelaySeconds timeoutSeconds periodSeconds successThreshold failureThreshold terminationGracePeriodSeconds
        ExecAction: command:[]
        HTTPGetAction: path port host scheme httpHeaders:[HTTPHeader]
        HTTPHeader: name value
        TCPSocketAction: port host
        Lifecycle: postStart:LifecycleHandler preStop:LifecycleHandler stopSignal
        LifecycleHandler: exec:ExecAction httpGet:HTTPGetAction tcpSocket:TCPSocketAction sleep:*
        Toleration: key operator value effect tolerationSeconds
        HostAlias: ip hostnames:[]
        Volume: name hostPath:HostPathVolumeSource emptyDir:EmptyDirVolumeSource secret:SecretVolumeSource configMap:ConfigMapVolumeSource persistentVolumeClaim:PersistentVolumeClaimVolumeSource projected:* downwardAPI:* gcePersistentDisk:* awsElasticBlockStore:* gitRepo:* nfs:* iscsi:* glusterfs:* rbd:* flexVolume:* cinder:* cephfs:* flocker:* fc:* azureFile:* vsphereVolume:* quobyte:* azureDisk:* photonPersistentDisk:* portworxVolume:* scaleIO:* storageos:* csi:* ephemeral:* image:*
        HostPathVolumeSource: path type
        EmptyDirVolumeSource: medium sizeLimit
        SecretVolumeSource: secretName items:[KeyToPath] defaultMode optional
        ConfigMapVolumeSource: name items:[KeyToPath] defaultMode optional
        KeyToPath: key path mode
        PersistentVolumeClaimVolumeSource: claimName readOnly
        Deployment: apiVersion kind metadata:ObjectMeta spec:DeploymentSpec status:*
        DeploymentSpec: replicas selector:LabelSelector template:PodTemplateSpec strategy:DeploymentStrategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds
        DeploymentStrategy: type rollingUpdate:RollingUpdateDeployment
        RollingUpdateDeployment: maxUnavailable maxSurge
        ReplicaSet: apiVersion kind metadata:ObjectMeta spec:ReplicaSetSpec status:*
        ReplicaSetSpec: replicas minReadySeconds selector:LabelSelector template:PodTemplateSpec
        ControllerRevision: apiVersion kind metadata:ObjectMeta data:* revision
        Service: apiVersion kind metadata:ObjectMeta spec:ServiceSpec status:*
        ServiceSpec: ports:[ServicePort] selector:{} clusterIP clusterIPs:[] type externalIPs:[] sessionAffinity loadBalancerIP loadBalancerSourceRanges:[] externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig:* ipFamilies:[] ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy trafficDistribution
        ServicePort: name protocol appProtocol port targetPort nodePort
        Endpoints: apiVersion kind metadata:ObjectMeta subsets:*
        ConfigMap: apiVersion kind metadata:ObjectMeta data:{} binaryData:{} immutable
        Secret: apiVersion kind metadata:ObjectMeta data:{} stringData:{} type immutable
        Namespace: apiVersion kind metadata:ObjectMeta spec:NamespaceSpec status:*
        NamespaceSpec: finalizers:[]
        ServiceAccount: apiVersion kind metadata:ObjectMeta secrets:* imagePullSecrets:[LocalObjectReference] automountServiceAccountToken
        Node: apiVersion kind metadata:ObjectMeta spec:NodeSpec status:*
        NodeSpec: podCIDR podCIDRs:[] providerID unschedulable taints:[Taint] configSource:* externalID
        Taint: key value effect timeAdded
        Event: apiVersion kind metadata:ObjectMeta involvedObject:* reason message source:* firstTimestamp lastTimestamp count type eventTime series:* action related:* reportingComponent reportingInstance
        PersistentVolume: apiVersion kind metadata:ObjectMeta spec:PersistentVolumeSpec status:*
        PersistentVolumeSpec: capacity:{} accessModes:[] claimRef:* persistentVolumeReclaimPolicy storageClassName mountOptions:[] volumeMode nodeAffinity:* volumeAttributesClassName hostPath:HostPathVolumeSource local:LocalVolumeSource gcePersistentDisk:* awsElasticBlockStore:* glusterfs:* nfs:* rbd:* iscsi:* cinder:* cephfs:* fc:* flocker:* flexVolume:* azureFile:* vsphereVolume:* quobyte:* azureDisk:* photonPersistentDisk:* portworxVolume:* scaleIO:* storageos:* csi:*
        LocalVolumeSource: path fsType
        PersistentVolumeClaim: apiVersion kind metadata:ObjectMeta spec:PersistentVolumeClaimSpec status:*
        PersistentVolumeClaimSpec: accessModes:[] selector:LabelSelector resources:VolumeResourceRequirements volumeName storageClassName volumeMode dataSource:* dataSourceRef:* volumeAttributesClassName
        VolumeResourceRequirements: limits:{} requests:{}
        """;

    private static readonly Dictionary<string, Dictionary<string, string>> Types = Parse(Definitions);

    /// <summary>Parses <c>fieldValidation</c> (Ignore, Warn or Strict; absent: <paramref name="absent"/>); anything else is a 400.</summary>
    public static FieldValidation ParseMode(string? value, FieldValidation absent = FieldValidation.Warn) => value switch
    {
        null or "" => absent,
        "Ignore" => FieldValidation.Ignore,
        "Warn" => FieldValidation.Warn,
        "Strict" => FieldValidation.Strict,
        _ => throw ApiException.BadRequest($"fieldValidation parameter unsupported: {value} (Ignore, Warn or Strict)"),
    };

    /// <summary>
    /// Applies <paramref name="mode"/> to <paramref name="obj"/>: unknown fields are dropped (and their paths returned,
    /// for Warn), or refused with kube-apiserver's 400 for Strict.
    /// </summary>
    public static IReadOnlyList<string> Enforce(ResourceType type, JsonObject obj, FieldValidation mode)
    {
        var found = new List<string>();
        if (Types.ContainsKey(type.Kind))
        {
            Walk(obj, type.Kind, "", found, prune: mode != FieldValidation.Strict);
        }

        if (found.Count > 0 && mode == FieldValidation.Strict)
        {
            throw ApiException.BadRequest(
                $"{type.Kind} in version \"{type.Version}\" cannot be handled as a {type.Kind}: strict decoding error: {string.Join(", ", found.Select(f => $"unknown field \"{f}\""))}");
        }

        return mode == FieldValidation.Warn ? found : [];
    }

    private static void Walk(JsonObject obj, string type, string path, List<string> found, bool prune)
    {
        var fields = Types[type];
        List<string>? drop = null;
        foreach (var (name, value) in obj)
        {
            string at = path.Length == 0 ? name : path + "." + name;
            if (!fields.TryGetValue(name, out var spec))
            {
                found.Add(at);
                (drop ??= []).Add(name);
                continue;
            }

            if (value is null || spec.Length == 0 || spec is "*" or "{}" or "[]")
            {
                continue;
            }

            if (spec[0] == '[')
            {
                if (value is JsonArray items)
                {
                    string item = spec[1..^1];
                    for (int i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonObject element)
                        {
                            Walk(element, item, $"{at}[{i}]", found, prune);
                        }
                    }
                }
            }
            else if (value is JsonObject child)
            {
                Walk(child, spec, at, found, prune);
            }
        }

        if (prune && drop is not null)
        {
            foreach (var name in drop)
            {
                obj.Remove(name);
            }
        }
    }

    private static Dictionary<string, Dictionary<string, string>> Parse(string definitions)
    {
        var types = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        foreach (var line in definitions.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var field in line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                int sep = field.IndexOf(':', StringComparison.Ordinal);
                fields.Add(sep < 0 ? field : field[..sep], sep < 0 ? "" : field[(sep + 1)..]);
            }

            types.Add(line[..colon], fields);
        }

        foreach (var (type, fields) in types)
        {
            foreach (var (field, spec) in fields)
            {
                string target = spec.StartsWith('[') ? spec[1..^1] : spec;
                if (target.Length > 0 && target is not ("*" or "{}") && !types.ContainsKey(target))
                {
                    throw new InvalidOperationException($"field schema: {type}.{field} names the undefined type {target}");
                }
            }
        }

        return types;
    }
}
