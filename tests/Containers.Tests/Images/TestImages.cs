using System.Diagnostics;
using Containers.Images;

namespace Containers.Tests.Images;

/// <summary>Test images made locally: the busybox rootfs as a tarball, imported as a one-layer image.</summary>
public static class TestImages
{
    private static readonly Lazy<string> Tarball = new(() =>
    {
        var path = TestRootfs.TarballPath;
        using (var p = Process.Start("tar", ["-C", TestRootfs.Path, "-cf", path, "."]))
        {
            p.WaitForExit();
        }

        return path;
    });

    /// <summary>A tar of the busybox rootfs.</summary>
    public static string BusyboxTar => Tarball.Value;

    /// <summary>Imports busybox as <paramref name="name"/> with Cmd /bin/sh (and, optionally, more config).</summary>
    public static async Task<LocalImage> ImportBusyboxAsync(ContainerEngine engine, string name, Containers.Images.Oci.ContainerConfig? config = null)
    {
        await using var tar = File.OpenRead(BusyboxTar);
        return await engine.Images.ImportAsync(tar, name, config ?? new Containers.Images.Oci.ContainerConfig { Cmd = ["/bin/sh"], Env = ["PATH=/bin"] });
    }
}
