using System.Diagnostics;
using Containers.DockerApi;
using Containers.Tests.Images;

namespace Containers.Tests.DockerApi;

/// <summary>The Docker SDK for Python (Debian's python3-docker, what docker-compose 1.29 and many scripts use) against our API.</summary>
public sealed class PythonSdkTests
{
    private const string Script = """
        import io, sys, tarfile, docker
        client = docker.DockerClient(base_url="unix://" + sys.argv[1], version="auto")
        assert client.ping()
        out = client.containers.run("busybox:latest", ["sh", "-c", "echo run-output"], remove=True)
        assert out == b"run-output\n", out
        c = client.containers.run("busybox:latest", ["sleep", "300"], detach=True, name="pysdk")
        try:
            # exec_run reads the response headers buffered and the stream from the raw socket: output the process
            # wrote before the upgrade was answered would be lost (the first read takes it with the headers)
            empty = 0
            for i in range(30):
                code, output = c.exec_run(["echo", "exec-%d" % i])
                assert code == 0, (code, output)
                if output != b"exec-%d\n" % i:
                    empty += 1
            assert empty == 0, "%d of 30 exec_run outputs lost" % empty
            code, output = c.exec_run(["sh", "-c", "echo to-err >&2; exit 4"], demux=True)
            assert code == 4 and output == (None, b"to-err\n"), (code, output)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                data = b"put through the sdk\n"
                info = tarfile.TarInfo("copied.txt"); info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            assert c.put_archive("/tmp", buf.getvalue())
            stream, stat = c.get_archive("/tmp/copied.txt")
            with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
                assert tar.extractfile("copied.txt").read() == b"put through the sdk\n"
            assert stat["name"] == "copied.txt", stat
            assert [x.name for x in client.containers.list()] == ["pysdk"]
            c.reload()
            assert c.status == "running", c.status
            assert len(c.attrs["ExecIDs"]) == 31, c.attrs["ExecIDs"]  # the 30 exec_run and the demuxed one
        finally:
            c.remove(force=True)
        # a created container, never started: its files are there to copy in and out, as under dockerd
        created = client.containers.create("busybox:latest", ["cat", "/tmp/copied.txt"])
        assert created.put_archive("/tmp", buf.getvalue())
        stream, stat = created.get_archive("/tmp/copied.txt")
        assert stat["size"] == len(b"put through the sdk\n"), stat
        created.start()
        assert created.wait()["StatusCode"] == 0
        assert created.logs() == b"put through the sdk\n", created.logs()
        created.remove()
        assert client.containers.list(all=True) == []
        print("ok")
        """;

    [Fact]
    public async Task The_docker_sdk_for_python_runs_execs_copies_and_removes()
    {
        await using var t = new TestEngine();
        await using var server = await DockerApiServer.StartAsync(t.Engine, Path.Combine(t.Root, "docker.sock"));
        await TestImages.ImportBusyboxAsync(t.Engine, "busybox:latest");
        var script = Path.Combine(t.Root, "sdk.py");
        File.WriteAllText(script, Script);

        // Debian's python3 with its python3-docker (tests/run.sh installs it), not another python3 that PATH may find first
        var (code, stdout, stderr) = await ClientProcess.RunAsync(new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3", [script, server.SocketPath]), TimeSpan.FromSeconds(120), server);
        Assert.True(code == 0, stdout + stderr);
        Assert.Equal("ok\n", stdout);
    }
}
