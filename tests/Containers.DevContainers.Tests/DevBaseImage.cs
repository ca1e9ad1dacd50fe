using System.Diagnostics;

namespace Containers.Tests.DevContainers;

/// <summary>
/// The course's dev container base, made here: Debian 12 minbase from Debian's archive (mmdebstrap), with
/// ca-certificates (and the machine's own authorities, for a TLS-inspecting proxy) and a user <c>vscode</c> (uid 1000,
/// bash), as mcr.microsoft.com/devcontainers/base has. Made once per machine into the test root's cache, imported into
/// each test's store as <see cref="Name"/>.
/// </summary>
internal static class DevBaseImage
{
    public const string Name = "localhost/devbase:bookworm";

    private static readonly SemaphoreSlim Gate = new(1, 1);

    private static string Cache => Path.Combine(Environment.GetEnvironmentVariable("CONTAINERS_TEST_ROOT") ?? "/var/lib/containers-dotnet-tests", "cache", "devbase-bookworm-1.tar");

    /// <summary>Imports the base into <paramref name="t"/>'s store (making the tarball first when the cache lacks it).</summary>
    public static async Task ImportAsync(TestEngine t)
    {
        await Gate.WaitAsync();
        try
        {
            if (!File.Exists(Cache))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Cache)!);
                var partial = Cache + ".partial";
                var psi = new ProcessStartInfo("mmdebstrap")
                {
                    ArgumentList =
                    {
                        "--variant=minbase", "--mode=root", "--format=tar", "--quiet", "--include=ca-certificates",
                        "--aptopt=Acquire::Retries \"3\"",
                        "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
                        "--customize-hook=chroot \"$1\" useradd --create-home --uid 1000 --shell /bin/bash vscode",
                        "--customize-hook=if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then cp /usr/local/share/ca-certificates/*.crt \"$1\"/usr/local/share/ca-certificates/ && chroot \"$1\" update-ca-certificates >/dev/null; fi",
                        "bookworm", partial,
                    },
                };
                var (code, stdout, stderr) = await DevTest.RunAsync(psi, TimeSpan.FromMinutes(10));
                Assert.True(code == 0, $"mmdebstrap failed ({code}): {stdout} {stderr}");
                File.Move(partial, Cache, overwrite: true);
            }
        }
        finally
        {
            Gate.Release();
        }

        await using var tar = File.OpenRead(Cache);
        await t.Engine.Images.ImportAsync(tar, Name, new Containers.Images.Oci.ContainerConfig
        {
            Cmd = ["bash"],
            Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
        });
    }

    /// <summary>
    /// The course's Node.js dev container, offline but for Debian's archive and the npm registry: the base above, a
    /// local <c>node</c> feature of our own (Debian's nodejs and npm), <c>npm install</c> after create, the dev server
    /// started on each start and forwarded.
    /// </summary>
    public static (string Path, string Content)[] NodeWorkspace() =>
    [
        (".devcontainer/devcontainer.json", $$"""
            // the course's Node.js dev container
            {
              "name": "Node.js",
              "image": "{{Name}}",
              "features": {
                "./node": { "version": "system" },
              },
              "forwardPorts": [3000],
              "portsAttributes": { "3000": { "label": "dev server" } },
              "postCreateCommand": "npm install",
              "postStartCommand": "nohup npm start > /tmp/dev-server.log 2>&1 &",
              "remoteUser": "vscode",
            }
            """),
        (".devcontainer/node/devcontainer-feature.json", """
            {
              "id": "node",
              "version": "1.0.0",
              "name": "Node.js (Debian's)",
              "options": { "version": { "type": "string", "proposals": ["system"], "default": "system" } },
              "containerEnv": { "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt" }
            }
            """),
        (".devcontainer/node/install.sh", """
            #!/bin/sh
            set -e
            if [ "$VERSION" != system ]; then echo "only Debian's Node.js (version: system) is offered here, not $VERSION" >&2; exit 1; fi
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q
            apt-get install -y -q --no-install-recommends nodejs npm
            rm -rf /var/lib/apt/lists/*
            node --version
            """),
        ("package.json", """
            {
              "name": "course-app",
              "version": "1.0.0",
              "private": true,
              "scripts": { "test": "node test.js", "start": "node server.js" },
              "dependencies": { "is-number": "7.0.0" }
            }
            """),
        ("server.js", """
            const http = require('http');
            const isNumber = require('is-number');
            http.createServer((req, res) => res.end(`Hello from the dev container (${isNumber(3) ? 'ok' : 'broken'})\n`)).listen(3000);
            """),
        ("test.js", """
            const assert = require('assert');
            const isNumber = require('is-number');
            assert.strictEqual(isNumber(5), true);
            assert.strictEqual(isNumber('five'), false);
            console.log('2 tests passed');
            """),
    ];
}
