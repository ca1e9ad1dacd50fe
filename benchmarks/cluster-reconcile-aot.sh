#!/bin/bash
# The 10,000-pod reconcile of the issue's benchmark, on the control plane compiled NativeAOT with server GC and DATAS
# off, as `containers cluster up` runs it (the JIT'd `cluster-reconcile` mode of Containers.Benchmarks adds JIT time).
# usage: benchmarks/cluster-reconcile-aot.sh [RUNS] [PODS] [NODES]   (default 5 10000 100)
# Prints every run's report line and the medians. Each run uses its own store directory under /dev/shm and removes it.
set -euo pipefail
runs=${1:-5} pods=${2:-10000} nodes=${3:-100}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/cluster-reconcile-aot.XXXXXX)
trap 'rm -rf "$out"' EXIT
dotnet publish "$here/ClusterReconcile.Aot/ClusterReconcile.Aot.csproj" -c Release -o "$out" -v quiet -nologo >"$out/publish.log" 2>&1 \
  || { cat "$out/publish.log" >&2; echo "cluster-reconcile-aot.sh: the publish failed" >&2; exit 1; }
for i in $(seq "$runs"); do
  "$out/ClusterReconcile.Aot" "$pods" "$nodes" | tee "$out/run.txt" | grep -E "all Running|GC:|live heap|pod object|FAILED"
  sed -nE 's/.*all Running after ([0-9]+) ms.*/\1/p' "$out/run.txt" >> "$out/times"
  sed -nE 's/.*paused ([0-9]+) ms.*CPU ([0-9.]+) s.*/\1 \2/p' "$out/run.txt" >> "$out/gc"
done
python3 - "$out/times" "$out/gc" <<'PY'
import statistics, sys
t = [int(x) for x in open(sys.argv[1]).read().split()]
g = [l.split() for l in open(sys.argv[2]) if l.strip()]
print(f"median of {len(t)} runs: all Running after {statistics.median(t):.0f} ms (min {min(t)}, max {max(t)}); "
      f"GC pauses {statistics.median(int(x[0]) for x in g):.0f} ms; CPU {statistics.median(float(x[1]) for x in g):.1f} s")
PY
