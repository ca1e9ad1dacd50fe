#!/usr/bin/env bash
# Pull + unpack of a Debian minbase image from a local registry, side by side in one run (interleaved rounds,
# fresh directories, same disk): our CLI vs `skopeo copy` + `umoci unpack` vs `tar -xzf` of the same layer.
# Usage: benchmarks/pull-unpack.sh [ROUNDS]   (as root; installs debootstrap, skopeo, umoci, docker-registry)
#   LAYER=path.tar.gz  another image's layer instead (benchmarks/unpack-node.sh passes node:18's: 34k files)
set -euo pipefail
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-/var/tmp/containers-bench}
mkdir -p "$WORK"
export DEBIAN_FRONTEND=noninteractive
need=()
for t in debootstrap skopeo umoci docker-registry; do command -v $t >/dev/null || need+=($t); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  made=0; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made=1; fi
  apt-get install -y -q --no-install-recommends "${need[@]}"
  if [ "$made" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# 1. The image: Debian bookworm minbase (apt caches removed), one gzip layer (or LAYER's).
if [ -n "${LAYER:-}" ]; then
  WORK="$WORK/$(basename "$LAYER" .tar.gz)"; mkdir -p "$WORK"; ln -sf "$(readlink -f "$LAYER")" "$WORK/layer.tar.gz"
elif [ ! -f "$WORK/layer.tar.gz" ]; then
  rm -rf "$WORK/minbase"
  debootstrap --variant=minbase bookworm "$WORK/minbase" http://deb.debian.org/debian >/dev/null
  rm -rf "$WORK"/minbase/var/cache/apt/archives/*.deb "$WORK"/minbase/var/lib/apt/lists/*
  tar -C "$WORK/minbase" -czf "$WORK/layer.tar.gz.tmp" . && mv "$WORK/layer.tar.gz.tmp" "$WORK/layer.tar.gz"
fi
CLI="${CLI:-${BENCH_DIR:-/var/tmp/containers-bench}/cli/containers}"
if [ ! -x "$CLI" ] || [ -n "${REBUILD:-}" ]; then
  dotnet publish "$HERE/samples/Cli" -c Release -o "$(dirname "$CLI")" >/dev/null
fi

# 2. A registry on 127.0.0.1 holding it (pushed by us: the layer blob is the .tar.gz above, byte for byte).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG="$WORK/registry"; rm -rf "$REG"; mkdir -p "$REG"
cat > "$REG/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $REG/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PORT}
YML
docker-registry serve "$REG/config.yml" >/dev/null 2>&1 &
REGPID=$!
trap 'kill $REGPID 2>/dev/null || true; wait $REGPID 2>/dev/null || true; rm -rf "$WORK/run" "$REG" "$WORK/seed"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.05; done
IMAGE="127.0.0.1:$PORT/bench/minbase:1"
"$CLI" --root "$WORK/seed" import "$WORK/layer.tar.gz" "$IMAGE" >/dev/null
"$CLI" --root "$WORK/seed" push "$IMAGE" >/dev/null 2>&1
SIZE=$(stat -L -c %s "$WORK/layer.tar.gz"); FILES=$(tar -tzf "$WORK/layer.tar.gz" | wc -l)

# 3. Interleaved rounds; each command in a fresh directory; caches of the previous round deleted and synced first.
# This VM's ext4 gets 10-30x slower at creating files for minutes after large deletes, so by default the fresh
# directories are on a tmpfs (TMPFS=0 to measure the disk: then compare only rounds with a quiet disk).
if [ "${TMPFS:-1}" = 1 ]; then
  mkdir -p "$WORK/run" && mount -t tmpfs -o size=4g tmpfs "$WORK/run"
  trap 'kill $REGPID 2>/dev/null || true; wait $REGPID 2>/dev/null || true; umount "$WORK/run" || true; rm -rf "$WORK/run" "$REG" "$WORK/seed"' EXIT
fi
mkdir -p "$WORK/run"
declare -A times
run() { # name, command...
  local name=$1; shift
  rm -rf "${WORK:?}"/run/*; sync; sleep 1
  local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
  times[$name]+="$(echo "$end - $start" | bc) "
}
for r in $(seq "$ROUNDS"); do
  run tar        sh -c "mkdir $WORK/run/x && tar -C $WORK/run/x -xzf $WORK/layer.tar.gz"
  run skopeo+umoci sh -c "skopeo copy -q --src-tls-verify=false docker://$IMAGE oci:$WORK/run/oci:1 && umoci unpack --image $WORK/run/oci:1 $WORK/run/bundle"
  run containers "$CLI" --root "$WORK/run/root" pull -q "$IMAGE"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf 'layer: %s bytes gzip, %s entries; %s rounds, interleaved, on %s\n' "$SIZE" "$FILES" "$ROUNDS" "$([ "${TMPFS:-1}" = 1 ] && echo tmpfs || echo disk)"
T=$(echo "${times[tar]}" | median); S=$(echo "${times[skopeo+umoci]}" | median); C=$(echo "${times[containers]}" | median)
printf '%-14s median %6.3f s   (%s)\n' tar "$T" "${times[tar]}" skopeo+umoci "$S" "${times[skopeo+umoci]}" containers "$C" "${times[containers]}"
printf 'containers/tar = %.2f (target <= 1.10)   containers/(skopeo+umoci) = %.2f (target <= 0.70)\n' "$(echo "$C / $T" | bc -l)" "$(echo "$C / $S" | bc -l)"
