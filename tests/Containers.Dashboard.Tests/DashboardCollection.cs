namespace Containers.Tests.Dashboard;

/// <summary>
/// The dashboard's end-to-end tests run one after another: a browser, a cluster with its service proxy and a test
/// engine each, at once on 2 cores, made a page's request fail now and then ("Failed to fetch") when run in parallel.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DashboardCollection
{
    public const string Name = "dashboard end to end";
}
