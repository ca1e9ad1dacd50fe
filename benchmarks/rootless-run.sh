#!/usr/bin/env bash
# Rootless, side by side in interleaved pairs: /bin/true in a container through the `containers` CLI (NativeAOT) and
# through rootless podman (runc, cgroupfs: nothing is delegated here), both as the ordinary user containers-rootless
# (tests/run.sh makes it, with subordinate ids), on the same user-owned busybox rootfs, --network none.
# Needs: apt-get install -y podman runc busybox-static uidmap. Usage (as root): benchmarks/rootless-run.sh [runs]
# (CONTAINERS_CLI=PATH/containers: a CLI published before, instead of publishing one).
set -euo pipefail
runs=${1:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
user=containers-rootless
uid=$(id -u $user) gid=$(id -g $user)
work=$(mktemp -d /tmp/rlb-XXXXXX) # short: conmon's sockets under it must fit a unix socket path (108 bytes)
cleanup() {
  # the pause process of this run's namespace (ours: started by the CLI as the user), then the files
  if [ -f "$work/run/containers-dotnet/pause.pid" ]; then kill "$(cat "$work/run/containers-dotnet/pause.pid")" 2>/dev/null || true; fi
  if [ -f "$work/run/libpod/tmp/pause.pid" ]; then kill -9 "$(cat "$work/run/libpod/tmp/pause.pid")" 2>/dev/null || true; fi
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${CONTAINERS_CLI:-}" ]; then cp -r "$(dirname "$CONTAINERS_CLI")" "$work/cli"; else
  dotnet publish "$here/samples/Cli/Cli.csproj" -c Release -o "$work/cli" >/dev/null
  dotnet build-server shutdown >/dev/null 2>&1 || true # its servers would hold this script's output open meanwhile
fi
mkdir -p "$work/rootfs/bin" "$work/run"
cp /bin/busybox "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/true"
chown -R "$uid:$gid" "$work"
chmod 700 "$work/run"
as_user() { env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME="$work" XDG_RUNTIME_DIR="$work/run" setpriv --reuid="$uid" --regid="$gid" --init-groups "$@"; }
cd "$work"
# Interleaved pairs, each timed from exec to exit.
as_user sh -c '
  for i in $(seq 1 '"$runs"'); do
    a=$(date +%s%N); '"$work"'/cli/containers run --rm --network none --rootfs '"$work"'/rootfs /bin/true >/dev/null 2>&1; b=$(date +%s%N)
    podman --runtime runc --cgroup-manager cgroupfs run --rm --network none --rootfs '"$work"'/rootfs /bin/true </dev/null >/dev/null 2>>'"$work"'/podman.err; c=$(date +%s%N)
    echo "$(( (b - a) / 1000 )) $(( (c - b) / 1000 ))"
  done' > "$work/pairs"
sort -n -k1 "$work/pairs" | awk '{ a[NR] = $1 } END { printf "containers run (rootless CLI): median %.1f ms\n", a[int((NR + 1) / 2)] / 1000 }'
sort -n -k2 "$work/pairs" | awk '{ a[NR] = $2 } END { printf "podman run (rootless, runc): median %.1f ms\n", a[int((NR + 1) / 2)] / 1000 }'
awk '{ printf "%.4f\n", $1 / $2 }' "$work/pairs" | sort -n | awk '{ r[NR] = $1 } END { printf "ours/podman per pair: median %.2fx\n", r[int((NR + 1) / 2)] }'
