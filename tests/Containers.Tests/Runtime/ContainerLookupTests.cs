namespace Containers.Tests.Runtime;

/// <summary>Finding a container as dockerd does: a full id first (read at once), then a name, then a unique id prefix.</summary>
public sealed class ContainerLookupTests
{
    [Fact]
    public async Task A_container_is_found_by_full_id_before_a_name_that_is_the_same_text_then_by_name_and_unique_prefix()
    {
        await using var t = new TestEngine(prespawnShim: false);
        var first = t.Engine.Create(t.Busybox("true").WithName("first").ToSpec());
        // a name that is another container's full id: the full id wins, as in dockerd
        var impostor = t.Engine.Create(t.Busybox("true").WithName(first.Id).ToSpec());

        Assert.Equal(first.Id, t.Engine.Get(first.Id).Id);
        Assert.Equal(first.Id, t.Engine.Get("first").Id);
        Assert.Equal(impostor.Id, t.Engine.Get(impostor.Id[..12]).Id);
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Get(new string('f', 64)));
        Assert.Throws<ContainerNotFoundException>(() => t.Engine.Get("nobody"));
    }
}
