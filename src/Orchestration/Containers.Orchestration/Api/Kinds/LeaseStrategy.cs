namespace Containers.Orchestration.Api.Kinds;

/// <summary>
/// Lease (coordination.k8s.io/v1): what leader election and node heartbeats hold (spec.holderIdentity,
/// leaseDurationSeconds, acquireTime, renewTime, leaseTransitions), stored as given; <c>kubectl get leases</c> shows the holder.
/// </summary>
internal sealed class LeaseStrategy : KindStrategy
{
    /// <summary>The kind.</summary>
    public static ResourceType Type { get; } = new("coordination.k8s.io", "v1", "Lease", "leases", true) { Strategy = new LeaseStrategy() };

    /// <inheritdoc/>
    public override IReadOnlyList<TableColumn> Columns { get; } = [TableColumn.ObjectName, TableColumn.Text("Holder", "spec", "holderIdentity"), TableColumn.ObjectAge];
}
