#!/usr/bin/env bash
# A tiny Dockerfile (FROM busybox, RUN writing a file, COPY of a small file), cold (--no-cache) and cached,
# side by side in one hyperfine run: our CLI (NativeAOT) vs `buildah bud` (Debian; vfs storage, chroot isolation).
# Usage: benchmarks/build-tiny.sh [RUNS]   (as root; installs busybox-static, buildah, hyperfine)
set -euo pipefail
RUNS=${1:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-/var/tmp/containers-bench}/build
export DEBIAN_FRONTEND=noninteractive
need=()
for t in buildah hyperfine; do command -v $t >/dev/null || need+=($t); done
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; fi
CLI="${BENCH_DIR:-/var/tmp/containers-bench}/cli/containers"
if [ ! -x "$CLI" ] || [ -n "${REBUILD:-}" ]; then dotnet publish "$HERE/samples/Cli" -c Release -o "$(dirname "$CLI")" >/dev/null; fi

rm -rf "$WORK"; mkdir -p "$WORK/rootfs/bin" "$WORK/ctx"
# RUN steps use a bridge of the benchmark's own; everything it made goes at the end
export CONTAINERS_BRIDGE=cdbench1 CONTAINERS_BRIDGE_SUBNET=10.216.0.0/16 CONTAINERS_MACHINE_STATE="$WORK/machine"
cleanup() {
  [ -x "$CLI" ] && "$CLI" --root "$WORK/root" network prune -f --default-bridge >/dev/null 2>&1 || true # the bridge and its NAT rules
  rm -rf "$WORK"
  for h in /sys/fs/cgroup/*/containers-dotnet; do rmdir "$h" 2>/dev/null || true; done
}
trap cleanup EXIT
cp /bin/busybox "$WORK/rootfs/bin/"; for a in sh echo cat; do ln -s busybox "$WORK/rootfs/bin/$a"; done
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
printf 'FROM localhost/busybox:1\nRUN echo hello > /hello\nCOPY small.txt /small.txt\n' > "$WORK/ctx/Dockerfile"
echo small > "$WORK/ctx/small.txt"

ROOT="$WORK/root"
"$CLI" --root "$ROOT" import -c 'ENV PATH=/bin' "$WORK/busybox.tar" localhost/busybox:1 >/dev/null
"$CLI" --root "$ROOT" save -o "$WORK/base.tar" localhost/busybox:1
export CONTAINERS_CONF="$WORK/containers.conf" BUILDAH_ISOLATION=chroot
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' "$(ulimit -Hn)" "$(ulimit -Hn)" > "$CONTAINERS_CONF"
B="buildah --root $WORK/broot --runroot $WORK/brun --storage-driver vfs"
$B pull -q "docker-archive:$WORK/base.tar" >/dev/null
"$CLI" --root "$ROOT" build -q -t localhost/tiny:1 "$WORK/ctx" >/dev/null   # warm the cache for the cached runs
$B bud --layers --pull=never -q -t localhost/tiny:1 "$WORK/ctx" >/dev/null

hyperfine -N --warmup 2 --runs "$RUNS" --export-markdown "$WORK/../build-tiny.md" \
  -n "containers cold"  "$CLI --root $ROOT build -q --no-cache -t localhost/tiny:cold $WORK/ctx" \
  -n "buildah cold"     "$B bud --layers --no-cache --pull=never -q -t localhost/tiny:cold $WORK/ctx" \
  -n "containers cached" "$CLI --root $ROOT build -q -t localhost/tiny:1 $WORK/ctx" \
  -n "buildah cached"   "$B bud --layers --pull=never -q -t localhost/tiny:1 $WORK/ctx"
echo "docker on this machine kind (PEERS.md): 507 ms cold, 66 ms cached; targets: cold <= 152 ms, cached <= 33 ms"
