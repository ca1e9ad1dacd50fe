#!/usr/bin/env bash
# Side by side, in one run: /bin/true in a container through the `containers` CLI and through crun, on the
# same busybox rootfs, both with their own pid/mount/uts/ipc/net/cgroup namespaces and no network set up.
# Installs crun, hyperfine and busybox-static when missing. Usage: benchmarks/run-true.sh [runs]
# CLI=DIR uses a CLI published there before (dotnet publish samples/Cli -c Release -o DIR) instead of publishing one.
# CLI_B=DIR2 adds a second published CLI to the same hyperfine run (an A/B of two builds, interleaved with crun);
# the medians and their ratio to crun's are printed after the table.
# CONTAINERS_TRACE=1 on one run prints where its time goes (the CLI's milestones and each start step).
set -euo pipefail
runs=${1:-50}
need=()
for t in crun hyperfine; do command -v $t >/dev/null || need+=($t); done
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"; fi
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/containers-bench-XXXXXX)
# the CLI's runs leave the engines' shared cgroup parents (containers-dotnet under each hierarchy): removed once empty
cleanup() { rm -rf "$work"; for p in /sys/fs/cgroup/*/containers-dotnet; do [ -d "$p" ] && rmdir "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
cli=${CLI:-$work/cli}
[ -n "${CLI:-}" ] || dotnet publish "$here/samples/Cli/Cli.csproj" -c Release -o "$cli" >/dev/null
mkdir -p "$work/bundle/rootfs/bin"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
(cd "$work/bundle" && crun spec && sed -i 's/"terminal": true/"terminal": false/; s#"sh"#"/bin/true"#' config.json)
# crun 1.8 refuses a cgroup2 hierarchy that holds a controller: keep hugetlb on v1 (see shared/PEERS.md)
# (mounted for the run and unmounted after it: a fresh machine of this kind has no v1 hugetlb)
if ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mountinfo; then
  mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb
  trap 'cleanup; umount /sys/fs/cgroup/hugetlb; rmdir /sys/fs/cgroup/hugetlb' EXIT
fi
second=()
[ -n "${CLI_B:-}" ] && second=(-n "containers run (CLI_B)" "$CLI_B/containers --root $work/root-b run --rm --network none --rootfs $work/bundle/rootfs /bin/true")
hyperfine --warmup 5 --runs "$runs" --export-markdown "$work/result.md" --export-json "$work/result.json" \
  -n "containers run (CLI)" "$cli/containers --root $work/root run --rm --network none --rootfs $work/bundle/rootfs /bin/true" \
  "${second[@]}" \
  -n "crun run" "crun --root $work/crun run --bundle $work/bundle bench-\$RANDOM\$RANDOM"
cat "$work/result.md"
python3 - "$work/result.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
crun = next(r for r in results if r["command"] == "crun run")["median"]
print("medians: " + "; ".join(f"{r['command']} {r['median'] * 1000:.1f} ms ({r['median'] / crun:.2f}x crun)" for r in results))
PY
