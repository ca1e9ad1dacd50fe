using Containers.Runtime;

namespace Containers.Tests.Runtime;

public sealed class UserResolverTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("users-").FullName;
    private readonly string hostFile = Path.Combine(Path.GetTempPath(), "host-passwd-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void A_passwd_symlink_is_resolved_inside_the_rootfs_never_on_the_host()
    {
        File.WriteAllText(hostFile, "ghost:x:1234:1234:host only:/:/bin/sh\n");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.CreateSymbolicLink(Path.Combine(root, "etc/passwd"), hostFile); // absolute: means ROOT + hostFile
        var e = Assert.Throws<InvalidContainerSpecException>(() => UserResolver.Resolve("ghost", [], [root]));
        Assert.Contains("unable to find user ghost", e.Message, StringComparison.Ordinal);

        // the same absolute link works when its target exists inside the root
        Directory.CreateDirectory(Path.Combine(root, Path.GetDirectoryName(hostFile)!.TrimStart('/')));
        File.WriteAllText(Path.Combine(root, hostFile.TrimStart('/')), "inner:x:77:77::/home/inner:/bin/sh\n");
        Assert.Equal(77u, UserResolver.Resolve("inner", [], [root]).Uid);
    }

    [Fact]
    public void Names_numbers_groups_and_membership()
    {
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
        File.WriteAllText(Path.Combine(root, "etc/group"), "root:x:0:\napp:x:1000:\nstaff:x:50:app\ndocker:x:999:\n");
        Assert.Equal(new[] { 1000u, 50u }, UserResolver.Resolve("app", [], [root]).AdditionalGids);
        var u = UserResolver.Resolve("app:docker", ["staff"], [root]);
        Assert.Equal((1000u, 999u, "/home/app"), (u.Uid, u.Gid, u.Home));
        Assert.Equal(4242u, UserResolver.Resolve("4242", [], [root]).Uid);
        Assert.Throws<InvalidContainerSpecException>(() => UserResolver.Resolve("app:nogroup", [], [root]));
    }

    public void Dispose()
    {
        Directory.Delete(root, true);
        File.Delete(hostFile);
    }
}
