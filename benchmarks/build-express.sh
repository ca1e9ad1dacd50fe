#!/usr/bin/env bash
# The course's Express backend (samples/CourseApp/backend: FROM node:18, COPY package*.json, RUN npm install, COPY .),
# cold (--no-cache: npm install from the npm registry through the bridge's NAT) and cached, side by side in one
# hyperfine run: our CLI (NativeAOT) vs `buildah bud` (Debian; overlay storage, chroot isolation, host network), with
# host npm install of the same package.json and lockfile. node:18 comes from samples/images/build.sh.
# Usage: benchmarks/build-express.sh [RUNS]   (as root; installs buildah, hyperfine, mmdebstrap)
set -euo pipefail
RUNS=${1:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-/var/tmp/containers-bench}/express
export DEBIAN_FRONTEND=noninteractive
need=()
for t in buildah hyperfine mmdebstrap; do command -v $t >/dev/null || need+=($t); done
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; fi
CLI="${BENCH_DIR:-/var/tmp/containers-bench}/cli/containers"
if [ ! -x "$CLI" ] || [ -n "${REBUILD:-}" ]; then dotnet publish "$HERE/samples/Cli" -c Release -o "$(dirname "$CLI")" >/dev/null; fi
export CONTAINERS_BRIDGE=cdbench4 CONTAINERS_BRIDGE_SUBNET=10.217.0.0/16 CONTAINERS_MACHINE_STATE="$WORK/machine"
ROOT="${BENCH_DIR:-/var/tmp/containers-bench}/express-root"   # kept between runs: node:18 takes minutes to make
mkdir -p "$WORK"
B="buildah --root $WORK/broot --runroot $WORK/brun --storage-driver overlay"
cleanup() {
  $B rm -a >/dev/null 2>&1 || true; $B rmi -af >/dev/null 2>&1 || true
  "$CLI" --root "$ROOT" network prune -f --default-bridge >/dev/null 2>&1 || true # the bridge and its NAT rules
  rm -rf "$WORK"
  for h in /sys/fs/cgroup/*/containers-dotnet; do rmdir "$h" 2>/dev/null || true; done
}
trap cleanup EXIT
"$HERE/samples/images/build.sh" "$CLI" "$ROOT" node
"$CLI" --root "$ROOT" save -o "$WORK/node.tar" node:18
export CONTAINERS_CONF="$WORK/containers.conf" BUILDAH_ISOLATION=chroot
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n' "$(ulimit -Hn)" "$(ulimit -Hn)" > "$CONTAINERS_CONF"
$B pull -q "docker-archive:$WORK/node.tar" >/dev/null
$B tag "$($B images -q | head -1)" docker.io/library/node:18
ctx="$HERE/samples/CourseApp/backend"
mkdir -p "$WORK/npm"; cp "$ctx"/package*.json "$WORK/npm/"
hyperfine -N --warmup 1 --runs "$RUNS" --export-markdown "$WORK/../build-express.md" \
  -n "containers cold"   "$CLI --root $ROOT build -q --no-cache -t localhost/express:cold $ctx" \
  -n "buildah cold"      "$B bud --layers --no-cache --pull=never -q -t localhost/express:cold $ctx" \
  -n "containers cached" "$CLI --root $ROOT build -q -t localhost/express:1 $ctx" \
  -n "buildah cached"    "$B bud --layers --pull=never -q -t localhost/express:1 $ctx" \
  -n "host npm install"  "sh -c 'cd $WORK/npm && rm -rf node_modules && npm install --omit=dev --no-audit --no-fund --prefer-online >/dev/null 2>&1'"
