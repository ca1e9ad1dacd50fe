#!/usr/bin/env bash
# devcontainer up, cold and warm, for an image-plus-feature configuration: ours (`containers devcontainer up`) against
# @devcontainers/cli with the docker CLI on our Docker API socket (`containers system service`), same store.
#   cold: no container, features image not built (each round in a fresh store with the base image imported)
#   warm: the container exists and runs (up reuses it; lifecycle markers make the create-time commands no-ops)
# Usage: benchmarks/devcontainer-up.sh CONTAINERS_CLI DEVCONTAINER_CLI [ROUNDS]   (as root; busybox-static needed)
set -euo pipefail
cli=$1 ref=$2 rounds=${3:-5}
work=$(mktemp -d /tmp/devcontainer-bench.XXXXXX)
export CONTAINERS_BRIDGE=cdbench0 CONTAINERS_BRIDGE_SUBNET=10.216.0.0/24 CONTAINERS_MACHINE_STATE=$work/state
service_pid=
cleanup() {
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && wait "$service_pid" 2>/dev/null || true
  for root in "$work"/root-*; do [ -d "$root" ] && "$cli" --root "$root" rm -f $("$cli" --root "$root" ps -aq) >/dev/null 2>&1 || true; done
  ip link del cdbench0 2>/dev/null || true
  # the bridge's NAT and forwarding rules (the engine's, marked with its name) go with it
  for table in filter nat; do
    iptables -t "$table" -S 2>/dev/null | grep -F 'containers-dotnet-net:cdbench0' | sed 's/^-A /-D /' | while read -r rule; do eval "iptables -t $table $rule" || true; done
  done
  rm -rf "$work"
}
trap cleanup EXIT
# the busybox image
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/root"
cp /bin/busybox "$work/rootfs/bin/"; for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$work/rootfs/etc/passwd"; printf 'root:x:0:\n' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
ws() { # a workspace with a local feature
  mkdir -p "$1/.devcontainer/hello"
  printf '{ "id": "hello", "version": "1.0.0", "options": { "greeting": { "type": "string", "default": "hi" } } }\n' > "$1/.devcontainer/hello/devcontainer-feature.json"
  printf '#!/bin/sh\nmkdir -p /usr/local/bin; printf "#!/bin/sh\\necho $GREETING\\n" > /usr/local/bin/hello; chmod +x /usr/local/bin/hello\n' > "$1/.devcontainer/hello/install.sh"
  printf '{ "image": "localhost/bench:1", "features": { "./hello": {} }, "postCreateCommand": "hello > /tmp/created" }\n' > "$1/.devcontainer/devcontainer.json"
}
store() { # a fresh store with the base image
  mkdir -p "$1"; "$cli" --root "$1" import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/usr/local/bin:/bin' "$work/busybox.tar" localhost/bench:1 >/dev/null
}
ms() { local s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; echo $(( ($(date +%s%N) - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A r
for i in $(seq "$rounds"); do
  # ours, cold then warm
  root=$work/root-ours-$i; store "$root"; ws "$work/ws-ours-$i"
  r[ours_cold]+="$(ms "$cli" --root "$root" devcontainer up --workspace-folder "$work/ws-ours-$i") "
  r[ours_warm]+="$(ms "$cli" --root "$root" devcontainer up --workspace-folder "$work/ws-ours-$i") "
  "$cli" --root "$root" devcontainer down --workspace-folder "$work/ws-ours-$i" >/dev/null 2>&1
  # the reference, on our API over the same kind of store
  root=$work/root-ref-$i; store "$root"; ws "$work/ws-ref-$i"
  "$cli" --root "$root" system service --socket "$work/docker-$i.sock" >/dev/null 2>&1 & service_pid=$!
  for _ in $(seq 100); do [ -S "$work/docker-$i.sock" ] && break; sleep 0.1; done
  export DOCKER_HOST=unix://$work/docker-$i.sock DOCKER_CONFIG=$work
  r[ref_cold]+="$(ms "$ref" up --workspace-folder "$work/ws-ref-$i") "
  r[ref_warm]+="$(ms "$ref" up --workspace-folder "$work/ws-ref-$i") "
  "$cli" --root "$root" rm -f $("$cli" --root "$root" ps -aq) >/dev/null 2>&1 || true
  kill "$service_pid"; wait "$service_pid" 2>/dev/null || true; service_pid=
done
for k in ours_cold ref_cold ours_warm ref_warm; do
  echo "$k: median $(echo ${r[$k]} | tr ' ' '\n' | median) ms (rounds: ${r[$k]})"
done
