#!/usr/bin/env bash
# The course's real stack (samples/CourseApp: nginx, Node/Express, Postgres), side by side with podman in one run:
#   1. a pull of node:18 from a local registry (Debian's docker-registry on 127.0.0.1) and its unpack:
#      `containers pull` against `podman pull`, each into a fresh store, interleaved rounds;
#   2. the stack from warm images to serving (`up -d`, then until an order goes through nginx, the backend and
#      Postgres): `containers compose up -d --wait` against `podman-compose up -d`, interleaved, each on its own
#      copy of the app (its own initialised ./postgres-data), `down` between rounds.
# podman-compose 1.0 does not wait for healthchecks (and podman runs none without systemd), so both are timed to the
# same end: the first order answered through the frontend.
# Usage: benchmarks/course-app.sh [ROUNDS]   (as root; installs podman, podman-compose, runc, docker-registry, mmdebstrap)
#   SEED_ROOT=DIR: a store that already holds node:18, nginx:latest and postgres:15 (samples/images/build.sh); by
#   default they are built into BENCH_DIR. PARTS=pull or PARTS=stack runs one part. The pulls go to a tmpfs (TMPFS=0:
#   the disk, where file creation slows 10-30x for minutes after large deletes, so rounds after the first mislead).
set -euo pipefail
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BENCH=${BENCH_DIR:-/var/tmp/containers-bench}
WORK=$BENCH/course-app
export DEBIAN_FRONTEND=noninteractive
need=()
for t in podman podman-compose runc docker-registry mmdebstrap curl; do command -v $t >/dev/null || need+=($t); done
[ -x /usr/lib/podman/netavark ] || need+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || need+=(aardvark-dns) # service names on podman's networks
[ -x /usr/sbin/iptables ] || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q
  made=0; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made=1; fi
  apt-get install -y -q --no-install-recommends "${need[@]}"
  if [ "$made" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
CLI="$BENCH/cli/containers"
if [ ! -x "$CLI" ] || [ -n "${REBUILD:-}" ]; then dotnet publish "$HERE/samples/Cli" -c Release -o "$BENCH/cli" >/dev/null; fi
SEED=${SEED_ROOT:-$BENCH/seed-images}
"$HERE/samples/images/build.sh" "$CLI" "$SEED" >/dev/null

rm -rf "$WORK"; mkdir -p "$WORK"
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
P="podman --root $WORK/proot --runroot $WORK/prun --storage-driver vfs --cgroup-manager cgroupfs"
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n[network]\nnetwork_backend = "netavark"\n' "$(ulimit -Hn)" "$(ulimit -Hn)" > "$CONTAINERS_CONF"
printf '[storage]\ndriver = "vfs"\nrunroot = "%s"\ngraphroot = "%s"\n' "$WORK/prun" "$WORK/proot" > "$CONTAINERS_STORAGE_CONF"
REGPID=
had_netavark=$(iptables -S 2>/dev/null | grep -c '^-N NETAVARK' || true)
# podman's netavark leaves its global chains behind; they go if this run made them
remove_netavark_chains() {
  iptables -D FORWARD -m comment --comment "netavark firewall plugin rules" -j NETAVARK_FORWARD 2>/dev/null
  iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT 2>/dev/null
  iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT 2>/dev/null
  iptables -t nat -D POSTROUTING -j NETAVARK-HOSTPORT-MASQ 2>/dev/null
  for c in $(iptables -S | awk '$1 == "-N" && $2 ~ /^NETAVARK/ {print $2}'); do iptables -F "$c"; iptables -X "$c"; done
  for c in $(iptables -t nat -S | awk '$1 == "-N" && $2 ~ /^NETAVARK/ {print $2}'); do iptables -t nat -F "$c"; done
  for c in $(iptables -t nat -S | awk '$1 == "-N" && $2 ~ /^NETAVARK/ {print $2}'); do iptables -t nat -X "$c"; done
}
cleanup() {
  set +e
  [ -d "$WORK/ours" ] && (cd "$WORK/ours" && "$CLI" --root "$WORK/root" compose down >/dev/null 2>&1)
  [ -d "$WORK/theirs" ] && (cd "$WORK/theirs" && podman-compose down >/dev/null 2>&1)
  $P rm -af >/dev/null 2>&1; $P network rm -f course-network >/dev/null 2>&1
  [ -n "$REGPID" ] && kill "$REGPID" 2>/dev/null && wait "$REGPID" 2>/dev/null
  "$CLI" --root "$WORK/root" network prune -f --default-bridge >/dev/null 2>&1 # the default bridge and its NAT rules
  [ "$had_netavark" = 0 ] && remove_netavark_chains
  mountpoint -q "$WORK/pulls" && umount "$WORK/pulls"
  rm -rf "$WORK"
  for h in /sys/fs/cgroup/*/containers-dotnet; do rmdir "$h" 2>/dev/null; done
}
trap cleanup EXIT

# 1. The registry, holding node:18 as docker.io's mirror would.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/registry"
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:%s}\n' "$WORK/registry/data" "$PORT" > "$WORK/registry/config.yml"
docker-registry serve "$WORK/registry/config.yml" >/dev/null 2>&1 &
REGPID=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.05; done
NODE="127.0.0.1:$PORT/library/node:18"
"$CLI" --root "$SEED" tag docker.io/library/node:18 "$NODE"
"$CLI" --root "$SEED" push "$NODE" >/dev/null
"$CLI" --root "$SEED" rmi "$NODE" >/dev/null
PARTS=${PARTS:-pull stack}
declare -A times
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
timed() { # name, command...
  local name=$1; shift
  local start end; start=$(date +%s%N); "$@" >/dev/null 2>&1; end=$(date +%s%N)
  times[$name]+="$(( (end - start) / 1000000 )) "
}
if [[ $PARTS == *pull* ]]; then
if [ "${TMPFS:-1}" = 1 ]; then mkdir -p "$WORK/pulls" && mount -t tmpfs -o size=6g tmpfs "$WORK/pulls"; else mkdir -p "$WORK/pulls"; fi
for r in $(seq "$ROUNDS"); do
  rm -rf "$WORK/pulls/ours" "$WORK/pulls/podman"; sync; sleep 1
  timed "containers pull" "$CLI" --root "$WORK/pulls/ours" pull -q "$NODE"
  sync; sleep 1
  if [ "$r" = 1 ]; then SIZE=$(du -sb "$WORK/pulls/ours" | cut -f1); FILES=$(find "$WORK/pulls/ours" -xdev | wc -l); fi
  timed "podman pull" podman --root "$WORK/pulls/podman" --runroot "$WORK/pulls/prun" --storage-driver vfs pull -q --tls-verify=false "$NODE"
done
rm -rf "$WORK/pulls/ours" "$WORK/pulls/podman" "$WORK/pulls/prun"
mountpoint -q "$WORK/pulls" && umount "$WORK/pulls"
fi

# 2. The stack: warm images in both stores (the backend's and frontend's built once, podman's by podman build).
if [[ $PARTS == *stack* ]]; then
for who in ours theirs; do cp -r "$HERE/samples/CourseApp" "$WORK/$who"; rm -rf "$WORK/$who/postgres-data"; done
"$CLI" --root "$SEED" save docker.io/library/nginx:latest docker.io/library/postgres:15 docker.io/library/node:18 > "$WORK/base.tar"
"$CLI" --root "$WORK/root" load -q -i "$WORK/base.tar" >/dev/null
$P load -q -i "$WORK/base.tar" >/dev/null
rm -f "$WORK/base.tar"
(cd "$WORK/ours" && "$CLI" --root "$WORK/root" compose build >/dev/null 2>&1)
for s in backend frontend; do $P build -q -t "localhost/course-app-$s:1" "$WORK/theirs/$s" >/dev/null; done
OURS="$CLI --root $WORK/root compose"
serving() { for _ in $(seq 600); do curl -sf -X POST -H 'Content-Type: application/json' -d '{"item":"bench"}' http://127.0.0.1:8080/api/orders >/dev/null && return 0; sleep 0.1; done; return 1; }
up_ours() { cd "$WORK/ours" && $OURS up -d --wait && serving; }
up_theirs() { cd "$WORK/theirs" && CONTAINERS_CONF=$CONTAINERS_CONF podman-compose up -d && serving; }
# a first cycle each: the databases initialise on their bind volumes (warm from here on), and both stacks serve
up_ours >/dev/null 2>&1 || { echo "our stack did not serve" >&2; exit 1; }; (cd "$WORK/ours" && $OURS down >/dev/null 2>&1)
up_theirs >/dev/null 2>&1 || { echo "podman-compose's stack did not serve" >&2; exit 1; }; (cd "$WORK/theirs" && podman-compose down >/dev/null 2>&1)
for r in $(seq "$ROUNDS"); do
  timed "containers compose up" up_ours; (cd "$WORK/ours" && $OURS down >/dev/null 2>&1)
  timed "podman-compose up" up_theirs; (cd "$WORK/theirs" && podman-compose down >/dev/null 2>&1)
done

fi

printf 'node:18: our store after the pull %s bytes, %s files and directories; %s interleaved rounds\n' "${SIZE:-?}" "${FILES:-?}" "$ROUNDS"
for name in "containers pull" "podman pull" "containers compose up" "podman-compose up"; do
  [ -n "${times[$name]:-}" ] || continue
  printf '%-24s median %6d ms   (%s)\n' "$name" "$(echo "${times[$name]}" | median)" "${times[$name]}"
done
