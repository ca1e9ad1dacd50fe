using Containers.Images;

namespace Containers.Tests.Runtime;

/// <summary>One table from error kinds to the codes the Docker and Kubernetes APIs answer with; every exception type says its kind.</summary>
public sealed class ErrorKindTests
{
    public static TheoryData<Exception, ErrorKind, int, string> Cases => new()
    {
        { new ContainerNotFoundException("x"), ErrorKind.NotFound, 404, "NotFound" },
        { new ImageNotFoundException("x"), ErrorKind.NotFound, 404, "NotFound" },
        { new ContainerConflictException("x"), ErrorKind.Conflict, 409, "Conflict" },
        { new ContainerConflictException("x", ErrorKind.Forbidden), ErrorKind.Forbidden, 403, "Forbidden" },
        { new InvalidContainerSpecException("x"), ErrorKind.InvalidArgument, 400, "BadRequest" },
        { new InvalidReferenceException("x"), ErrorKind.InvalidArgument, 400, "BadRequest" },
        { new FormatException("x"), ErrorKind.InvalidArgument, 400, "BadRequest" },
        { new ContainerStartException("x", "exec", 2, 127), ErrorKind.Unknown, 500, "InternalError" },
        { new ContainerException("x"), ErrorKind.Unknown, 500, "InternalError" },
        { new InvalidOperationException("x"), ErrorKind.Unknown, 500, "InternalError" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void An_error_maps_by_its_kind(Exception e, ErrorKind kind, int status, string reason)
    {
        Assert.Equal(kind, ErrorKinds.Of(e));
        Assert.Equal(status, ErrorKinds.HttpStatus(kind));
        Assert.Equal(reason, ErrorKinds.KubernetesReason(kind));
    }

    [Fact]
    public async Task Removing_the_default_bridge_is_forbidden_not_a_conflict()
    {
        await using var t = new TestEngine();
        var e = Assert.Throws<ContainerConflictException>(() => t.Engine.Networks.Remove("bridge"));
        Assert.Equal(ErrorKind.Forbidden, e.Kind);
    }
}
