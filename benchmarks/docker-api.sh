#!/usr/bin/env bash
# The docker CLI (client 28) against two Docker-compatible services, side by side in one hyperfine run:
# ours (`containers system service`, NativeAOT) and podman's (`podman system service`, vfs storage, runc).
# Measures `docker run --rm --network none IMAGE true` (create, attach, wait, start, remove), `docker ps -a`,
# and `docker exec` into a running container; then, in a second hyperfine run, `up -d && down` of a 3-service stack
# by Debian's docker-compose 1.29 on each socket and by `containers compose` itself.
# Usage: benchmarks/docker-api.sh [RUNS] [COMPOSE_RUNS]   (as root; installs busybox-static, podman, runc, hyperfine,
# docker-compose)
set -euo pipefail
RUNS=${1:-20}
COMPOSE_RUNS=${2:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-/var/tmp/containers-bench}/docker-api
export DEBIAN_FRONTEND=noninteractive
need=()
for t in podman runc hyperfine docker-compose; do command -v $t >/dev/null || need+=($t); done
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; fi
CLI="${BENCH_DIR:-/var/tmp/containers-bench}/cli/containers"
if [ ! -x "$CLI" ] || [ -n "${REBUILD:-}" ]; then dotnet publish "$HERE/samples/Cli" -c Release -o "$(dirname "$CLI")" >/dev/null; fi
DOCKER=$(command -v /usr/local/bin/docker || command -v docker)

rm -rf "$WORK"; mkdir -p "$WORK/rootfs/bin"
export CONTAINERS_BRIDGE=cdbench3 CONTAINERS_BRIDGE_SUBNET=10.218.0.0/16 CONTAINERS_MACHINE_STATE="$WORK/machine" CONTAINERS_DNS_UPSTREAM=127.0.0.1:9
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf" DOCKER_CONFIG="$WORK"
P="podman --root $WORK/proot --runroot $WORK/prun --storage-driver vfs --cgroup-manager cgroupfs"
OURS_PID=""; THEIRS_PID=""
cleanup() {
  set +e
  DOCKER_HOST=unix://$WORK/ours.sock $DOCKER rm -f bench-sleeper >/dev/null 2>&1
  DOCKER_HOST=unix://$WORK/theirs.sock $DOCKER rm -f bench-sleeper >/dev/null 2>&1
  for s in ours theirs; do (cd "$WORK/stack" 2>/dev/null && DOCKER_HOST=unix://$WORK/$s.sock docker-compose down >/dev/null 2>&1); done
  (cd "$WORK/stack" 2>/dev/null && "$CLI" --root "$WORK/root" compose down >/dev/null 2>&1)
  [ -n "$OURS_PID" ] && kill "$OURS_PID" && wait "$OURS_PID"
  [ -n "$THEIRS_PID" ] && kill "$THEIRS_PID" && wait "$THEIRS_PID"
  $P rm -af >/dev/null 2>&1
  [ -x "$CLI" ] && "$CLI" --root "$WORK/root" network prune -f --default-bridge >/dev/null 2>&1 || true # the bridge and its NAT rules
  rm -rf "$WORK"
  for h in /sys/fs/cgroup/*/containers-dotnet; do rmdir "$h" 2>/dev/null || true; done
}
trap cleanup EXIT
cp /bin/busybox "$WORK/rootfs/bin/"; for a in sh sleep true echo; do ln -s busybox "$WORK/rootfs/bin/$a"; done
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n[network]\nnetwork_backend = "cni"\n' "$(ulimit -Hn)" "$(ulimit -Hn)" > "$CONTAINERS_CONF"
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$WORK/prun" "$WORK/proot" > "$CONTAINERS_STORAGE_CONF"

"$CLI" --root "$WORK/root" system service --socket "$WORK/ours.sock" 2>/dev/null & OURS_PID=$!
$P system service --time=0 "unix://$WORK/theirs.sock" 2>/dev/null & THEIRS_PID=$!
for s in ours theirs; do for _ in $(seq 100); do [ -S "$WORK/$s.sock" ] && break; sleep 0.1; done; done
for s in ours theirs; do
  DOCKER_HOST=unix://$WORK/$s.sock $DOCKER import -c 'ENV PATH=/bin' "$WORK/busybox.tar" localhost/busybox:bench >/dev/null
  [ "$(DOCKER_HOST=unix://$WORK/$s.sock $DOCKER run --rm --network none localhost/busybox:bench echo ok)" = ok ]
  DOCKER_HOST=unix://$WORK/$s.sock $DOCKER run -d --name bench-sleeper --network none localhost/busybox:bench sleep 1000 >/dev/null
done
O="DOCKER_HOST=unix://$WORK/ours.sock $DOCKER"
T="DOCKER_HOST=unix://$WORK/theirs.sock $DOCKER"
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$WORK/../docker-api.md" \
  -n "ours: docker run --rm true" "env $O run --rm --network none localhost/busybox:bench true" \
  -n "podman: docker run --rm true" "env $T run --rm --network none localhost/busybox:bench true" \
  -n "ours: docker exec true" "env $O exec bench-sleeper true" \
  -n "podman: docker exec true" "env $T exec bench-sleeper true" \
  -n "ours: docker ps -a" "env $O ps -a" \
  -n "podman: docker ps -a" "env $T ps -a"
cat "$WORK/../docker-api.md"

# compose: three services on the project's network, each waiting to be stopped
mkdir -p "$WORK/stack"
cat > "$WORK/stack/docker-compose.yml" <<'YAML'
version: "3.8"
services:
  db: {image: localhost/busybox:bench, command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]}
  api: {image: localhost/busybox:bench, command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"], depends_on: [db]}
  web: {image: localhost/busybox:bench, command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"], depends_on: [api]}
YAML
"$CLI" --root "$WORK/root" image ls >/dev/null # the image imported through our socket is in this store
cd "$WORK/stack"
for s in ours theirs; do DOCKER_HOST=unix://$WORK/$s.sock docker-compose up -d >/dev/null 2>&1 && DOCKER_HOST=unix://$WORK/$s.sock docker-compose down >/dev/null 2>&1; done
hyperfine --warmup 1 --runs "$COMPOSE_RUNS" --export-markdown "$WORK/../docker-api-compose.md" \
  -n "containers compose up -d && down" "$CLI --root $WORK/root compose up -d && $CLI --root $WORK/root compose down" \
  -n "docker-compose 1.29 on ours: up -d && down" "DOCKER_HOST=unix://$WORK/ours.sock docker-compose up -d && DOCKER_HOST=unix://$WORK/ours.sock docker-compose down" \
  -n "docker-compose 1.29 on podman's: up -d && down" "DOCKER_HOST=unix://$WORK/theirs.sock docker-compose up -d && DOCKER_HOST=unix://$WORK/theirs.sock docker-compose down"
cd "$HERE"
cat "$WORK/../docker-api-compose.md"
