using System.Formats.Tar;

namespace Containers.Samples;

/// <summary>
/// The course stack's base image, made locally from Debian packages: mmdebstrap extracts busybox-static, libc6 (its
/// resolver modules make service names resolve), base-files and netbase from Debian's archive into a tarball that is
/// imported, and a Dockerfile step installs busybox's applets; named <see cref="Name"/>, cached in the store. No registry.
/// Without mmdebstrap the same files are taken from the host's installed packages.
/// </summary>
public static class CourseBaseImage
{
    /// <summary>The image name the Dockerfiles start FROM.</summary>
    public const string Name = "localhost/course-base:1";

    /// <summary>The Dockerfile that turns the extracted packages into the base image.</summary>
    public const string Dockerfile = """
        FROM localhost/course-debian:bookworm
        RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && printf 'hosts: files dns\\n' > /etc/nsswitch.conf && printf 'root:x:0:0:root:/root:/bin/sh\\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\\n' > /etc/passwd && printf 'root:x:0:\\nnogroup:x:65534:\\n' > /etc/group && mkdir -p /tmp /root /usr/local/bin && chmod 1777 /tmp"]
        ENV PATH=/usr/local/bin:/usr/bin:/bin
        CMD ["/bin/sh"]
        """;

    /// <summary>Makes the image unless the store has it already.</summary>
    public static async Task EnsureAsync(ContainerEngine engine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (engine.Images.Find(Name) is not null)
        {
            return;
        }

        if (File.Exists("/usr/bin/mmdebstrap"))
        {
            await FromMmdebstrapAsync(engine, cancellationToken).ConfigureAwait(false);
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

    private static async Task FromMmdebstrapAsync(ContainerEngine engine, CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("course-base-").FullName;
        try
        {
            var tar = Path.Combine(dir, "debian.tar");
            var psi = new System.Diagnostics.ProcessStartInfo("/usr/bin/mmdebstrap", ["--variant=extract", "--include=busybox-static,libc6,base-files,netbase", "--mode=root", "--format=tar", "--quiet", "bookworm", tar])
            {
                RedirectStandardError = true,
            };
            using (var p = System.Diagnostics.Process.Start(psi)!)
            {
                var err = await p.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
                await p.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                if (p.ExitCode != 0)
                {
                    throw new ContainerException($"mmdebstrap failed ({p.ExitCode}): {err.Trim()}");
                }
            }

            await using (var stream = File.OpenRead(tar))
            {
                await engine.Images.ImportAsync(stream, "localhost/course-debian:bookworm", null, cancellationToken).ConfigureAwait(false);
            }

            var context = Path.Combine(dir, "context");
            Directory.CreateDirectory(context);
            await File.WriteAllTextAsync(Path.Combine(context, "Dockerfile"), Dockerfile, cancellationToken).ConfigureAwait(false);
            await engine.BuildAsync(new Build.BuildOptions { ContextDirectory = context, Tags = [Name] }, null, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
