using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using Containers.DevContainers;
using Containers.Tests.Images;

namespace Containers.Tests.DevContainers;

/// <summary>What the dev container tests share: workspaces, the busybox image, options that log, a feature of our own.</summary>
internal static class DevTest
{
    /// <summary>The busybox image dev containers are made from (its /etc/passwd has root and app, uid 1000).</summary>
    public const string Busybox = "localhost/busybox-dev:1";

    /// <summary>
    /// A test engine whose detached monitors are the CLI's (<c>containers-cli __monitor</c>): this output folder has
    /// the CLI's dependencies (ASP.NET Core's among them), which containers-monitor.dll's runtime configuration lacks.
    /// </summary>
    public static TestEngine Engine(bool hostResolvers = false) =>
        new(hostResolvers: hostResolvers, configure: o => o with { MonitorCommand = [Path.Combine(AppContext.BaseDirectory, "containers-cli"), "__monitor"] });

    /// <summary>A fresh workspace folder with <paramref name="files"/> (relative path, content); removed with the test's root.</summary>
    public static string Workspace(TestEngine t, params (string Path, string Content)[] files)
    {
        var dir = Path.Combine(t.Root, "ws-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(dir);
        foreach (var (path, content) in files)
        {
            var full = Path.Combine(dir, path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, content);
            if (path.EndsWith(".sh", StringComparison.Ordinal))
            {
                File.SetUnixFileMode(full, (UnixFileMode)0x1ed);
            }
        }

        return dir;
    }

    public static Task ImportBusyboxAsync(TestEngine t) => TestImages.ImportBusyboxAsync(t.Engine, Busybox, new Containers.Images.Oci.ContainerConfig { Cmd = ["/bin/sh"], Env = ["PATH=/usr/local/bin:/bin"] });

    /// <summary>Options whose log lines go to <paramref name="log"/>.</summary>
    public static DevContainerOptions Options(List<string> log)
    {
        var clock = Stopwatch.StartNew();
        return new()
        {
            Log = line =>
            {
                lock (log)
                {
                    log.Add($"[{clock.Elapsed.TotalSeconds:0.000}] {line}");
                }
            },
        };
    }

    /// <summary>A feature: a <c>hello</c> command saying its greeting option, a containerEnv, and a log of each install in /tmp/hello-installs.</summary>
    public static (string Path, string Content)[] HelloFeature(string folder, string id = "hello") =>
    [
        ($"{folder}/devcontainer-feature.json", $$"""
            {
              // a feature of our own
              "id": "{{id}}", "version": "1.0.0", "name": "Hello",
              "options": { "greeting": { "type": "string", "default": "hello" }, "loud-voice": { "type": "boolean", "default": false } },
              "containerEnv": { "HELLO_FEATURE": "yes" },
            }
            """),
        ($"{folder}/install.sh", """
            #!/bin/sh
            set -e
            echo "installing hello for $_REMOTE_USER (home $_REMOTE_USER_HOME) greeting=$GREETING loud=$LOUD_VOICE"
            mkdir -p /usr/local/bin
            printf '#!/bin/sh\necho "%s from hello"\n' "$GREETING" > /usr/local/bin/hello
            chmod +x /usr/local/bin/hello
            echo "$GREETING" >> /tmp/hello-installs
            """),
    ];

    /// <summary>A gzipped tar of a feature folder (a tarball feature).</summary>
    public static void Tarball(string folder, string tgz)
    {
        using var file = File.Create(tgz);
        using var gz = new GZipStream(file, CompressionLevel.Fastest);
        TarFile.CreateFromDirectory(folder, gz, includeBaseDirectory: false);
    }

    /// <summary>The lines of <paramref name="log"/> that contain <paramref name="text"/>.</summary>
    public static int Count(List<string> log, string text)
    {
        lock (log)
        {
            return log.Count(l => l.Contains(text, StringComparison.Ordinal));
        }
    }

    /// <summary>Runs a program to its end: exit code, stdout, stderr.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(ProcessStartInfo psi, TimeSpan limit)
    {
        psi.RedirectStandardOutput = psi.RedirectStandardError = psi.RedirectStandardInput = true;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} hung: {await stdout} {await stderr}");
        }

        return (p.ExitCode, await stdout, await stderr);
    }
}
