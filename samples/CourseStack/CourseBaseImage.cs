using System.Formats.Tar;

namespace Containers.Samples;

/// <summary>
/// The course stack's base image, made locally from Debian packages: busybox-static (every applet) and the
/// glibc resolver modules of libc6 (so service names resolve), imported as <see cref="Name"/>. No registry needed.
/// </summary>
public static class CourseBaseImage
{
    /// <summary>The image name the Dockerfiles start FROM.</summary>
    public const string Name = "localhost/course-base:1";

    /// <summary>Imports the image into the engine's store unless it is there already.</summary>
    public static async Task EnsureAsync(ContainerEngine engine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (engine.Images.Find(Name) is not null)
        {
            return;
        }

        var dir = Directory.CreateTempSubdirectory("course-base-").FullName;
        try
        {
            foreach (var d in new[] { "bin", "etc", "tmp", "root", "var/www", "usr/local/bin" })
            {
                Directory.CreateDirectory(Path.Combine(dir, d));
            }

            File.Copy("/bin/busybox", Path.Combine(dir, "bin/busybox"));
            var list = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/bin/busybox", "--list") { RedirectStandardOutput = true })!;
            var applets = (await list.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            await list.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            foreach (var a in applets.Where(a => a != "busybox"))
            {
                File.CreateSymbolicLink(Path.Combine(dir, "bin", a), "busybox");
            }

            foreach (var lib in new[] { "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libnss_dns.so.2", "/lib/x86_64-linux-gnu/libnss_files.so.2", "/lib/x86_64-linux-gnu/libresolv.so.2", "/lib64/ld-linux-x86-64.so.2" })
            {
                Directory.CreateDirectory(dir + Path.GetDirectoryName(lib));
                File.Copy(lib, dir + lib);
            }

            await File.WriteAllTextAsync(Path.Combine(dir, "etc/nsswitch.conf"), "hosts: files dns\n", cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(dir, "etc/group"), "root:x:0:\nnogroup:x:65534:\n", cancellationToken).ConfigureAwait(false);
            File.SetUnixFileMode(Path.Combine(dir, "tmp"), (UnixFileMode)0x3ff);
            using var tar = new MemoryStream();
            await TarFile.CreateFromDirectoryAsync(dir, tar, includeBaseDirectory: false, cancellationToken).ConfigureAwait(false);
            tar.Position = 0;
            await engine.Images.ImportAsync(tar, Name, new Images.Oci.ContainerConfig { Env = ["PATH=/usr/local/bin:/bin"], Cmd = ["/bin/sh"] }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
