#!/usr/bin/env bash
# The runtime and image demo: containers from the CLI with no daemon. Installs what it needs on a fresh Debian 12 machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if [ ! -x /bin/busybox ] || ! command -v curl >/dev/null; then
  apt-get update -q && apt-get install -y -q --no-install-recommends busybox-static curl
fi
work=$(mktemp -d /tmp/containers-demo-XXXXXX)
root="$work/root"
had_bridge=$([ -e /sys/class/net/cdnet0 ] && echo 1 || echo 0)
had_state=$([ -e /sys/fs/cgroup/memory/containers-dotnet ] || [ -e /run/containers-dotnet ] && echo 1 || echo 0)
cleanup() {
  [ -x "$work/cli/containers" ] && "$work/cli/containers" --root "$root" rm -f demo-web >/dev/null 2>&1 || true
  # leave the machine as we found it: the default bridge (with its NAT rules) goes if the demo made it
  if [ "$had_bridge" = 0 ] && [ -x "$work/cli/containers" ]; then "$work/cli/containers" --root "$root" network prune -f --default-bridge >/dev/null 2>&1 || true; fi
  rm -rf "$work"
  if [ "$had_state" = 0 ]; then
    for h in /sys/fs/cgroup/*/containers-dotnet; do rmdir "$h" 2>/dev/null || true; done
    rm -rf /run/containers-dotnet
  fi
}
trap cleanup EXIT

echo "== publishing the containers CLI (NativeAOT)"
dotnet publish "$here/samples/Cli/Cli.csproj" -c Release -o "$work/cli" >/dev/null
c() { echo "+ containers $*"; "$work/cli/containers" --root "$root" "$@"; }

echo "== a busybox root filesystem from Debian's busybox-static"
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/www"
cp /bin/busybox "$work/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' > "$work/rootfs/etc/group"
echo '<h1>Hello from a container</h1>' > "$work/rootfs/www/index.html"

echo "== isolation: PID 1, own hostname, dropped capabilities, a user from /etc/passwd"
c run --rm --hostname demo --rootfs "$work/rootfs" sh -c 'echo "pid=$$ host=$(hostname)"; grep CapEff /proc/self/status'
c run --rm --user app --rootfs "$work/rootfs" id
echo "== limits: 16 MiB of memory, and the OOM killer reports 137"
c run --rm --memory 16m --rootfs "$work/rootfs" tail /dev/zero || echo "exit code: $?"
echo "== a detached web server with a published port"
c run -d --name demo-web -p 127.0.0.1:18080:80 --rootfs "$work/rootfs" httpd -f -p 80 -h /www
sleep 0.5
echo "+ curl http://127.0.0.1:18080/"; curl -s http://127.0.0.1:18080/
c ps
c exec demo-web sh -c 'echo "exec sees: $(ps -o pid,comm | tr "\n" " ")"'
c stats --no-stream demo-web
c stop -t 1 demo-web
c logs demo-web || true
c rm demo-web
c ps -a

echo "== images: the rootfs imported as an image, a Dockerfile built on it (cached the second time), run by name"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
c import -c 'ENV PATH=/bin' "$work/busybox.tar" localhost/busybox:demo
mkdir -p "$work/app"
echo 'built from a Dockerfile' > "$work/app/message.txt"
cat > "$work/app/Dockerfile" <<'DOCKERFILE'
FROM localhost/busybox:demo AS build
WORKDIR /src
COPY message.txt .
RUN tr a-z A-Z < message.txt > shout.txt
FROM localhost/busybox:demo
COPY --from=build /src/shout.txt /app/
RUN echo "size: $(wc -c < /app/shout.txt)" > /app/meta.txt
CMD ["sh", "-c", "cat /app/shout.txt /app/meta.txt"]
DOCKERFILE
c build -t localhost/demo-app:1 "$work/app"
c build -t localhost/demo-app:1 "$work/app" 2>&1 | grep -c CACHED | sed 's/^/cached steps: /'
c run --rm localhost/demo-app:1
c images
c save -o "$work/demo-app.tar" localhost/demo-app:1 && ls -l "$work/demo-app.tar"
c rmi localhost/demo-app:1 localhost/busybox:demo
echo "== done"
