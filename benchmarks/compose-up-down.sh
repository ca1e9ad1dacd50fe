#!/usr/bin/env bash
# `up -d` then `down` of a 3-service stack (default network, warm images), side by side in one hyperfine run:
# our CLI (NativeAOT) and podman-compose (Debian) on podman (vfs storage, runc, CNI bridge); then the same cycle
# through the C# API (ComposeEngine.UpAsync/DownAsync, one process, median of N).
# Usage: benchmarks/compose-up-down.sh [RUNS]   (as root; installs busybox-static, podman, podman-compose, runc, hyperfine)
set -euo pipefail
RUNS=${1:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-/var/tmp/containers-bench}/compose
export DEBIAN_FRONTEND=noninteractive
need=()
for t in podman podman-compose runc hyperfine; do command -v $t >/dev/null || need+=($t); done
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; fi
CLI="${BENCH_DIR:-/var/tmp/containers-bench}/cli/containers"
if [ ! -x "$CLI" ] || [ -n "${REBUILD:-}" ]; then dotnet publish "$HERE/samples/Cli" -c Release -o "$(dirname "$CLI")" >/dev/null; fi

rm -rf "$WORK"; mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/www" "$WORK/stack"
export CONTAINERS_BRIDGE=cdbench2 CONTAINERS_BRIDGE_SUBNET=10.217.0.0/16 CONTAINERS_MACHINE_STATE="$WORK/machine" CONTAINERS_DNS_UPSTREAM=127.0.0.1:9
ROOT="$WORK/root"
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
P="podman --root $WORK/proot --runroot $WORK/prun --storage-driver vfs --cgroup-manager cgroupfs"
cleanup() {
  set +e
  "$CLI" --root "$ROOT" compose -f "$WORK/stack/compose.yaml" -p ours down >/dev/null 2>&1
  podman-compose -f "$WORK/stack/compose.yaml" -p theirs down >/dev/null 2>&1
  $P rm -af >/dev/null 2>&1; $P network rm -f theirs_default >/dev/null 2>&1
  [ -x "$CLI" ] && "$CLI" --root "$WORK/root" network prune -f --default-bridge >/dev/null 2>&1 || true # the bridge and its NAT rules
  rm -rf "$WORK"
  for h in /sys/fs/cgroup/*/containers-dotnet; do rmdir "$h" 2>/dev/null || true; done
}
trap cleanup EXIT
cp /bin/busybox "$WORK/rootfs/bin/"; for a in sh sleep httpd; do ln -s busybox "$WORK/rootfs/bin/$a"; done
echo hi > "$WORK/rootfs/www/index.html"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
cat > "$WORK/stack/compose.yaml" <<'YAML'
services:
  db:
    image: localhost/busybox:bench
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
  api:
    image: localhost/busybox:bench
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 3000 -h /www & wait"]
    depends_on: [db]
  web:
    image: localhost/busybox:bench
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    ports: ["127.0.0.1:18280:80"]
    depends_on: [api]
YAML
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n[network]\nnetwork_backend = "cni"\n' "$(ulimit -Hn)" "$(ulimit -Hn)" > "$CONTAINERS_CONF"
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$WORK/prun" "$WORK/proot" > "$CONTAINERS_STORAGE_CONF"
"$CLI" --root "$ROOT" import -c 'ENV PATH=/bin' "$WORK/busybox.tar" localhost/busybox:bench >/dev/null
$P import -q -c 'ENV PATH=/bin' "$WORK/busybox.tar" localhost/busybox:bench >/dev/null
cd "$WORK/stack"
OURS="$CLI --root $ROOT compose -p ours"
THEIRS="podman-compose -p theirs"
# a first cycle each (networks, caches), and a check that both stacks serve
$OURS up -d >/dev/null 2>&1 && curl -sf http://127.0.0.1:18280/index.html >/dev/null && $OURS down >/dev/null 2>&1
$THEIRS up -d >/dev/null 2>&1 && curl -sf http://127.0.0.1:18280/index.html >/dev/null && $THEIRS down >/dev/null 2>&1

hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$WORK/../compose-up-down.md" \
  -n "containers compose up -d + down" "sh -c '$OURS up -d >/dev/null 2>&1 && $OURS down >/dev/null 2>&1'" \
  -n "podman-compose up -d + down" "sh -c '$THEIRS up -d >/dev/null 2>&1 && $THEIRS down >/dev/null 2>&1'"

dotnet run -c Release --project "$HERE/benchmarks/Containers.Benchmarks" -- compose-cycle "$WORK/stack/compose.yaml" "$RUNS" "$WORK/apiroot" "$WORK/busybox.tar"
echo "target: <= 0.3x podman-compose"
